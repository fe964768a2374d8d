"""Remote configuration of one asset, read from its retained ``.../config`` topic.

The payload follows ``assetwatch/core/wire_schema/config.v1.json`` (checked here with plain
code; the edge has no jsonschema): ``sampling_interval_s``, ``batch_max_readings``,
``batch_max_age_s``, ``batch_max_bytes`` and ``sensors_enabled``, all optional, nothing else.
An empty payload (the retained message was cleared) means "back to the local defaults". A
bad configuration raises :class:`~assetwatch.edge_agent.errors.RemoteConfigError` with the
reason; the agent reports it on the status topic and keeps the configuration it had.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from assetwatch.core.wire import MAX_PAYLOAD_BYTES, MAX_READINGS_PER_BATCH
from assetwatch.edge_agent.errors import RemoteConfigError

__all__ = ["AssetSettings", "apply_remote_config", "config_hash", "document_hash",
           "parse_remote_config"]

_KEYS = ("sampling_interval_s", "batch_max_readings", "batch_max_age_s", "batch_max_bytes",
         "sensors_enabled")


@dataclass(frozen=True)
class AssetSettings:
    """What the agent does for one asset: sampling, batch limits, enabled sensors."""

    sampling_interval_s: float | None = None  # None: the source's own default
    batch_max_readings: int = 1000
    batch_max_bytes: int = 256_000
    batch_max_age_s: float = 5.0
    sensors_enabled: frozenset[str] | None = None  # None: every sensor


def parse_remote_config(payload: bytes, known_sensors: Sequence[str] = ()) -> dict[str, Any]:
    """The validated configuration document, or :class:`RemoteConfigError` with the reason."""
    if not payload:
        return {}
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise RemoteConfigError(f"not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise RemoteConfigError("must be a JSON object")
    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        raise RemoteConfigError(f"unknown key(s) {', '.join(unknown)}")
    if "sampling_interval_s" in doc:
        _number(doc, "sampling_interval_s", 0.001, 86_400.0)
    if "batch_max_age_s" in doc:
        _number(doc, "batch_max_age_s", 0.001, 3600.0)
    if "batch_max_readings" in doc:
        _integer(doc, "batch_max_readings", 1, MAX_READINGS_PER_BATCH)
    if "batch_max_bytes" in doc:
        _integer(doc, "batch_max_bytes", 1024, MAX_PAYLOAD_BYTES - 48_576)
    if "sensors_enabled" in doc:
        sensors = doc["sensors_enabled"]
        if not isinstance(sensors, list) or not all(isinstance(s, str) for s in sensors):
            raise RemoteConfigError("sensors_enabled: must be an array of sensor names")
        if known_sensors:
            strangers = sorted(set(sensors) - set(known_sensors))
            if strangers:
                raise RemoteConfigError(f"sensors_enabled: unknown sensor(s) "
                                        f"{', '.join(strangers)}")
    return doc


def apply_remote_config(defaults: AssetSettings, doc: dict[str, Any]) -> AssetSettings:
    """The local defaults overridden by a validated remote configuration."""
    changes: dict[str, Any] = {k: doc[k] for k in _KEYS if k in doc and k != "sensors_enabled"}
    if "sensors_enabled" in doc:
        changes["sensors_enabled"] = frozenset(doc["sensors_enabled"])
    return replace(defaults, **changes)


def config_hash(local: dict[str, Any], remote: dict[str, Any]) -> str:
    """A short, stable hash of the effective configuration (local file + remote)."""
    text = json.dumps({"local": local, "remote": remote}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def document_hash(doc: dict[str, Any]) -> str:
    """A short, stable hash of one remote configuration document; the agent reports the hash
    of the document it runs with, the server compares it with the one it published.

    >>> document_hash({"batch_max_readings": 500}) == document_hash({"batch_max_readings": 500})
    True
    >>> document_hash({})
    '44136fa355b3678a'
    """
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _number(doc: dict[str, Any], key: str, lo: float, hi: float) -> None:
    value = doc[key]
    if type(value) not in (int, float) or not math.isfinite(value) or not lo <= value <= hi:
        raise RemoteConfigError(f"{key}: must be a number between {lo:g} and {hi:g}")


def _integer(doc: dict[str, Any], key: str, lo: int, hi: int) -> None:
    value = doc[key]
    if type(value) is not int or not lo <= value <= hi:
        raise RemoteConfigError(f"{key}: must be an integer between {lo} and {hi}")
