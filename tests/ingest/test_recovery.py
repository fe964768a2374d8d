"""Crashes mid-stream: a worker killed with SIGKILL, the database restarted.

Both must end with every reading exactly once. The database test restarts a private
PostgreSQL cluster of its own (never the shared one).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg
import pytest
from ingest_support import Fleet, batch_payload, register, telemetry_counts

from assetwatch.core.migrate import migrate
from assetwatch.core.settings import Settings
from assetwatch.ingest.monitor import ingest_counts, wait_idle
from assetwatch.stack.postgres import LocalPostgres

ASSETS = ("P-1", "P-2", "P-3")


def _stream(settings: Settings, site: str, devices, batches: int, pause_s: float
            ) -> threading.Thread:
    """Publish ``batches`` batches per asset from a background thread."""
    publishers = [devices(settings, site, tag) for tag in ASSETS]

    def run() -> None:
        for seq in range(batches):
            for dev in publishers:
                dev.publish(batch_payload(dev.asset, seq, n=8), wait=False)
            time.sleep(pause_s)
        for dev in publishers:
            dev.publish(batch_payload(dev.asset, batches - 1, n=8))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class WorkerProcess:
    """``assetwatch ingest run`` in a subprocess, logging to a file."""

    def __init__(self, settings: Settings, client_id: str, log: Path) -> None:
        env = {**os.environ,
               "ASSETWATCH_DB_URL": settings.db_url,
               "ASSETWATCH_TOPIC_PREFIX": settings.topic_prefix,
               "ASSETWATCH_DATA_DIR": str(settings.data_dir.resolve()),
               "ASSETWATCH_INGEST_BATCH_MAX_MESSAGES": "10"}
        self.log = log
        with log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "assetwatch.cli", "ingest", "run", "--client-id",
                 client_id], env=env, stdout=out, stderr=subprocess.STDOUT)
        _wait_for(lambda: "subscribed" in log.read_text(), 30, "the worker to subscribe")

    def signal(self, signum: int) -> int:
        self.process.send_signal(signum)
        return self.process.wait(30)


def test_worker_killed_mid_stream_loses_and_doubles_nothing(fleet: Fleet, devices,
                                                            tmp_path: Path) -> None:
    s = fleet.settings
    client_id = f"{s.topic_prefix}-kill"
    worker = WorkerProcess(s, client_id, tmp_path / "worker.log")
    publisher = _stream(s, fleet.site, devices, batches=300, pause_s=0.01)
    _wait_for(lambda: ingest_counts(s)[0] > 150, 30, "ingest to be mid-stream")
    assert worker.signal(signal.SIGKILL) == -signal.SIGKILL
    at_kill = ingest_counts(s)[0]
    time.sleep(1.0)
    worker = WorkerProcess(s, client_id, tmp_path / "worker.log")
    publisher.join(60)
    wait_idle(s, expected_batches=900, timeout=60)
    time.sleep(0.5)
    assert worker.signal(signal.SIGTERM) == 0  # graceful stop exits cleanly
    assert at_kill < 900
    assert telemetry_counts(s) == (7200, 7200, 900)


@pytest.fixture
def private_database(fresh_settings: Settings):
    """A PostgreSQL cluster of this test's own, on its own port and data directory."""
    root = Path(tempfile.mkdtemp(prefix="aw-ingest-pg-", dir="/tmp"))
    root.chmod(0o755)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://assetwatch@127.0.0.1:{port}/assetwatch"
    cluster = LocalPostgres(fresh_settings.model_copy(update={"data_dir": root, "db_url": url}))
    cluster.up()
    settings = fresh_settings.model_copy(update={"db_url": url})
    migrate(settings)
    try:
        yield settings, cluster
    finally:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)


def test_database_restart_mid_stream_loses_and_doubles_nothing(
        private_database, devices, start_worker) -> None:
    s, cluster = private_database
    fleet = register(s, list(ASSETS))
    running = start_worker(s.model_copy(update={"ingest_batch_max_messages": 10}))
    publisher = _stream(s, fleet.site, devices, batches=300, pause_s=0.01)
    _wait_for(lambda: ingest_counts(s)[0] > 150, 30, "ingest to be mid-stream")
    cluster.down()
    time.sleep(2.0)
    cluster.up()
    publisher.join(60)
    wait_idle(s, expected_batches=900, timeout=90)
    time.sleep(0.5)
    running.stop()
    assert running.worker.stats.db_retries > 0
    assert telemetry_counts(s) == (7200, 7200, 900)
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone() == (0,)
