"""The ingest worker: takes groups of messages, writes each in one transaction, then confirms.

An :class:`IngestWorker` owns an MQTT session (:class:`~assetwatch.ingest.mqtt_session.
IngestSession`: the shared subscription, acknowledgements and commit receipts) and a
database connection. Its own thread (the one calling :meth:`IngestWorker.run`) takes groups
off the session's inbox (all that is queued, up to ``settings.ingest_batch_max_messages``; a
small group lingers up to :data:`LINGER_S` for more), writes each in one transaction
(:class:`assetwatch.ingest.writer.BatchWriter`) and only after the commit has the session
acknowledge its messages and send the receipts.

Failures: when the database is unreachable the worker keeps the group, reconnects with
backoff and retries; nothing is acknowledged meanwhile, so the broker holds the rest.
Shutdown (:meth:`IngestWorker.stop` or SIGTERM) finishes the group being written and the
messages already received, if the database allows within ``stop_timeout_s``; whatever is
left is not acknowledged, so the broker keeps it in the worker's session and delivers it
again when the worker comes back (or after a crash: SIGKILL loses nothing either).
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.errors import AssetwatchError
from assetwatch.ingest.columns import ColumnBatch
from assetwatch.ingest.errors import IngestError
from assetwatch.ingest.inbound import Inbound
from assetwatch.ingest.mqtt_session import IngestSession, default_client_id
from assetwatch.ingest.writer import BatchWriter

__all__ = ["IngestWorker", "WorkerStats"]

log = logging.getLogger(__name__)

#: Stop adding messages to a group past this many readings (one transaction's worth).
MAX_GROUP_READINGS = 100_000
#: A group smaller than this waits up to LINGER_S for more messages: fewer, larger
#: transactions under load, at most LINGER_S more latency when the stream is thin.
MIN_GROUP_READINGS = 50_000
LINGER_S = 0.05


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

    >>> worker = IngestWorker(Settings(topic_prefix="plant"), client_id="plant-ingest-0")
    >>> worker.client_id, worker.ready.is_set()
    ('plant-ingest-0', False)
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
        self._stopping = threading.Event()
        self._session = IngestSession(settings, self.client_id,
                                      session_expiry_s=session_expiry_s, on_ready=on_ready)
        #: Set once the worker is connected and subscribed.
        self.ready = self._session.ready
        self._inbox = self._session.inbox
        self._conn: psycopg.Connection | None = None

    def stop(self) -> None:
        """Ask :meth:`run` to finish in-flight work and return (safe from any thread)."""
        self._session.closing = True
        self._stopping.set()

    def run(self) -> None:
        """Consume until stopped. Raises :class:`IngestError` if the broker refuses us and
        :class:`~assetwatch.errors.ServiceUnavailable` if the database is down at start."""
        previous = self._install_sigterm()
        self._conn = connect(self.settings)
        writer = BatchWriter(self._conn)
        try:
            self._session.start()
            self._consume(writer)
        finally:
            # nothing left after leaving the group: the session can go
            self._session.close(end_session=self.leave_group and self._drained)
            if self._conn is not None:
                self._conn.close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            log.info("ingest worker %s stopped: %s", self.client_id, self.stats)

    # -- the writer loop ------------------------------------------------------------------

    def _consume(self, writer: BatchWriter) -> None:
        give_up_at = time.monotonic() + self.connect_timeout_s
        while not self._stopping.is_set():
            if self._session.error:
                raise IngestError(self._session.error)
            if not self._session.connected.is_set() and time.monotonic() > give_up_at:
                raise IngestError(
                    f"cannot connect to the MQTT broker at {self.settings.mqtt_host}:"
                    f"{self.settings.mqtt_port} within {self.connect_timeout_s:.0f} s; start it "
                    "with 'assetwatch stack up' or set ASSETWATCH_MQTT_HOST/_PORT")
            group = self._take_group(self.settings.ingest_batch_max_wait_s)
            if group:
                self._commit_and_ack(writer, group)
        deadline = time.monotonic() + self.stop_timeout_s
        if self.leave_group:
            self._session.leave_group(deadline)
        left = self._inbox.qsize()
        while left > 0 and time.monotonic() < deadline:
            group = self._take_group(0.0, limit=left)
            if not group or not self._commit_and_ack(writer, group, deadline):
                break
            left -= len(group)
        self._drained = left == 0 and self._inbox.empty()

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
        self._session.confirm(group, result.outcomes)
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

    def _install_sigterm(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGTERM, lambda signum, frame: self.stop())


def _readings(message: Inbound) -> int:
    return len(message.body) if isinstance(message.body, ColumnBatch) else 1
