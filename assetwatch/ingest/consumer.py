"""The ingest consumer: an MQTT 5 shared-subscription worker that commits before it acks.

Each :class:`IngestWorker` joins the shared group ``$share/<ingest_group>/...`` for the
telemetry, status and events topics of ``settings.topic_prefix``, so N workers split the load.
It connects with ``clean_start=False`` and a session expiry, so a worker restarted with the
same client id gets the messages the broker kept for it (including those it had received
but not acknowledged).

Threads: paho's network thread decodes each message as it arrives
(:func:`assetwatch.ingest.inbound.classify`) and puts it on a bounded queue; the worker's
own thread (the one calling :meth:`IngestWorker.run`) takes groups off the queue (all that is
queued, up to ``settings.ingest_batch_max_messages``; a small group lingers up to
:data:`LINGER_S` for more), writes each in one transaction
(:class:`assetwatch.ingest.writer.BatchWriter`) and only then acknowledges
its messages (paho-mqtt 2.x manual acknowledgement) and publishes one commit receipt per asset
(:mod:`assetwatch.ingest.receipts`) naming the batches and events now stored, so the edge
agents can delete them from their spools. In-flight work is bounded twice: the
MQTT 5 Receive Maximum (``settings.ingest_max_inflight``) stops the broker from sending more
unacknowledged messages, and the queue blocks the network thread if ever full.

Failures: when the database is unreachable the worker keeps the group, reconnects with
backoff and retries; nothing is acknowledged meanwhile, so the broker holds the rest. When
the broker goes away, paho reconnects every :data:`RECONNECT_MAX_S` at most, so the shared
subscription is back within a second of the broker (devices meanwhile get PUBACK *No matching
subscribers* and keep their messages).
Shutdown (:meth:`IngestWorker.stop` or SIGTERM) finishes the group being written and the
messages already received, if the database allows within ``stop_timeout_s``; whatever is
left is not acknowledged, so the broker keeps it in the worker's session and delivers it
again when the worker comes back (or after a crash: SIGKILL loses nothing either).
"""

from __future__ import annotations

import logging
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.errors import AssetwatchError
from assetwatch.ingest.columns import ColumnBatch
from assetwatch.ingest.errors import IngestError
from assetwatch.ingest.inbound import Inbound, classify
from assetwatch.ingest.receipts import receipts_for
from assetwatch.ingest.writer import BatchWriter

__all__ = ["IngestWorker", "WorkerStats", "default_client_id", "subscriptions"]

log = logging.getLogger(__name__)

#: Stop adding messages to a group past this many readings (one transaction's worth).
MAX_GROUP_READINGS = 100_000
#: A group smaller than this waits up to LINGER_S for more messages: fewer, larger
#: transactions under load, at most LINGER_S more latency when the stream is thin.
MIN_GROUP_READINGS = 50_000
LINGER_S = 0.05
#: Reconnection delays to the broker: the first retry after RECONNECT_MIN_S, doubling to
#: RECONNECT_MAX_S (connecting to a broker that is down costs a refused TCP connection).
RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 0.5
INGESTED_KINDS = ("telemetry", "status", "events")


def subscriptions(settings: Settings) -> list[str]:
    """The shared-subscription filters of the ingest group."""
    return [f"$share/{settings.ingest_group}/{settings.topic_prefix}/v1/+/+/{kind}"
            for kind in INGESTED_KINDS]


def default_client_id(settings: Settings, index: int = 0) -> str:
    """A client id stable across restarts of worker ``index`` on this host."""
    return f"{settings.topic_prefix}-{settings.ingest_group}-{socket.gethostname()}-{index}"


@dataclass(slots=True)
class WorkerStats:
    """Running totals of one worker since it started."""

    messages: int = 0
    batches: int = 0
    duplicates: int = 0
    readings: int = 0
    dead_letters: int = 0
    records: int = 0
    commits: int = 0
    db_retries: int = 0
    last_commit_at: float = 0.0


class IngestWorker:
    """One ingest consumer; :meth:`run` blocks until :meth:`stop` or SIGTERM.

    Parameters
    ----------
    settings:
        Broker, database, topic prefix, group and batching settings.
    client_id:
        MQTT client id; reuse it on restart to receive what the broker kept for this worker.
    session_expiry_s:
        How long the broker keeps the session (and queued messages) while disconnected.
    stop_timeout_s:
        How long shutdown may spend finishing in-flight messages.
    on_ready:
        Called once the worker is connected and subscribed.
    leave_group:
        On stop, unsubscribe from the shared group before draining and, when everything was
        written, end the MQTT session. Use it to remove a worker for good: the broker (Mosquitto
        2.0) keeps routing a share of the group's messages to a stopped member's session until
        it comes back or the session expires.
    connect_timeout_s:
        :meth:`run` raises :class:`IngestError` if the broker has not accepted the first
        connection by then (later disconnects are retried for ever).

    Examples
    --------
    A worker connects only in :meth:`run` (usually in a thread of its own; :meth:`stop` ends
    it from any thread):

    >>> settings = Settings(topic_prefix="plant")
    >>> worker = IngestWorker(settings, client_id="plant-ingest-0")
    >>> worker.client_id, worker.ready.is_set()
    ('plant-ingest-0', False)
    >>> subscriptions(settings)[0]
    '$share/ingest/plant/v1/+/+/telemetry'
    """

    def __init__(self, settings: Settings, client_id: str | None = None, *,
                 session_expiry_s: int = 3600, stop_timeout_s: float = 10.0,
                 on_ready: Callable[[], None] | None = None,
                 leave_group: bool = False, connect_timeout_s: float = 15.0) -> None:
        self.settings = settings
        self.client_id = client_id or default_client_id(settings)
        self.session_expiry_s = session_expiry_s
        self.stop_timeout_s = stop_timeout_s
        self.on_ready = on_ready
        self.leave_group = leave_group
        self.connect_timeout_s = connect_timeout_s
        self._drained = False
        self.stats = WorkerStats()
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._inbox: queue.Queue[Inbound] = queue.Queue(maxsize=settings.ingest_max_inflight)
        self._generation = 0
        self._connect_error: str | None = None
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None
        self._conn: psycopg.Connection | None = None

    def stop(self) -> None:
        """Ask :meth:`run` to finish in-flight work and return (safe from any thread)."""
        self._stopping.set()

    def run(self) -> None:
        """Consume until stopped. Raises :class:`IngestError` if the broker refuses us and
        :class:`~assetwatch.errors.ServiceUnavailable` if the database is down at start."""
        previous = self._install_sigterm()
        self._conn = connect(self.settings)
        writer = BatchWriter(self._conn)
        client = self._client = self._make_client()
        try:
            client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port,
                                 keepalive=30, clean_start=False,
                                 properties=self._connect_properties())
            client.loop_start()
            self._consume(writer)
        finally:
            props = None
            if self.leave_group and self._drained:  # nothing left: the session can go
                props = Properties(PacketTypes.DISCONNECT)
                props.SessionExpiryInterval = 0
            client.disconnect(properties=props)
            client.loop_stop()
            if self._conn is not None:
                self._conn.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            log.info("ingest worker %s stopped: %s", self.client_id, self.stats)

    # -- the writer loop ------------------------------------------------------------------

    def _consume(self, writer: BatchWriter) -> None:
        give_up_at = time.monotonic() + self.connect_timeout_s
        while not self._stopping.is_set():
            if self._connect_error:
                raise IngestError(self._connect_error)
            if not self._connected.is_set() and time.monotonic() > give_up_at:
                raise IngestError(
                    f"cannot connect to the MQTT broker at {self.settings.mqtt_host}:"
                    f"{self.settings.mqtt_port} within {self.connect_timeout_s:.0f} s; start it "
                    "with 'assetwatch stack up' or set ASSETWATCH_MQTT_HOST/_PORT")
            group = self._take_group(self.settings.ingest_batch_max_wait_s)
            if group:
                self._commit_and_ack(writer, group)
        deadline = time.monotonic() + self.stop_timeout_s
        if self.leave_group:
            self._unsubscribe(deadline)
        left = self._inbox.qsize()
        while left > 0 and time.monotonic() < deadline:
            group = self._take_group(0.0, limit=left)
            if not group or not self._commit_and_ack(writer, group, deadline):
                break
            left -= len(group)
        self._drained = left == 0 and self._inbox.empty()

    def _unsubscribe(self, deadline: float) -> None:
        """Leave the shared group; messages sent before the UNSUBACK are still drained."""
        client = self._client
        if client is None or not self._connected.is_set():
            return
        done = threading.Event()
        client.on_unsubscribe = lambda *args: done.set()
        client.unsubscribe(subscriptions(self.settings))
        done.wait(max(0.0, deadline - time.monotonic()))

    def _take_group(self, first_wait_s: float, limit: int | None = None) -> list[Inbound]:
        """The next group: the first message (waiting up to ``first_wait_s``), then whatever
        else is already queued, up to ``ingest_batch_max_messages`` and
        :data:`MAX_GROUP_READINGS`. Groups are self-clocking: while one is being written the
        next one gathers, so they grow with the load and stay small (low latency) when idle.
        """
        try:
            first = self._inbox.get(timeout=first_wait_s) if first_wait_s else \
                self._inbox.get_nowait()
        except queue.Empty:
            return []
        group = [first]
        readings = _readings(first)
        max_messages = min(limit or self.settings.ingest_batch_max_messages,
                           self.settings.ingest_batch_max_messages)
        linger_until = time.monotonic() + (0.0 if limit else LINGER_S)
        while len(group) < max_messages and readings < MAX_GROUP_READINGS:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                wait = linger_until - time.monotonic()
                if wait <= 0 or readings >= MIN_GROUP_READINGS:
                    break
                try:
                    message = self._inbox.get(timeout=wait)
                except queue.Empty:
                    break
            group.append(message)
            readings += _readings(message)
        return group

    def _commit_and_ack(self, writer: BatchWriter, group: list[Inbound],
                        deadline: float | None = None) -> bool:
        """Write ``group`` (retrying while the database is away), then ack it; False if given
        up because of shutdown (the group stays unacknowledged and is delivered again)."""
        delay = 0.2
        while True:
            try:
                result = writer.write(group)
                break
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                self.stats.db_retries += 1
                log.warning("database write failed (%s); retrying in %.1f s",
                            str(e).strip().splitlines()[0] if str(e).strip() else e, delay)
            if deadline is not None:  # draining at shutdown: bounded by the deadline
                if time.monotonic() + delay > deadline:
                    return False
                time.sleep(delay)
            elif self._stopping.wait(delay):
                return False
            delay = min(delay * 2, 5.0)
            self._reconnect_db(writer)
        client = self._client
        assert client is not None
        for message in group:
            if message.generation == self._generation and message.qos > 0:
                client.ack(message.mid, message.qos)
        for topic, payload in receipts_for(group, result.outcomes, self.settings.topic_prefix):
            client.publish(topic, payload, qos=0)
        s = self.stats
        s.messages += len(group)
        s.batches += result.batches
        s.duplicates += result.duplicates
        s.readings += result.readings
        s.dead_letters += result.dead_letters
        s.records += result.records
        s.commits += 1
        s.last_commit_at = time.time()
        return True

    def _reconnect_db(self, writer: BatchWriter) -> None:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return
        try:
            if self._conn is not None:
                self._conn.close()
            self._conn = connect(self.settings)
            writer.conn = self._conn
            log.info("reconnected to the database")
        except AssetwatchError as e:
            log.warning("%s", e)

    # -- MQTT -----------------------------------------------------------------------------

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
                self._connect_error = message + " (check ASSETWATCH_MQTT_PASSWORD)"
            log.error("%s", message)
            return
        self._generation += 1
        self._connected.set()
        log.info("ingest worker %s connected (session present: %s)", self.client_id,
                 flags.session_present)
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in
                          subscriptions(self.settings)])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        failed = [str(rc) for rc in reason_codes if rc.is_failure]
        if failed:
            self._connect_error = f"the MQTT broker refused the ingest subscriptions: {failed}"
            return
        if not self.ready.is_set():
            log.info("ingest worker %s subscribed to %s", self.client_id,
                     ", ".join(subscriptions(self.settings)))
            self.ready.set()
            if self.on_ready is not None:
                self.on_ready()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        if not self._stopping.is_set():
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
        self._inbox.put(message)

    def _install_sigterm(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGTERM, lambda signum, frame: self.stop())


def _readings(message: Inbound) -> int:
    return len(message.body) if isinstance(message.body, ColumnBatch) else 1
