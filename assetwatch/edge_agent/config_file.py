"""The agent's JSON configuration file (``assetwatch edge run --config FILE``).

Example (every key but ``source`` is optional; relative paths are relative to the file)::

    {
      "prefix": "assetwatch",
      "broker": {"host": "127.0.0.1", "port": 51883, "protocol": "auto",
                 "tls": {"ca": "ca.pem", "cert": "gw.pem", "key": "gw.key"},
                 "keepalive_s": 30, "backoff_min_s": 0.5, "backoff_max_s": 30,
                 "max_inflight": 64},
      "credentials": {"password_file": "passwords.txt"},
      "spool": {"path": "spool.db", "max_bytes": 1073741824,
                "full_policy": "drop_oldest", "sync": "normal"},
      "batch": {"max_readings": 1000, "max_bytes": 256000, "max_age_s": 5},
      "backfill_share": 0.5,
      "delivery": {"confirm": "commit", "confirm_window": 1024, "confirm_timeout_s": 60,
                   "confirm_timeout_max_s": 900, "retry_min_s": 0.5, "retry_max_s": 5},
      "source": {"type": "csv", "path": "pump.csv", "asset": "S01-P001",
                 "site_id": "site-01", "speed": null}
    }

``credentials`` is one of ``{"passwords": {tag: password}}``, ``{"password_file": path}``
(``tag:password`` lines or a JSON object) or ``{"device_key": path}`` (passwords derived as
the local stack does); without it the local stack's device key is used. ``delivery.confirm``
is ``commit`` (a message leaves the spool when ingest's receipt says it is stored) or
``broker`` (when the broker's PUBACK says it took it: for servers without receipts); see
:mod:`assetwatch.edge_agent.publisher` for the rest. ``source.type`` is
``csv``, ``simulator`` (keys ``sites``, ``assets_per_site``, ``days``, ``sample_interval_s``,
``seed``, ``start`` ISO time, ``speed``, ``ground_truth`` path, ``world``: knobs of the
simulated world, see ``assetwatch/sim/README.md``) or ``plugin`` (``class``:
``"module:Class"``, ``options``: keyword arguments).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetwatch.core.source import Source
from assetwatch.edge_agent.agent import AgentOptions
from assetwatch.edge_agent.credentials import derived_passwords, read_password_file
from assetwatch.edge_agent.errors import AgentConfigError
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.edge_agent.plugin import load_plugin
from assetwatch.edge_agent.publisher import CONFIRM_MODES, PublisherOptions
from assetwatch.edge_agent.remote_config import AssetSettings

__all__ = ["SIMULATOR", "AgentSetup", "load_agent_config"]

#: The simulated world's source plug-in (``source.type = "simulator"``), loaded by name.
SIMULATOR = "assetwatch.sim.site:SimulatedSite"


@dataclass
class AgentSetup:
    """A source and the options to run it with, read from a configuration file."""

    source: Source
    options: AgentOptions


def load_agent_config(path: Path) -> AgentSetup:
    """Read and check a configuration file; errors name the file and the key."""
    try:
        doc = json.loads(path.read_text())
    except OSError as e:
        raise AgentConfigError(f"cannot read {path} ({e.strerror})") from None
    except ValueError as e:
        raise AgentConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise AgentConfigError(f"{path}: must be a JSON object")
    base = path.parent
    try:
        return _setup(doc, base)
    except AgentConfigError as e:
        raise AgentConfigError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise AgentConfigError(f"{path}: bad or missing value ({e})") from None


def _path(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    p = Path(value)
    return str(p if p.is_absolute() else base / p)


def _setup(doc: dict[str, Any], base: Path) -> AgentSetup:
    broker = doc.get("broker", {})
    tls = broker.get("tls") or {}
    endpoint = MqttEndpoint(
        host=broker.get("host", "127.0.0.1"), port=int(broker.get("port", 1883)),
        tls_ca=_path(base, tls.get("ca")), tls_cert=_path(base, tls.get("cert")),
        tls_key=_path(base, tls.get("key")), tls_insecure=bool(tls.get("insecure", False)),
        keepalive_s=int(broker.get("keepalive_s", 30)), protocol=broker.get("protocol", "auto"),
        backoff_min_s=float(broker.get("backoff_min_s", 0.5)),
        backoff_max_s=float(broker.get("backoff_max_s", 30.0)),
        max_inflight=int(broker.get("max_inflight", 64)))
    if endpoint.protocol not in ("auto", "5", "3.1.1"):
        raise AgentConfigError("broker.protocol: must be 'auto', '5' or '3.1.1'")
    source_doc = doc.get("source")
    if not isinstance(source_doc, dict):
        raise AgentConfigError("source: missing (an object with a 'type')")
    source = _source(source_doc, base)
    tags = [a.asset_tag for a in source.assets()]
    creds = doc.get("credentials", {})
    if "passwords" in creds:
        passwords = {str(k): str(v) for k, v in creds["passwords"].items()}
    elif "password_file" in creds:
        passwords = read_password_file(Path(_path(base, creds["password_file"]) or ""))
    else:
        key = creds.get("device_key")
        passwords = derived_passwords(tags, Path(_path(base, key) or "") if key else None)
    spool = doc.get("spool", {})
    batch = doc.get("batch", {})
    defaults = AssetSettings(
        batch_max_readings=int(batch.get("max_readings", 1000)),
        batch_max_bytes=int(batch.get("max_bytes", 256_000)),
        batch_max_age_s=float(batch.get("max_age_s", 5.0)))
    local = {k: v for k, v in doc.items() if k != "credentials"}
    options = AgentOptions(
        endpoint=endpoint, spool_path=Path(_path(base, spool.get("path", "spool.db")) or ""),
        prefix=doc.get("prefix", "assetwatch"), passwords=passwords,
        spool_max_bytes=int(spool.get("max_bytes", 1 << 30)),
        spool_full_policy=spool.get("full_policy", "drop_oldest"),
        spool_sync=spool.get("sync", "normal"), defaults=defaults,
        backfill_share=float(doc.get("backfill_share", 0.5)), local_config=local,
        delivery=_delivery(doc.get("delivery", {})))
    if options.spool_sync not in ("normal", "full"):
        raise AgentConfigError("spool.sync: must be 'normal' or 'full'")
    return AgentSetup(source, options)


def _delivery(doc: dict[str, Any]) -> PublisherOptions:
    if not isinstance(doc, dict):
        raise AgentConfigError("delivery: must be an object")
    confirm = doc.get("confirm", "commit")
    if confirm not in CONFIRM_MODES:
        raise AgentConfigError(f"delivery.confirm: must be one of {', '.join(CONFIRM_MODES)}")
    numbers = {}
    for key in ("confirm_timeout_s", "confirm_timeout_max_s", "retry_min_s", "retry_max_s"):
        if key in doc:
            numbers[key] = float(doc[key])
            if numbers[key] <= 0:
                raise AgentConfigError(f"delivery.{key}: must be a positive number of seconds")
    if "confirm_window" in doc:
        numbers["confirm_window"] = int(doc["confirm_window"])
    return PublisherOptions(confirm=confirm, **numbers)  # type: ignore[arg-type]


def _source(doc: dict[str, Any], base: Path) -> Source:
    kind = doc.get("type")
    if kind == "csv":
        from assetwatch.edge_agent.csv_replay import CsvReplay

        return CsvReplay(_path(base, doc["path"]) or "", doc["asset"], doc["site_id"],
                         speed=doc.get("speed"), assets=doc.get("assets"))
    if kind == "simulator":
        options = {k: v for k, v in doc.items() if k != "type"}
        if options.get("ground_truth") is not None:
            options["ground_truth"] = _path(base, options["ground_truth"])
        return load_plugin(SIMULATOR, options)
    if kind == "plugin":
        return load_plugin(str(doc.get("class", "")), doc.get("options", {}))
    raise AgentConfigError("source.type: must be 'csv', 'simulator' or 'plugin'")
