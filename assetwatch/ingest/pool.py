"""A supervised pool of ingest worker processes (``assetwatch ingest run --workers N``).

The parent process starts N workers (one :class:`~assetwatch.ingest.consumer.IngestWorker`
each, in the same shared-subscription group) and watches them:

* a worker that exits while the pool runs (crash, ``kill -9``, an error at start) is logged
  at warning with its exit code and started again **with the same client id**, so the broker
  delivers the share of the group's messages it kept for that session;
* restarts of one worker back off: :class:`RestartPolicy` (1 s, doubling up to 60 s, back
  to 1 s once a worker had stayed up for 60 s);
* the pool's state (client id, pid, state, restarts, last exit, last restart, started) is
  kept in ``ingest_worker`` (:mod:`assetwatch.ingest.pool_state`), shown by
  ``v_ingest_worker`` and the Pipeline health dashboard;
* SIGTERM or SIGINT stops every worker gracefully (SIGTERM: each finishes its in-flight
  work), waits for them, and returns; a worker that does not end within
  ``stop_timeout_s`` is killed (its unacknowledged messages stay with the broker).

A worker notices when its parent is gone and stops, so an orphan never fights a new pool
for its client id.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.ingest.pool_state import PoolRecorder, WorkerRecord

__all__ = ["RestartPolicy", "WorkerPool", "describe_exit"]

log = logging.getLogger(__name__)

#: How often the pool touches its rows, so a pool that stopped reporting shows as 'lost'.
HEARTBEAT_S = 15.0


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before restarting a worker that exited.

    The first restart waits ``first_s``; each further one twice the previous wait, at most
    ``max_s``; a worker that had stayed up ``stable_s`` or longer starts again from
    ``first_s``.

    Examples
    --------
    >>> policy = RestartPolicy()
    >>> [policy.delay(previous, uptime_s=2.0) for previous in (None, 1.0, 32.0, 60.0)]
    [1.0, 2.0, 60.0, 60.0]
    >>> policy.delay(60.0, uptime_s=300.0)
    1.0
    """

    first_s: float = 1.0
    max_s: float = 60.0
    stable_s: float = 60.0

    def delay(self, previous: float | None, uptime_s: float) -> float:
        """The wait before the next restart, given the previous wait (None: none yet)."""
        if previous is None or uptime_s >= self.stable_s:
            return self.first_s
        return min(previous * 2, self.max_s)


def _now() -> datetime:
    return datetime.now(UTC)


def describe_exit(exitcode: int | None) -> str:
    """``'exit code 1'``, ``'killed by SIGKILL'``, ..."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


@dataclass
class _Slot:
    """One worker of the pool: its record and its current process."""

    record: WorkerRecord
    process: BaseProcess | None = None
    started: float = 0.0  # monotonic
    delay: float | None = None  # the last back-off
    restart_at: float | None = None  # monotonic


class WorkerPool:
    """N supervised worker processes; :meth:`run` blocks until SIGTERM/SIGINT or :meth:`stop`.

    Parameters
    ----------
    settings:
        The workers' settings (passed to each process).
    client_ids:
        One MQTT client id per worker, kept across restarts.
    leave_group:
        Passed to every worker (see :class:`~assetwatch.ingest.consumer.IngestWorker`).
    policy:
        The restart back-off.
    stop_timeout_s:
        How long to wait for the workers to stop before killing them.
    """

    def __init__(self, settings: Settings, client_ids: list[str], *, leave_group: bool = False,
                 policy: RestartPolicy | None = None, stop_timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.leave_group = leave_group
        self.policy = policy or RestartPolicy()
        self.stop_timeout_s = stop_timeout_s
        self._slots = [_Slot(WorkerRecord(client_id)) for client_id in client_ids]
        self._ctx = mp.get_context("spawn")
        self._doc = settings.model_dump()
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self._recorder = PoolRecorder(settings, os.getpid())

    def stop(self) -> None:
        """Ask :meth:`run` to stop the workers and return (safe from a signal handler)."""
        self._stopping = True
        os.write(self._wake_w, b"x")

    def run(self) -> int:
        """Supervise until stopped; return 0 if every worker ended cleanly, else 1."""
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {s: signal.signal(s, lambda signum, frame: self.stop())
                        for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for slot in self._slots:
                self._start(slot)
            next_heartbeat = time.monotonic() + HEARTBEAT_S
            while not self._stopping:
                self._wait(next_heartbeat)
                self._reap()
                self._restart_due()
                if time.monotonic() >= next_heartbeat:
                    self._recorder.heartbeat([s.record.client_id for s in self._slots])
                    next_heartbeat = time.monotonic() + HEARTBEAT_S
            return self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self._recorder.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    # -- supervision ----------------------------------------------------------------------

    def _start(self, slot: _Slot) -> None:
        from assetwatch.ingest.launch import run_worker_process

        process = self._ctx.Process(target=run_worker_process, name=slot.record.client_id,
                                    args=(self._doc, slot.record.client_id, None,
                                          self.leave_group))
        process.start()
        slot.process, slot.started, slot.restart_at = process, time.monotonic(), None
        record = slot.record
        record.state, record.pid, record.started_at = "running", process.pid, _now()
        self._recorder.save(record)

    def _wait(self, next_heartbeat: float) -> None:
        due = [s.restart_at for s in self._slots if s.restart_at is not None]
        timeout = max(0.0, min([next_heartbeat, *due]) - time.monotonic())
        sentinels: list[Any] = [s.process.sentinel for s in self._slots
                                if s.process is not None]
        ready = wait([*sentinels, self._wake_r], timeout)
        if self._wake_r in ready:
            os.read(self._wake_r, 64)

    def _reap(self) -> None:
        for slot in self._slots:
            process = slot.process
            if process is None or process.is_alive():
                continue
            process.join()
            slot.process = None
            if self._stopping:
                continue
            uptime = time.monotonic() - slot.started
            slot.delay = self.policy.delay(slot.delay, uptime)
            slot.restart_at = time.monotonic() + slot.delay
            record = slot.record
            record.state, record.last_exit_code = "restarting", process.exitcode
            record.last_exit, record.last_exit_at = describe_exit(process.exitcode), _now()
            log.warning("ingest worker %s (pid %s) exited after %.0f s: %s; restarting it in "
                        "%.0f s", record.client_id, process.pid, uptime, record.last_exit,
                        slot.delay)
            self._recorder.save(record)

    def _restart_due(self) -> None:
        for slot in self._slots:
            if self._stopping or slot.restart_at is None or time.monotonic() < slot.restart_at:
                continue
            slot.record.restarts += 1
            slot.record.last_restart_at = _now()
            self._start(slot)
            log.warning("ingest worker %s restarted (pid %s, restart %d)", slot.record.client_id,
                        slot.record.pid, slot.record.restarts)

    def _stop_all(self) -> int:
        live = [s for s in self._slots if s.process is not None and s.process.is_alive()]
        for slot in live:
            slot.process.terminate()  # type: ignore[union-attr]  # SIGTERM: finish in-flight
        deadline = time.monotonic() + self.stop_timeout_s
        failed = []
        for slot in self._slots:
            process = slot.process
            if process is not None:
                process.join(max(0.0, deadline - time.monotonic()))
                if process.is_alive():
                    log.error("ingest worker %s did not stop within %.0f s; killing it",
                              slot.record.client_id, self.stop_timeout_s)
                    process.kill()
                    process.join()
                if process.exitcode not in (0, -signal.SIGTERM):
                    failed.append(f"{slot.record.client_id} ({describe_exit(process.exitcode)})")
                slot.record.last_exit = describe_exit(process.exitcode)
                slot.record.last_exit_code, slot.record.last_exit_at = process.exitcode, _now()
            slot.record.state = "stopped"
        self._recorder.save(*(s.record for s in self._slots))
        if failed:
            log.error("ingest workers ended badly: %s", ", ".join(failed))
            return 1
        return 0
