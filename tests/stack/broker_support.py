"""An MQTT 5 test client that reports reason codes: SUBACK per subscription, PUBACK per publish."""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from assetwatch.core.settings import Settings


class TestClient:
    """Connects as ``user``; ``subscribe`` and ``publish`` wait for the broker's answer."""

    __test__ = False  # not a test class

    def __init__(self, settings: Settings, user: str, password: str, *,
                 client_id: str = "", session_expiry_s: int = 0) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._answers: dict[int, list[int]] = {}
        self._connected = threading.Event()
        self.connack: Any = None
        self.session_present: bool | None = None
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._answer(mid, rcs)
        self.client.on_publish = lambda c, u, mid, rc, p: self._answer(mid, [rc])
        self.client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        self.client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=30,
                            clean_start=session_expiry_s == 0, properties=props)
        self.client.loop_start()
        assert self._connected.wait(10), f"{user} got no CONNACK"

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connack, self.session_present = rc, flags.session_present
        self._connected.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def _answer(self, mid: int, codes: Any) -> None:
        with self._lock:
            self._answers[mid] = [int(getattr(c, "value", c)) for c in codes]

    def _wait(self, mid: int) -> list[int]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._lock:
                if mid in self._answers:
                    return self._answers.pop(mid)
            time.sleep(0.01)
        raise AssertionError(f"no answer to packet {mid}")

    def subscribe(self, topic: str) -> int:
        """The SUBACK reason code: 1 (granted QoS 1) or 0x87 (not authorised)."""
        _, mid = self.client.subscribe(topic, qos=1)
        return self._wait(mid)[0]

    def publish(self, topic: str, payload: bytes = b"x", *, retain: bool = False) -> int:
        """The PUBACK reason code: 0, 0x10 (no subscribers) or 0x87 (not authorised)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return self._wait(info.mid)[0]

    def received(self, count: int, timeout_s: float = 5) -> list[tuple[str, bytes]]:
        """Wait until ``count`` messages arrived (or the timeout); return all so far."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    break
            time.sleep(0.02)
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
