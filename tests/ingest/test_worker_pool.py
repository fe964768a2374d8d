"""The supervised worker pool: a killed worker comes back with its client id, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from ingest_support import Fleet, batch_payload, telemetry_counts

from assetwatch.core.settings import Settings
from assetwatch.ingest.monitor import ingest_counts, wait_idle
from assetwatch.ingest.pool import RestartPolicy, describe_exit
from assetwatch.ingest.pool_state import PoolRecorder, WorkerRecord

ASSETS = ("P-1", "P-2", "P-3")


def test_restart_back_off_doubles_to_a_minute_and_resets_after_a_stable_run() -> None:
    policy = RestartPolicy()
    delays, previous = [], None
    for _ in range(9):
        previous = policy.delay(previous, uptime_s=0.5)
        delays.append(previous)
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert policy.delay(60.0, uptime_s=59.0) == 60.0
    assert policy.delay(60.0, uptime_s=61.0) == 1.0


def test_exits_are_described_for_people() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"


def test_the_pool_keeps_supervising_when_its_state_cannot_be_recorded(caplog) -> None:
    settings = Settings(db_url="postgresql://nobody@127.0.0.1:9/x", db_connect_timeout_s=1)
    recorder = PoolRecorder(settings, os.getpid())
    recorder.save(WorkerRecord("w-0"))
    recorder.heartbeat(["w-0"])
    warnings = [r for r in caplog.records if "cannot record the ingest pool" in r.message]
    assert len(warnings) == 1  # once per outage, not once per write


def _workers(settings: Settings) -> dict[str, tuple[int, str, int, str | None]]:
    with psycopg.connect(settings.db_url) as conn:
        return {r[0]: (r[1], r[2], r[3], r[4]) for r in conn.execute(
            "SELECT client_id, pid, state, restarts, last_exit FROM v_ingest_worker")}


def _wait_for(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def test_a_killed_worker_is_restarted_with_its_client_id_and_loses_nothing(
        fleet: Fleet, devices, tmp_path: Path) -> None:
    s = fleet.settings
    log = tmp_path / "pool.log"
    env = {**os.environ, "ASSETWATCH_DB_URL": s.db_url,
           "ASSETWATCH_TOPIC_PREFIX": s.topic_prefix,
           "ASSETWATCH_DATA_DIR": str(s.data_dir.resolve()),
           "ASSETWATCH_INGEST_BATCH_MAX_MESSAGES": "10"}
    prefix = f"{s.topic_prefix}-pool"
    with log.open("w") as out:
        pool = subprocess.Popen([sys.executable, "-m", "assetwatch.cli", "ingest", "run",
                                 "--workers", "2", "--client-id", prefix],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: log.read_text().count("subscribed") == 2, 60, "two workers", log)
        before = _workers(s)
        assert sorted(before) == [f"{prefix}-0", f"{prefix}-1"]
        assert {v[1] for v in before.values()} == {"running"}

        publishers = [devices(s, fleet.site, tag) for tag in ASSETS]

        def publish() -> None:
            for seq in range(300):
                for dev in publishers:
                    dev.publish(batch_payload(dev.asset, seq, n=8), wait=False)
                time.sleep(0.01)
            for dev in publishers:
                dev.publish(batch_payload(dev.asset, 299, n=8))

        stream = threading.Thread(target=publish, daemon=True)
        stream.start()
        _wait_for(lambda: ingest_counts(s)[0] > 150, 30, "ingest to be mid-stream", log)
        victim = f"{prefix}-1"
        old_pid = before[victim][0]
        os.kill(old_pid, signal.SIGKILL)
        _wait_for(lambda: _workers(s)[victim][2] == 1 and _workers(s)[victim][1] == "running",
                  30, "the restart", log)
        pid, state, restarts, last_exit = _workers(s)[victim]
        assert (state, restarts) == ("running", 1)
        assert pid != old_pid and last_exit == "killed by SIGKILL"
        assert _workers(s)[f"{prefix}-0"][2] == 0
        stream.join(60)
        wait_idle(s, expected_batches=900, timeout=90)
        time.sleep(0.5)
        pool.send_signal(signal.SIGTERM)
        assert pool.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if pool.poll() is None:
            pool.kill()
    text = log.read_text()
    assert f"WARNING assetwatch.ingest.pool: ingest worker {victim} (pid {old_pid}) exited" in text
    assert "killed by SIGKILL; restarting it in 1 s" in text
    assert text.count(f"ingest worker {victim} connected (session present: True)") >= 1
    assert telemetry_counts(s) == (7200, 7200, 900)
    assert {v[1] for v in _workers(s).values()} == {"stopped"}
