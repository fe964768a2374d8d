"""One MQTT connection per asset: credentials, last will, birth, reconnection with backoff.

The asset is the device: it connects as its own user (the asset tag), with a retained last
will ``offline`` on ``.../status``, publishes a retained birth ``online`` right after every
connection, and subscribes to its retained ``.../config`` and to ``.../receipt``, where ingest
confirms what it committed. Reconnection is an outer loop in
the link's own thread with jittered exponential backoff; every connection is a fresh paho
client (clean start), so nothing paho might queue survives a disconnect: the publisher re-sends
what was not acknowledged, from the spool.

MQTT 5 is used where the broker supports it (``protocol="auto"`` falls back to 3.1.1 when the
broker refuses version 5); TLS with a CA and an optional client certificate.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from assetwatch.core.wire import (
    SERVER_TO_EDGE_KINDS,
    TOPIC_KINDS,
    AssetStatus,
    encode_status,
    topic_for,
)

__all__ = ["AssetLink", "MqttEndpoint", "backoff_delays"]

log = logging.getLogger(__name__)

_UNSUPPORTED_PROTOCOL = (1, 132)  # 3.1.1 CONNACK code and MQTT 5 reason code
_NOT_AUTHORISED = (4, 5, 134, 135)  # bad user name or password / not authorised (3.1.1, 5)


@dataclass(frozen=True)
class MqttEndpoint:
    """Where the broker is and how to talk to it."""

    host: str = "127.0.0.1"
    port: int = 1883
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_insecure: bool = False
    keepalive_s: int = 30
    protocol: str = "auto"  # "5", "3.1.1" or "auto"
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0
    max_inflight: int = 64


def backoff_delays(lo: float, hi: float, rng: random.Random | None = None):
    """Jittered exponential backoff: the n-th delay is uniform in [d/2, d], d = lo * 2**n <= hi.

    >>> d = backoff_delays(1, 8, random.Random(1))
    >>> [round(next(d), 2) <= x for x in (1, 2, 4, 8, 8)]
    [True, True, True, True, True]
    """
    rng = rng or random.Random()
    d = lo
    while True:
        yield rng.uniform(d / 2, d)
        d = min(d * 2, hi)


class AssetLink:
    """The MQTT connection of one asset.

    Callbacks run in paho's network thread: ``on_ack(asset, generation, mid, reason)`` for
    every PUBACK (``reason`` is the MQTT 5 reason code, 0 when the broker took the message for
    at least one subscriber), ``on_config(asset, payload)`` for every message on
    ``.../config``, ``on_receipt(asset, payload)`` for every commit receipt,
    ``on_state(asset)`` when the link connects or drops. ``birth()`` returns the current birth
    status (called on every connection).
    """

    def __init__(self, endpoint: MqttEndpoint, *, asset_tag: str, site_id: str, prefix: str,
                 password: str | None, birth: Callable[[], AssetStatus],
                 on_ack: Callable[[str, int, int, int], None],
                 on_config: Callable[[str, bytes], None],
                 on_state: Callable[[str], None],
                 on_receipt: Callable[[str, bytes], None] | None = None) -> None:
        self.endpoint = endpoint
        self.asset_tag = asset_tag
        self.site_id = site_id
        self.prefix = prefix
        self._password = password
        self._birth = birth
        self._on_ack = on_ack
        self._on_config = on_config
        self._on_state = on_state
        self._on_receipt = on_receipt
        self.topics = {kind: topic_for(prefix, site_id, asset_tag, kind) for kind in TOPIC_KINDS}
        self._protocol = mqtt.MQTTv311 if endpoint.protocol == "3.1.1" else mqtt.MQTTv5
        self._client: mqtt.Client | None = None
        self._client_lock = threading.Lock()
        self.generation = 0
        self.connected = False
        self.last_error: str | None = None
        #: The broker refused this asset's credentials at the last attempt.
        self.refused = False
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._connack = threading.Event()
        self._connack_code = 0
        self._thread = threading.Thread(target=self._run, name=f"link-{asset_tag}", daemon=True)

    # -- public -----------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Publish ``offline`` (retained), disconnect and end the link's thread."""
        self._stop.set()
        self._lost.set()
        self._thread.join(timeout_s)

    def publish(self, kind: str, payload: bytes, retain: bool = False) -> tuple[int, int] | None:
        """Publish with QoS 1 on this asset's ``kind`` topic; ``(generation, mid)`` or None."""
        with self._client_lock:
            client, generation = self._client, self.generation
            if client is None or not self.connected:
                return None
            info = client.publish(self.topics[kind], payload, qos=1, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return None
        return generation, info.mid

    def publish_birth(self) -> None:
        """Re-publish the retained birth (after a component or configuration change)."""
        self.publish("status", encode_status(self._birth()), retain=True)

    # -- connection loop --------------------------------------------------------------
    def _new_client(self, generation: int) -> mqtt.Client:
        ep = self.endpoint
        client = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=f"aw-{self.prefix}-{self.asset_tag}"[:64],
                             protocol=self._protocol, reconnect_on_failure=False,
                             userdata=generation)
        client.username_pw_set(self.asset_tag, self._password)
        if ep.tls_ca or ep.tls_cert:
            client.tls_set(ca_certs=ep.tls_ca, certfile=ep.tls_cert, keyfile=ep.tls_key,
                           cert_reqs=ssl.CERT_REQUIRED)
            if ep.tls_insecure:
                client.tls_insecure_set(True)
        will = AssetStatus("offline", int(time.time() * 1000))
        client.will_set(self.topics["status"], encode_status(will), qos=1, retain=True)
        client.max_inflight_messages_set(max(ep.max_inflight, 1))
        client.max_queued_messages_set(0)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        client.on_subscribe = self._handle_subscribe
        return client

    def _run(self) -> None:
        delays = backoff_delays(self.endpoint.backoff_min_s, self.endpoint.backoff_max_s)
        while not self._stop.is_set():
            candidate = self.generation + 1
            client = self._new_client(candidate)
            self._connack.clear()
            self._lost.clear()
            try:
                if self._protocol == mqtt.MQTTv5:
                    client.connect(self.endpoint.host, self.endpoint.port,
                                   self.endpoint.keepalive_s, clean_start=True)
                else:
                    client.connect(self.endpoint.host, self.endpoint.port,
                                   self.endpoint.keepalive_s)
            except (OSError, ssl.SSLError) as e:
                self._retry_later(delays, f"broker unreachable ({e})")
                continue
            client.loop_start()
            if not self._connack.wait(10) or self._connack_code != 0:
                code = self._connack_code if self._connack.is_set() else "timeout"
                client.loop_stop()
                self._close(client)
                if (self.endpoint.protocol == "auto" and self._protocol == mqtt.MQTTv5
                        and code in _UNSUPPORTED_PROTOCOL):
                    log.info("%s: broker does not speak MQTT 5; using 3.1.1", self.asset_tag)
                    self._protocol = mqtt.MQTTv311
                    continue
                self.refused = code in _NOT_AUTHORISED
                self._retry_later(delays, f"broker refused the connection ({code})",
                                  logging.WARNING)
                continue
            delays = backoff_delays(self.endpoint.backoff_min_s, self.endpoint.backoff_max_s)
            self._lost.wait()
            if self._stop.is_set():
                self._say_goodbye(client)
            client.loop_stop()
            self._close(client)
            if not self._stop.is_set():
                self._retry_later(delays, "connection lost")

    def _retry_later(self, delays: Any, why: str, level: int = logging.INFO) -> None:
        delay = next(delays)
        self.last_error = why
        log.log(level, "%s: %s; retrying in %.1f s", self.asset_tag, why, delay)
        self._stop.wait(delay)

    def _say_goodbye(self, client: mqtt.Client) -> None:
        if not self.connected:
            return
        status = self._birth()
        status.state = "offline"
        info = client.publish(self.topics["status"], encode_status(status), qos=1, retain=True)
        with contextlib.suppress(RuntimeError, ValueError):
            info.wait_for_publish(2)
        with self._client_lock:
            self.connected = False
        client.disconnect()

    @staticmethod
    def _close(client: mqtt.Client) -> None:
        try:
            sock = client.socket()
            if sock is not None:
                sock.close()
        except OSError:
            pass

    # -- paho callbacks (network thread) ------------------------------------------------
    def _handle_connect(self, client: mqtt.Client, generation: int, flags: Any,
                        reason_code: Any, properties: Any) -> None:
        self._connack_code = int(getattr(reason_code, "value", reason_code))
        if self._connack_code == 0:
            with self._client_lock:
                self._client = client
                self.generation = generation
                self.connected = True
            self.last_error = None
            self.refused = False
            client.subscribe([(self.topics[kind], 1) for kind in SERVER_TO_EDGE_KINDS])
            client.publish(self.topics["status"], encode_status(self._birth()), qos=1,
                           retain=True)
            log.info("%s: connected to %s:%s", self.asset_tag, self.endpoint.host,
                     self.endpoint.port)
            self._on_state(self.asset_tag)
        self._connack.set()

    def _handle_disconnect(self, client: mqtt.Client, generation: int, flags: Any,
                           reason_code: Any, properties: Any) -> None:
        with self._client_lock:
            if generation == self.generation:
                was = self.connected
                self.connected = False
            else:
                was = False
        self._lost.set()
        if was:
            self._on_state(self.asset_tag)

    def _handle_publish(self, client: mqtt.Client, generation: int, mid: int,
                        reason_code: Any, properties: Any) -> None:
        self._on_ack(self.asset_tag, generation, mid, int(getattr(reason_code, "value", 0)))

    def _handle_subscribe(self, client: mqtt.Client, generation: int, mid: int,
                          reason_codes: Any, properties: Any) -> None:
        refused = [f"{kind} ({code})" for kind, code in zip(SERVER_TO_EDGE_KINDS, reason_codes,
                                                            strict=False)
                   if getattr(code, "is_failure", False)]
        if refused:
            log.error("%s: the broker refused the subscription to %s; grant the device read "
                      "and subscribe access to its own config and receipt topics",
                      self.asset_tag, ", ".join(refused))

    def _handle_message(self, client: mqtt.Client, generation: int,
                        message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topics["config"]:
            self._on_config(self.asset_tag, bytes(message.payload))
        elif message.topic == self.topics["receipt"] and self._on_receipt is not None:
            self._on_receipt(self.asset_tag, bytes(message.payload))
