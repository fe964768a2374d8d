"""Reachability checks of the servers, with one-line reasons a user can act on."""

from __future__ import annotations

import threading

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.errors import ConfigError, ServiceUnavailable

__all__ = ["check_broker", "check_database"]


def check_database(settings: Settings) -> str:
    """``'PostgreSQL <v>, TimescaleDB <v> (<licence>)'`` or raise ServiceUnavailable."""
    with connect(settings) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'),"
            " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
            " current_setting('timescaledb.license', true)"
        ).fetchone()
    assert row is not None
    if row[1] is None:
        return f"PostgreSQL {row[0]}, TimescaleDB not created yet (run 'assetwatch db migrate')"
    return f"PostgreSQL {row[0]}, TimescaleDB {row[1]} ({row[2]} licence)"


def check_broker(settings: Settings, timeout_s: float = 5.0) -> None:
    """Connect and disconnect as the server-side MQTT user, or raise with the reason."""
    import paho.mqtt.client as mqtt

    password = settings.resolved_mqtt_password()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         client_id="", clean_session=None)
    client.username_pw_set(settings.mqtt_username, password)
    if settings.mqtt_tls_ca:
        client.tls_set(ca_certs=str(settings.mqtt_tls_ca))
    outcome: dict[str, object] = {}
    done = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        outcome["reason"] = reason_code
        done.set()

    client.on_connect = on_connect
    where = f"{settings.mqtt_host}:{settings.mqtt_port}"
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
    except OSError as e:
        raise ServiceUnavailable(
            f"cannot reach the MQTT broker at {where} ({e.strerror or e}); start it with "
            "'assetwatch stack up' or set ASSETWATCH_MQTT_HOST / ASSETWATCH_MQTT_PORT"
        ) from None
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            raise ServiceUnavailable(f"the MQTT broker at {where} did not answer in {timeout_s} s")
        reason = outcome["reason"]
        if getattr(reason, "is_failure", False):
            raise ConfigError(
                f"the MQTT broker at {where} refused user {settings.mqtt_username!r}: {reason}; "
                "check ASSETWATCH_MQTT_USERNAME / ASSETWATCH_MQTT_PASSWORD"
            )
    finally:
        client.disconnect()
        client.loop_stop()
