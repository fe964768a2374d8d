"""The worker pool's state in the database: one ``ingest_worker`` row per worker.

The pool's parent process writes a row whenever one of its workers starts, exits or is
restarted, and touches ``seen_at`` of all its rows on every heartbeat, so the pipeline-health
view (``v_ingest_worker``) can tell a pool that stopped reporting ('lost'). The database being
away must not stop the supervision: a failed write is logged and retried with the next one.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime

import psycopg

from assetwatch.core.settings import Settings

__all__ = ["PoolRecorder", "WorkerRecord"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class WorkerRecord:
    """What the pool knows about one worker (the columns of ``ingest_worker``)."""

    client_id: str
    state: str = "running"  # running | restarting | stopped
    pid: int | None = None
    restarts: int = 0
    last_exit: str | None = None
    last_exit_code: int | None = None
    last_exit_at: datetime | None = None
    last_restart_at: datetime | None = None
    started_at: datetime | None = None


class PoolRecorder:
    """Writes :class:`WorkerRecord` rows for the pool run by this process."""

    def __init__(self, settings: Settings, pool_pid: int) -> None:
        self.settings = settings
        self.pool_pid = pool_pid
        self.host = socket.gethostname()
        self._conn: psycopg.Connection | None = None
        self._failing = False

    def save(self, *records: WorkerRecord) -> None:
        """Store these workers' rows (and mark them seen now)."""
        self._run(
            "INSERT INTO ingest_worker (client_id, host, pool_pid, pid, state, restarts,"
            " last_exit, last_exit_code, last_exit_at, last_restart_at, started_at, seen_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
            " ON CONFLICT (client_id) DO UPDATE SET host = EXCLUDED.host,"
            " pool_pid = EXCLUDED.pool_pid, pid = EXCLUDED.pid, state = EXCLUDED.state,"
            " restarts = EXCLUDED.restarts, last_exit = EXCLUDED.last_exit,"
            " last_exit_code = EXCLUDED.last_exit_code, last_exit_at = EXCLUDED.last_exit_at,"
            " last_restart_at = EXCLUDED.last_restart_at, started_at = EXCLUDED.started_at,"
            " seen_at = now()",
            [(r.client_id, self.host, self.pool_pid, r.pid, r.state, r.restarts, r.last_exit,
              r.last_exit_code, r.last_exit_at, r.last_restart_at, r.started_at)
             for r in records])

    def heartbeat(self, client_ids: list[str]) -> None:
        """Mark the pool's rows as seen now."""
        self._run("UPDATE ingest_worker SET seen_at = now()"
                  " WHERE client_id = %s AND pool_pid = %s",
                  [(c, self.pool_pid) for c in client_ids])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(
                    self.settings.db_url, autocommit=True, application_name="assetwatch-pool",
                    connect_timeout=max(1, int(self.settings.db_connect_timeout_s)))
            with self._conn.cursor() as cur:
                cur.executemany(sql, rows)
        except psycopg.Error as e:
            if not self._failing:
                log.warning("cannot record the ingest pool's state (%s); will retry",
                            str(e).strip().splitlines()[0] if str(e).strip() else e)
            self._failing = True
            self.close()
        else:
            if self._failing:
                log.info("recording the ingest pool's state again")
            self._failing = False
