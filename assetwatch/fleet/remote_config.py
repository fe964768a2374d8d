"""Remote configuration from the server: desired, published, reported, compared.

An operator sets an asset's desired configuration (:func:`set_desired`); it is checked with
the very rules the edge agent applies (:func:`assetwatch.edge_agent.remote_config.
parse_remote_config`, against the sensors the asset's model declares) before anything is
stored, so a document the agent would reject never leaves the server. :func:`push` publishes
it retained on the asset's ``.../config`` topic (the agent picks it up now or at its next
connection). The agent reports in every birth whether it accepted the document or rejected it
(with the reason) and the hash of the document in force; ingest keeps that in
``asset_config_reported``, and ``v_asset_config`` flags *drift*: a pushed document the agent
does not run.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from assetwatch.core.settings import Settings
from assetwatch.core.wire import topic_for
from assetwatch.edge_agent.errors import RemoteConfigError
from assetwatch.edge_agent.remote_config import document_hash, parse_remote_config
from assetwatch.errors import ServiceUnavailable
from assetwatch.fleet.errors import FleetError

__all__ = ["AssetConfig", "push", "set_desired", "show"]

#: PUBACK reasons that mean the broker kept a retained message (16: no subscriber right now).
_KEPT = (0, 16)


@dataclass(frozen=True)
class AssetConfig:
    """Desired against reported configuration of one asset (a row of ``v_asset_config``)."""

    asset_tag: str
    desired: dict[str, Any] | None
    desired_hash: str | None
    pushed_at: datetime | None
    reported_state: str | None
    reason: str | None
    active_hash: str | None
    reported_at: datetime | None
    drift: bool


def _asset(conn: psycopg.Connection, asset_tag: str) -> tuple[int, str, list[str]]:
    row = conn.execute(
        "SELECT a.asset_id, a.site_id, coalesce(array_agg(ms.sensor ORDER BY ms.sensor)"
        " FILTER (WHERE ms.sensor IS NOT NULL), '{}') FROM asset a"
        " LEFT JOIN model_sensor ms ON ms.model_id = a.model_id"
        " WHERE a.asset_tag = %s GROUP BY a.asset_id, a.site_id", (asset_tag,)).fetchone()
    if row is None:
        raise FleetError(f"unknown asset {asset_tag!r}")
    return int(row[0]), str(row[1]), list(row[2])


def set_desired(conn: psycopg.Connection, asset_tag: str, document: dict[str, Any], *,
                set_by: str | None = None) -> str:
    """Check ``document`` as the agent would, then store it as the asset's desired
    configuration (not published yet); return its hash. Raises :class:`FleetError` naming
    the asset and the reason, and stores nothing, when the agent would reject it."""
    asset_id, _, sensors = _asset(conn, asset_tag)
    try:
        doc = parse_remote_config(json.dumps(document).encode(), sensors)
    except RemoteConfigError as e:
        raise FleetError(f"{asset_tag}: configuration rejected: {e}") from None
    digest = document_hash(doc)
    with conn.transaction():
        conn.execute(
            "INSERT INTO asset_config_desired (asset_id, document, document_hash, set_by)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (asset_id) DO UPDATE SET"
            " document = EXCLUDED.document, document_hash = EXCLUDED.document_hash,"
            " set_at = now(), set_by = EXCLUDED.set_by, pushed_at = NULL",
            (asset_id, Jsonb(doc), digest, set_by))
    return digest


def push(settings: Settings, conn: psycopg.Connection, asset_tag: str, *,
         timeout_s: float = 10.0) -> str:
    """Publish the asset's desired configuration retained on its ``.../config`` topic with
    the server's MQTT user; wait for the broker to keep it; record when. Returns its hash."""
    asset_id, site_id, _ = _asset(conn, asset_tag)
    row = conn.execute("SELECT document, document_hash FROM asset_config_desired"
                       " WHERE asset_id = %s", (asset_id,)).fetchone()
    if row is None:
        raise FleetError(f"{asset_tag}: no desired configuration; set one first "
                         "('assetwatch edge config set')")
    payload = json.dumps(row[0], sort_keys=True, separators=(",", ":")).encode()
    topic = topic_for(settings.topic_prefix, site_id, asset_tag, "config")
    reason = _publish_retained(settings, topic, payload, timeout_s)
    if reason not in _KEPT:
        raise FleetError(f"{asset_tag}: the broker refused the configuration (reason {reason})")
    with conn.transaction():
        conn.execute("UPDATE asset_config_desired SET pushed_at = now() WHERE asset_id = %s",
                     (asset_id,))
    return str(row[1])


def show(conn: psycopg.Connection, asset_tag: str) -> AssetConfig:
    """The asset's desired and reported configuration and whether they drift apart."""
    _asset(conn, asset_tag)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM v_asset_config WHERE asset_tag = %s",
                          (asset_tag,)).fetchone()
    if row is None:
        return AssetConfig(asset_tag, None, None, None, None, None, None, None, False)
    return AssetConfig(asset_tag, row["desired"], row["desired_hash"], row["pushed_at"],
                       row["reported_state"], row["reason"], row["active_hash"],
                       row["reported_at"], bool(row["drift"]))


def _publish_retained(settings: Settings, topic: str, payload: bytes, timeout_s: float) -> int:
    """Publish with QoS 1, retained; the PUBACK reason code."""
    done = threading.Event()
    result: dict[str, int] = {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(settings.mqtt_username, settings.resolved_mqtt_password())
    if settings.mqtt_tls_ca is not None:
        client.tls_set(ca_certs=str(settings.mqtt_tls_ca))

    def on_publish(c: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        result["reason"] = int(getattr(reason, "value", 0))
        done.set()

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            result["refused"] = int(reason.value)
            done.set()
        else:
            c.publish(topic, payload, qos=1, retain=True)

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port)
    except OSError as e:
        raise ServiceUnavailable(f"cannot reach the MQTT broker at {settings.mqtt_host}:"
                                 f"{settings.mqtt_port} ({e.strerror or e})") from None
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            raise ServiceUnavailable(f"the MQTT broker at {settings.mqtt_host}:"
                                     f"{settings.mqtt_port} did not acknowledge within "
                                     f"{timeout_s:.0f} s")
        if "refused" in result:
            raise ServiceUnavailable(f"the MQTT broker refused user {settings.mqtt_username!r}"
                                     f" (reason {result['refused']}); check "
                                     "ASSETWATCH_MQTT_PASSWORD")
        return result["reason"]
    finally:
        client.disconnect()
        client.loop_stop()
