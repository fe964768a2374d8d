"""``assetwatch bench ingest``: runs, medians, CPU accounting, and one line for a lost server."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from session_databases import SessionDatabases

from assetwatch.bench.cpu import CpuMeter, available
from assetwatch.core.settings import Settings


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "ASSETWATCH_DB_URL": settings.db_url,
            "ASSETWATCH_DATA_DIR": str(settings.data_dir.resolve()), **extra}


@pytest.fixture
def bench_settings(fresh_settings: Settings, session_databases: SessionDatabases) -> Settings:
    """A database of its own to run the benchmark from; its scratch database is dropped."""
    session_databases.drop_later(urlsplit(fresh_settings.db_url).path.lstrip("/") + "_bench")
    return fresh_settings


def _bench(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assetwatch.cli", "bench", "ingest", *args],
                          env=_env(settings, **env), capture_output=True, text=True,
                          timeout=600)


def test_repeated_runs_are_printed_with_their_medians(bench_settings: Settings) -> None:
    done = _bench(bench_settings, "--readings", "40000", "--repeat", "2",
                  "--latency-seconds", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("run ") for line in lines) == 2
    assert any(line.startswith("median of 2 run(s), 40,000 readings") for line in lines)
    assert any("ratio (b)/(a)" in line for line in lines)
    result = json.loads((bench_settings.output_dir / "bench-ingest.json").read_text())
    assert len(result["runs"]) == 2 and result["readings"] == 40_000
    run = result["runs"][0]
    assert run["e2e_readings_per_s"] > 0 and run["copy_readings_per_s"] > 0
    if available():
        assert run["cpu_e2e_us"]["ingest workers"] > 0
        assert run["cpu_e2e_us"]["PostgreSQL, benchmark's connections"] > 0
        assert run["cpu_copy_us"]["ingest workers"] < run["cpu_e2e_us"]["ingest workers"]


def test_an_unreachable_broker_is_one_line(bench_settings: Settings) -> None:
    done = _bench(bench_settings, "--readings", "10000", "--repeat", "1",
                  ASSETWATCH_MQTT_PORT="9")
    assert done.returncode == 3, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    # registering the devices (the broker's admin API) or the bench's own clients notice it
    assert last.startswith("assetwatch: error: ") and "broker" in last and "127.0.0.1:9" in last
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_one_line(bench_settings: Settings) -> None:
    done = _bench(bench_settings, "--readings", "10000", "--repeat", "1",
                  ASSETWATCH_DB_URL="postgresql://nobody@127.0.0.1:9/x")
    assert done.returncode == 3, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1].startswith(
        "assetwatch: error: benchmark stopped: the database at 127.0.0.1:9")
    assert "Traceback" not in done.stderr


def _work(ready: Any, go: Any, done: Any, busy_s: float) -> None:
    ready.set()
    go.wait(30)
    end = time.process_time() + busy_s
    while time.process_time() < end:
        pass
    done.set()
    time.sleep(30)  # ended from outside, after the measurement


@pytest.mark.skipif(not available(), reason="needs /proc")
def test_the_cpu_meter_charges_a_busy_process_and_not_an_idle_one() -> None:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    started, done = [ctx.Event(), ctx.Event()], [ctx.Event(), ctx.Event()]
    busy = ctx.Process(target=_work, args=(started[0], go, done[0], 0.6))
    idle = ctx.Process(target=_work, args=(started[1], go, done[1], 0.0))
    busy.start()
    idle.start()
    assert all(e.wait(30) for e in started)
    meter = CpuMeter({"busy": [busy.pid], "idle": [idle.pid]}, "no-such-database",
                     interval_s=0.2)
    meter.start()
    go.set()
    assert all(e.wait(30) for e in done)
    use = meter.stop()
    for process in (busy, idle):
        process.terminate()
        process.join()
    assert 0.5 < use.seconds["busy"] < 0.8
    assert use.seconds["idle"] < 0.05
    per_reading = use.per_reading_us(1_000_000)
    assert per_reading["busy"] == pytest.approx(use.seconds["busy"], rel=1e-9)
    assert per_reading["idle"] >= 0
