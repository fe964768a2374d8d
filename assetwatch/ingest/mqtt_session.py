"""The ingest worker's MQTT 5 session: shared subscription in, acknowledgements and receipts out.

:class:`IngestSession` joins the shared group ``$share/<ingest_group>/...`` for the
telemetry, status and events topics of ``settings.topic_prefix``, so N workers split the load.
It connects with ``clean_start=False`` and a session expiry, so a worker restarted with the
same client id gets the messages the broker kept for it (including those it had received
but not acknowledged). Paho's network thread decodes each message as it arrives
(:func:`assetwatch.ingest.inbound.classify`) and puts it on :attr:`IngestSession.inbox`, a
bounded queue; in-flight work is bounded twice: the MQTT 5 Receive Maximum
(``settings.ingest_max_inflight``) stops the broker from sending more unacknowledged
messages, and the queue blocks the network thread if ever full.

After its owner committed a group, :meth:`IngestSession.confirm` acknowledges the messages
(paho-mqtt 2.x manual acknowledgement; a message of an earlier connection is not
acknowledged, the broker sends it again) and publishes one commit receipt per asset
(:mod:`assetwatch.ingest.receipts`). When the broker goes away, paho reconnects every
:data:`RECONNECT_MAX_S` at most, so the shared subscription is back within a second of the
broker (devices meanwhile get PUBACK *No matching subscribers* and keep their messages).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from assetwatch.core.settings import Settings
from assetwatch.ingest.inbound import Inbound, classify
from assetwatch.ingest.receipts import receipts_for

__all__ = ["INGESTED_KINDS", "IngestSession", "default_client_id", "subscriptions"]

log = logging.getLogger(__name__)

#: Reconnection delays to the broker: the first retry after RECONNECT_MIN_S, doubling to
#: RECONNECT_MAX_S (connecting to a broker that is down costs a refused TCP connection).
RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 0.5
INGESTED_KINDS = ("telemetry", "status", "events")


def subscriptions(settings: Settings) -> list[str]:
    """The shared-subscription filters of the ingest group.

    >>> subscriptions(Settings(topic_prefix="plant"))[0]
    '$share/ingest/plant/v1/+/+/telemetry'
    """
    return [f"$share/{settings.ingest_group}/{settings.topic_prefix}/v1/+/+/{kind}"
            for kind in INGESTED_KINDS]


def default_client_id(settings: Settings, index: int = 0) -> str:
    """A client id stable across restarts of worker ``index`` on this host."""
    return f"{settings.topic_prefix}-{settings.ingest_group}-{socket.gethostname()}-{index}"


class IngestSession:
    """One worker's connection to the broker (see the module docstring).

    ``ready`` is set once the first subscription was granted; :attr:`error` holds why the
    broker refused us (credentials or subscriptions), for the owner to raise.
    """

    def __init__(self, settings: Settings, client_id: str, *, session_expiry_s: int,
                 on_ready: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self.on_ready = on_ready
        self.inbox: queue.Queue[Inbound] = queue.Queue(maxsize=settings.ingest_max_inflight)
        self.ready = threading.Event()
        self.connected = threading.Event()
        self.error: str | None = None
        self.closing = False
        self._generation = 0
        self._client = self._make_client()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Connect in paho's network thread (and reconnect for ever after)."""
        self._client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port,
                                   keepalive=30, clean_start=False,
                                   properties=self._connect_properties())
        self._client.loop_start()

    def close(self, *, end_session: bool = False) -> None:
        """Disconnect; with ``end_session`` the broker forgets the session (nothing left)."""
        self.closing = True
        props = None
        if end_session:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = 0
        self._client.disconnect(properties=props)
        self._client.loop_stop()

    def leave_group(self, deadline: float) -> None:
        """Unsubscribe from the shared group; what arrived before the UNSUBACK stays in the
        inbox for the owner to write."""
        if not self.connected.is_set():
            return
        done = threading.Event()
        self._client.on_unsubscribe = lambda *args: done.set()
        self._client.unsubscribe(subscriptions(self.settings))
        done.wait(max(0.0, deadline - time.monotonic()))

    # -- after a commit -----------------------------------------------------------------
    def confirm(self, group: Sequence[Inbound], outcomes: Sequence[str]) -> None:
        """Acknowledge a committed group and send its commit receipts."""
        for message in group:
            if message.generation == self._generation and message.qos > 0:
                self._client.ack(message.mid, message.qos)
        for topic, payload in receipts_for(group, outcomes, self.settings.topic_prefix):
            self._client.publish(topic, payload, qos=0)

    # -- paho -----------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=mqtt.MQTTv5, manual_ack=True)
        client.username_pw_set(self.settings.mqtt_username,
                               self.settings.resolved_mqtt_password())
        if self.settings.mqtt_tls_ca is not None:
            client.tls_set(ca_certs=str(self.settings.mqtt_tls_ca))
        client.reconnect_delay_set(min_delay=RECONNECT_MIN_S,  # type: ignore[arg-type]
                                   max_delay=RECONNECT_MAX_S)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = min(self.settings.ingest_max_inflight, 65535)
        return props

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            message = (f"the MQTT broker at {self.settings.mqtt_host}:{self.settings.mqtt_port}"
                       f" refused user {self.settings.mqtt_username!r}: {reason_code}")
            if reason_code.value in (0x86, 0x87):  # bad user name or password, not authorized
                self.error = message + " (check ASSETWATCH_MQTT_PASSWORD)"
            log.error("%s", message)
            return
        self._generation += 1
        self.connected.set()
        log.info("ingest worker %s connected (session present: %s)", self.client_id,
                 flags.session_present)
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in
                          subscriptions(self.settings)])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            self.error = f"the MQTT broker refused the ingest subscriptions: {failed}"
            return
        if not self.ready.is_set():
            log.info("ingest worker %s subscribed to %s", self.client_id,
                     ", ".join(subscriptions(self.settings)))
            self.ready.set()
            if self.on_ready is not None:
                self.on_ready()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        if not self.closing:
            log.warning("ingest worker %s disconnected (%s); reconnecting", self.client_id,
                        reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = msg._topic.decode("utf-8", "replace")
            message = classify(topic, bytes(msg.payload), self.settings.topic_prefix)
        except Exception as e:  # never let one message break the network loop
            log.exception("cannot classify a message on %r", msg._topic)
            message = Inbound(repr(msg._topic), bytes(msg.payload), time.time(),
                              error=f"internal error while decoding: {e!r}")
        message.mid, message.qos, message.generation = msg.mid, msg.qos, self._generation
        self.inbox.put(message)
