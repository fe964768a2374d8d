"""The MQTT wire format, version 1 (standard library only; the edge agent imports it).

Topics are ``<prefix>/v1/<site>/<asset>/<kind>`` with ``kind`` one of:

``telemetry``
    A batch of readings from one asset: ``{"asset": str, "seq": int, "readings":
    [[ts_ms, sensor, value], ...]}``. ``seq`` increases by one per batch and per asset, so
    (asset, seq) names a batch exactly once; ``ts_ms`` is the reading's own time in integer
    milliseconds since the Unix epoch (UTC); ``value`` is a finite number.
``status``
    Retained birth (``"state": "online"``) and last-will death (``"state": "offline"``) with
    agent version, firmware, config hash and installed components.
``events``
    One asset event: maintenance, part replaced, failure or controller error, with a unique
    ``event_id`` so a redelivered event is stored once.
``config``
    Retained, server to edge: the agent's remote configuration.
``receipt``
    Server to edge, after ingest committed: ``{"ts": int, "seqs": [int], "events": [str],
    "dead_letters": int}`` names the telemetry batches (by ``seq``) and events (by
    ``event_id``) of one asset that are now in the database, ``dead_letters`` of them kept in
    the dead-letter table with a reason. The edge agent deletes a spooled message only when a
    receipt names it (a broker's PUBACK only says the broker took it), so nothing the broker
    loses (a crash, a queue limit, no subscriber) is lost.

The JSON Schemas in ``wire_schema/`` document the same rules; :func:`decode_batch` checks them
with plain code because it runs once per message on the ingest hot path. Every decoding
failure raises :class:`WireError` whose message is the reason kept with a dead letter.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EVENT_KINDS",
    "MAX_PAYLOAD_BYTES",
    "MAX_READINGS_PER_BATCH",
    "SERVER_TO_EDGE_KINDS",
    "TOPIC_KINDS",
    "WIRE_VERSION",
    "AssetEvent",
    "AssetStatus",
    "Reading",
    "Receipt",
    "TelemetryBatch",
    "TopicAddress",
    "WireError",
    "decode_batch",
    "decode_event",
    "decode_receipt",
    "decode_status",
    "encode_batch",
    "encode_event",
    "encode_receipt",
    "encode_status",
    "parse_topic",
    "topic_for",
]

WIRE_VERSION = "v1"
TOPIC_KINDS = ("telemetry", "status", "events", "config", "receipt")
#: Topics the server publishes and a device subscribes to.
SERVER_TO_EDGE_KINDS = ("config", "receipt")
EVENT_KINDS = ("maintenance", "part_replaced", "failure", "controller_error")
MAX_PAYLOAD_BYTES = 1_048_576
MAX_READINGS_PER_BATCH = 20_000
MAX_NAME_CHARS = 64
#: Readings older than this (2000-01-01) are rejected as far past.
MIN_TS_MS = 946_684_800_000
#: Readings further than this ahead of the receiver's clock are rejected as far future.
MAX_FUTURE_MS = 24 * 3600 * 1000

Reading = tuple[int, str, float]


class WireError(ValueError):
    """A message does not follow the wire format; ``str(error)`` says what and where."""


@dataclass(frozen=True, slots=True)
class TopicAddress:
    """The parts of a v1 topic."""

    prefix: str
    site: str
    asset: str
    kind: str


@dataclass(slots=True)
class TelemetryBatch:
    """One batch of readings from one asset, identified by ``(asset, seq)``."""

    asset: str
    seq: int
    readings: list[Reading]


@dataclass(slots=True)
class AssetStatus:
    """A birth (``online``) or death (``offline``) message of an asset's agent."""

    state: str
    ts_ms: int
    agent_version: str | None = None
    firmware: str | None = None
    config_hash: str | None = None
    components: list[dict[str, str]] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AssetEvent:
    """Something that happened to an asset, reported by its agent."""

    event_id: str
    ts_ms: int
    kind: str
    component_type: str | None = None
    part_no: str | None = None
    serial_removed: str | None = None
    serial_installed: str | None = None
    code: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Receipt:
    """What ingest committed of one asset's messages (see ``receipt`` above)."""

    seqs: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    dead_letters: int = 0
    ts_ms: int = 0


def topic_for(prefix: str, site: str, asset: str, kind: str) -> str:
    """The v1 topic of ``kind`` for one asset."""
    if kind not in TOPIC_KINDS:
        raise WireError(f"unknown topic kind {kind!r}")
    for name, part in (("site", site), ("asset", asset)):
        _check_topic_level(name, part)
    return f"{prefix}/{WIRE_VERSION}/{site}/{asset}/{kind}"


def parse_topic(topic: str, prefix: str) -> TopicAddress:
    """Split a v1 topic into its parts, or raise :class:`WireError` naming what is wrong."""
    parts = topic.split("/")
    if len(parts) != 5:
        raise WireError(f"topic {topic!r}: expected {prefix}/v1/<site>/<asset>/<kind>")
    got_prefix, version, site, asset, kind = parts
    if got_prefix != prefix:
        raise WireError(f"topic {topic!r}: prefix is not {prefix!r}")
    if version != WIRE_VERSION:
        raise WireError(f"topic {topic!r}: unsupported wire version {version!r}")
    if kind not in TOPIC_KINDS:
        raise WireError(f"topic {topic!r}: unknown kind {kind!r}")
    if not site or not asset:
        raise WireError(f"topic {topic!r}: empty site or asset")
    return TopicAddress(prefix, site, asset, kind)


def encode_batch(batch: TelemetryBatch) -> bytes:
    """Serialise a batch as compact JSON (UTF-8)."""
    return json.dumps(
        {"asset": batch.asset, "seq": batch.seq, "readings": batch.readings},
        separators=(",", ":"),
        allow_nan=False,
    ).encode()


def decode_batch(payload: bytes, now_ms: int | None = None) -> TelemetryBatch:
    """Parse and validate a telemetry payload.

    Checks size, UTF-8, JSON syntax, field types, that ``seq`` is a non-negative integer,
    that every value is a finite number, that names are short printable strings and that
    timestamps lie between 2000-01-01 and one day past ``now_ms`` (default: the clock).
    """
    doc = _load_object(payload)
    asset = _name(doc.get("asset"), "asset")
    seq = doc.get("seq")
    if type(seq) is not int or seq < 0 or seq >= 2**63:
        raise WireError("seq: must be an integer between 0 and 2^63-1")
    raw = doc.get("readings")
    if not isinstance(raw, list) or not raw:
        raise WireError("readings: must be a non-empty array")
    if len(raw) > MAX_READINGS_PER_BATCH:
        raise WireError(f"readings: {len(raw)} readings, more than {MAX_READINGS_PER_BATCH}")
    latest = (now_ms if now_ms is not None else int(time.time() * 1000)) + MAX_FUTURE_MS
    readings = _fast_readings(raw, latest)
    if readings is None:
        readings = _checked_readings(raw, latest)
    return TelemetryBatch(asset, seq, readings)


def _fast_readings(raw: list[Any], latest: int) -> list[Reading] | None:
    """Validate a whole batch column-wise at C speed; ``None`` when any check fails.

    The per-reading loop of :func:`_checked_readings` then finds the first bad reading and
    its reason, so both paths accept and reject exactly the same batches.
    """
    if set(map(type, raw)) != {list} or set(map(len, raw)) != {3}:
        return None
    ts, sensors, values = zip(*raw, strict=True)
    if set(map(type, ts)) != {int} or min(ts) < MIN_TS_MS or max(ts) > latest:
        return None
    if set(map(type, sensors)) != {str}:
        return None
    for name in set(sensors):
        if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
            return None
    value_types = set(map(type, values))
    if not value_types <= {int, float}:
        return None
    if int in value_types:
        try:
            values = tuple(map(float, values))
        except OverflowError:
            return None
    if not all(map(math.isfinite, values)):
        return None
    return list(zip(ts, sensors, values, strict=True))


def _checked_readings(raw: list[Any], latest: int) -> list[Reading]:
    readings: list[Reading] = []
    known_sensors: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, list) or len(item) != 3:
            raise WireError(f"readings[{i}]: must be [ts_ms, sensor, value]")
        ts, sensor, value = item
        if type(ts) is not int:
            raise WireError(f"readings[{i}]: timestamp must be integer milliseconds")
        if ts < MIN_TS_MS:
            raise WireError(f"readings[{i}]: timestamp {ts} is before 2000-01-01")
        if ts > latest:
            raise WireError(f"readings[{i}]: timestamp {ts} is more than a day in the future")
        if type(sensor) is not str or sensor not in known_sensors:
            _name(sensor, f"readings[{i}].sensor")
            known_sensors.add(sensor)
        if type(value) is int:
            try:
                value = float(value)
            except OverflowError:
                raise WireError(f"readings[{i}]: value is out of range") from None
        if type(value) is not float or not math.isfinite(value):
            raise WireError(f"readings[{i}]: value must be a finite number")
        readings.append((ts, sensor, value))
    return readings


def encode_status(status: AssetStatus) -> bytes:
    """Serialise a birth or death message."""
    return json.dumps(
        {
            "state": status.state,
            "ts": status.ts_ms,
            "agent_version": status.agent_version,
            "firmware": status.firmware,
            "config_hash": status.config_hash,
            "components": status.components,
            "detail": status.detail,
        },
        separators=(",", ":"),
    ).encode()


def decode_status(payload: bytes, now_ms: int | None = None) -> AssetStatus:
    """Parse and validate a status message (``ts`` at most one day past ``now_ms``,
    default: the clock)."""
    doc = _load_object(payload)
    state = doc.get("state")
    if state not in ("online", "offline"):
        raise WireError("state: must be 'online' or 'offline'")
    components = doc.get("components") or []
    if not isinstance(components, list) or not all(
        isinstance(c, dict) and isinstance(c.get("component_type"), str) for c in components
    ):
        raise WireError("components: must be an array of objects with a component_type")
    for c in components:
        for key, value in c.items():
            if not isinstance(value, str) or len(value) > 256:
                raise WireError(f"components[].{key}: must be a string of at most 256 characters")
            _storable_text(key + value, f"components[].{key}")
    return AssetStatus(
        state=state,
        ts_ms=_timestamp(doc.get("ts"), "ts", now_ms),
        agent_version=_optional_str(doc, "agent_version"),
        firmware=_optional_str(doc, "firmware"),
        config_hash=_optional_str(doc, "config_hash"),
        components=components,
        detail=_optional_object(doc, "detail"),
    )


def encode_event(event: AssetEvent) -> bytes:
    """Serialise an asset event."""
    return json.dumps(
        {
            "event_id": event.event_id,
            "ts": event.ts_ms,
            "kind": event.kind,
            "component_type": event.component_type,
            "part_no": event.part_no,
            "serial_removed": event.serial_removed,
            "serial_installed": event.serial_installed,
            "code": event.code,
            "detail": event.detail,
        },
        separators=(",", ":"),
    ).encode()


def decode_event(payload: bytes, now_ms: int | None = None) -> AssetEvent:
    """Parse and validate an asset event (``ts`` at most one day past ``now_ms``, default:
    the clock)."""
    doc = _load_object(payload)
    kind = doc.get("kind")
    if kind not in EVENT_KINDS:
        raise WireError(f"kind: must be one of {', '.join(EVENT_KINDS)}")
    return AssetEvent(
        event_id=_name(doc.get("event_id"), "event_id"),
        ts_ms=_timestamp(doc.get("ts"), "ts", now_ms),
        kind=kind,
        component_type=_optional_str(doc, "component_type"),
        part_no=_optional_str(doc, "part_no"),
        serial_removed=_optional_str(doc, "serial_removed"),
        serial_installed=_optional_str(doc, "serial_installed"),
        code=_optional_str(doc, "code"),
        detail=_optional_object(doc, "detail"),
    )


def encode_receipt(receipt: Receipt) -> bytes:
    """Serialise a commit receipt."""
    return json.dumps(
        {"ts": receipt.ts_ms, "seqs": receipt.seqs, "events": receipt.events,
         "dead_letters": receipt.dead_letters},
        separators=(",", ":"),
    ).encode()


def decode_receipt(payload: bytes) -> Receipt:
    """Parse and validate a commit receipt.

    >>> decode_receipt(encode_receipt(Receipt([7, 8], ["e-1"], 1, 1_700_000_000_000)))
    Receipt(seqs=[7, 8], events=['e-1'], dead_letters=1, ts_ms=1700000000000)
    >>> decode_receipt(b'{"seqs": [-1]}')
    Traceback (most recent call last):
    ...
    assetwatch.core.wire.WireError: seqs: must be an array of integers between 0 and 2^63-1
    """
    doc = _load_object(payload)
    seqs = doc.get("seqs") or []
    if not isinstance(seqs, list) or not all(
            type(s) is int and 0 <= s < 2**63 for s in seqs):
        raise WireError("seqs: must be an array of integers between 0 and 2^63-1")
    events = doc.get("events") or []
    if not isinstance(events, list):
        raise WireError("events: must be an array of event ids")
    for i, event_id in enumerate(events):
        _name(event_id, f"events[{i}]")
    dead = doc.get("dead_letters", 0)
    if type(dead) is not int or dead < 0:
        raise WireError("dead_letters: must be a non-negative integer")
    ts = doc.get("ts", 0)
    if type(ts) is not int or ts < 0:
        raise WireError("ts: must be integer milliseconds")
    return Receipt(seqs, events, dead, ts)


def _reject_constant(name: str) -> None:
    raise WireError(f"payload: {name} is not a number JSON allows")


def _load_object(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload: {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise WireError(f"payload: not UTF-8 at byte {e.start}") from None
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except WireError:
        raise
    except (ValueError, RecursionError) as e:
        raise WireError(f"payload: not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise WireError("payload: must be a JSON object")
    return doc


def _check_topic_level(what: str, value: str) -> None:
    if not value or any(ch in value for ch in "/+#\x00"):
        raise WireError(f"{what} {value!r}: must be non-empty without '/', '+', '#'")


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise WireError(f"{where}: must be a non-empty string")
    if len(value) > MAX_NAME_CHARS:
        raise WireError(f"{where}: longer than {MAX_NAME_CHARS} characters")
    if not value.isprintable():
        raise WireError(f"{where}: contains control characters")
    return value


def _timestamp(value: object, where: str, now_ms: int | None = None) -> int:
    if type(value) is not int or value < MIN_TS_MS:
        raise WireError(f"{where}: must be integer milliseconds after 2000-01-01")
    if value > (now_ms if now_ms is not None else int(time.time() * 1000)) + MAX_FUTURE_MS:
        raise WireError(f"{where}: more than a day in the future")
    return value


def _optional_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 256:
        raise WireError(f"{key}: must be a string of at most 256 characters")
    _storable_text(value, key)
    return value


def _optional_object(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WireError(f"{key}: must be an object")
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (ValueError, RecursionError) as e:
        raise WireError(f"{key}: cannot be stored ({e})") from None
    if "\\u0000" in text.replace("\\\\", ""):
        raise WireError(f"{key}: contains a NUL character")
    _storable_text(text, key)
    return value


def _storable_text(value: str, where: str) -> None:
    """Reject what PostgreSQL text and jsonb cannot hold: NUL and unpaired surrogates."""
    if "\x00" in value:
        raise WireError(f"{where}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise WireError(f"{where}: contains an unpaired surrogate") from None
