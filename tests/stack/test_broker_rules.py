"""The broker's access rules, on the stack's broker: what a device and the server may do.

A device may subscribe only to its own server-to-device topics (``config``, ``receipt``);
``#``, another device's topics and the ingest group's ``$share`` filters are refused in the
SUBACK (0x87), not granted and starved. The server user joins the shared group and publishes
``config`` and ``receipt``. Devices registered while the broker runs can connect at once.
"""

from __future__ import annotations

import secrets
import time

import pytest
from broker_support import TestClient

from assetwatch.core.settings import Settings
from assetwatch.stack.mosquitto import LocalMosquitto, device_password, server_password

pytestmark = pytest.mark.integration

NOT_AUTHORISED = 0x87
SITE = "site-r"


@pytest.fixture(scope="module")
def devices(settings: Settings) -> list[str]:
    tags = [f"R-{secrets.token_hex(3)}" for _ in range(2)]
    LocalMosquitto(settings).write_auth([(SITE, t) for t in tags])
    return tags


def _topic(settings: Settings, asset: str, kind: str) -> str:
    return f"{settings.topic_prefix}/v1/{SITE}/{asset}/{kind}"


def test_a_device_subscribes_only_to_its_own_config_and_receipt(settings: Settings,
                                                                 devices: list[str]) -> None:
    own, other = devices
    device = TestClient(settings, own, device_password(settings, own))
    try:
        assert device.subscribe(_topic(settings, own, "config")) == 1
        assert device.subscribe(_topic(settings, own, "receipt")) == 1
        refused = [
            f"$share/{settings.ingest_group}/{settings.topic_prefix}/v1/+/+/telemetry",
            f"$share/other/{settings.topic_prefix}/v1/+/+/status",
            f"$share/x/{_topic(settings, own, 'config')}",
            "#", f"{settings.topic_prefix}/v1/#", f"{settings.topic_prefix}/v1/{SITE}/+/config",
            _topic(settings, other, "config"), _topic(settings, other, "receipt"),
            _topic(settings, own, "telemetry"), "$SYS/#",
        ]
        assert {t: device.subscribe(t) for t in refused} == {t: NOT_AUTHORISED for t in refused}
    finally:
        device.close()


def test_a_device_publishes_only_its_own_device_to_server_topics(settings: Settings,
                                                                  devices: list[str]) -> None:
    own, other = devices
    device = TestClient(settings, own, device_password(settings, own))
    try:
        for kind in ("telemetry", "status", "events"):
            assert device.publish(_topic(settings, own, kind)) in (0, 0x10)
        for topic in (_topic(settings, other, "telemetry"), _topic(settings, own, "config"),
                      _topic(settings, own, "receipt"), f"{settings.topic_prefix}/v1/x"):
            assert device.publish(topic) == NOT_AUTHORISED, topic
    finally:
        device.close()


def test_the_server_joins_the_shared_group_and_sends_config_and_receipts(
        settings: Settings, devices: list[str]) -> None:
    own, other = devices
    server = TestClient(settings, settings.mqtt_username, server_password(settings))
    device = TestClient(settings, own, device_password(settings, own))
    try:
        prefix = settings.topic_prefix
        for kind in ("telemetry", "status", "events"):
            assert server.subscribe(f"$share/{settings.ingest_group}/{prefix}/v1/+/+/{kind}") == 1
            assert server.subscribe(f"$share/another-group/{prefix}/v1/+/+/{kind}") == 1
        assert server.subscribe(f"{prefix}/v1/#") == 1
        assert server.subscribe("#") == NOT_AUTHORISED
        assert server.subscribe(f"$share/{settings.ingest_group}/{prefix}/v1/+/+/+") == \
            NOT_AUTHORISED
        assert device.subscribe(_topic(settings, own, "config")) == 1
        assert device.subscribe(_topic(settings, own, "receipt")) == 1
        assert server.publish(_topic(settings, own, "config"), b"cfg") == 0
        assert server.publish(_topic(settings, own, "receipt"), b"rcpt") == 0
        assert server.publish(_topic(settings, own, "telemetry")) == NOT_AUTHORISED
        assert server.publish(_topic(settings, other, "status")) == NOT_AUTHORISED
        assert sorted(device.received(2)) == [(_topic(settings, own, "config"), b"cfg"),
                                              (_topic(settings, own, "receipt"), b"rcpt")]
        # and the device's own telemetry reaches the server (one copy per shared group at
        # least; a broker may add one for the plain subscription)
        assert device.publish(_topic(settings, own, "telemetry"), b"t") == 0
        got = [m for m in server.received(4) if m[0].endswith("/telemetry")]
        assert set(got) == {(_topic(settings, own, "telemetry"), b"t")} and len(got) >= 2
    finally:
        server.close()
        device.close()


def test_devices_added_to_a_running_broker_connect_at_once(settings: Settings) -> None:
    broker = LocalMosquitto(settings)
    assert broker.pid, "the stack's broker is not running"
    pid = broker.pid
    for _ in range(3):  # as test sessions and benchmarks do, several times
        prefix_settings = settings.model_copy(update={
            "topic_prefix": f"{settings.topic_prefix}x{secrets.token_hex(2)}"})
        tag = f"N-{secrets.token_hex(3)}"
        started = time.monotonic()
        LocalMosquitto(prefix_settings).write_auth([(SITE, tag)])
        took = time.monotonic() - started
        device = TestClient(prefix_settings, tag, device_password(prefix_settings, tag))
        try:
            assert device.connack is not None and not device.connack.is_failure
            assert device.subscribe(_topic(prefix_settings, tag, "config")) == 1
            assert device.subscribe(_topic(settings, tag, "config")) == NOT_AUTHORISED
        finally:
            device.close()
        assert took < 5, f"adding a device took {took:.1f} s"
    assert broker.pid == pid, "the broker was restarted to add devices"
