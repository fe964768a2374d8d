"""``assetwatch bench detect``: detection throughput per worker and end-to-end lag under load.

In a database of its own (``<database>_bench_detect``, created for the run and dropped after
it) with ``--assets`` assets of 8 sensors each, it measures

(a) **throughput**: each asset is warmed up, then ``--samples`` samples per asset are written
    and one worker scores them all (read, pivot, score, write scores and checkpoints). Printed:
    asset-samples/s of wall time, per CPU-second of the worker process, and per CPU-second of
    worker plus its database backend (read from ``/proc`` when the server is local), next to
    the detector alone in memory: the per-asset path the worker runs (operating states, the
    detector of the load regime, alarm events), per CPU-second, and the bare detector;
(b) **lag at steady load**: a separate process writes ``--rate`` asset-samples/s (one
    transaction per 100 ms tick, all sensors of a sample together) for ``--seconds``, while one
    worker runs the service loop; the lag of a sample is the time from its telemetry commit to
    the commit of its score. Printed: p50 / p99 / max and the rate actually achieved.

Warm-up is shortened to ``--warmup`` samples (default 50) so that preparing many assets is
quick; scoring cost after warm-up does not depend on it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from assetwatch.core.settings import Settings

__all__ = ["register", "run_bench"]

SENSORS = tuple(f"s{i}" for i in range(8))
TICK_S = 0.1


@dataclass
class DetectBenchResult:
    detector: str
    assets: int
    samples: int
    wall_s: float
    worker_cpu_s: float
    backend_cpu_s: float | None
    memory_samples_per_s: float
    bare_detector_per_s: float
    lag_rate_target: float
    lag_rate_achieved: float
    lag_samples: int
    lag_p50_s: float
    lag_p99_s: float
    lag_max_s: float


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("detect", help="detection asset-samples/s per worker and lag")
    parser.add_argument("--detector", default="baseline")
    parser.add_argument("--assets", type=int, default=1000,
                        help="fleet size; at least --rate x 0.1 so each asset gets one "
                             "sample per 100 ms tick")
    parser.add_argument("--samples", type=int, default=200,
                        help="samples per asset scored in the throughput phase")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10_000.0,
                        help="asset-samples/s written in the lag phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the lag phase")
    parser.add_argument("--poll", type=float, default=0.2, help="worker poll when idle")
    parser.add_argument("--min-round", type=float, default=1.0,
                        help="busy rounds start at most this often (as detect run)")
    parser.set_defaults(func=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    with console.status("benchmarking detection"):
        result = run_bench(settings, detector=args.detector, assets=args.assets,
                           samples=args.samples, warmup=args.warmup, rate=args.rate,
                           seconds=args.seconds, poll_s=args.poll,
                           min_round_s=args.min_round)
    table = Table(title=f"detection, detector {result.detector}, {result.assets} assets x "
                        f"{len(SENSORS)} sensors")
    table.add_column("figure")
    table.add_column("value", justify="right")
    n = result.samples
    table.add_row("asset-samples scored (throughput phase)", f"{n:,}")
    table.add_row("asset-samples/s, wall time, 1 worker", f"{n / result.wall_s:,.0f}")
    table.add_row("asset-samples/s per worker CPU-second", f"{n / result.worker_cpu_s:,.0f}")
    table.add_row("detector alone in memory (states + events, as the worker runs it), "
                  "samples per CPU-second", f"{result.memory_samples_per_s:,.0f}")
    table.add_row("bare detector in memory (score, learn, explain every sample), samples "
                  "per CPU-second", f"{result.bare_detector_per_s:,.0f}")
    if result.backend_cpu_s is not None:
        both = result.worker_cpu_s + result.backend_cpu_s
        table.add_row("asset-samples/s per CPU-second, worker + its DB backend",
                      f"{n / both:,.0f}")
        table.add_row("pipeline / detector alone (target >= 0.6)",
                      f"{n / both / result.memory_samples_per_s:.2f}")
    table.add_row("lag phase: target / achieved asset-samples/s",
                  f"{result.lag_rate_target:,.0f} / {result.lag_rate_achieved:,.0f}")
    table.add_row("lag, telemetry commit -> score commit: p50", f"{result.lag_p50_s:.2f} s")
    table.add_row("lag p99", f"{result.lag_p99_s:.2f} s")
    table.add_row("lag max", f"{result.lag_max_s:.2f} s")
    table.add_row("samples with a measured lag", f"{result.lag_samples:,}")
    console.print(table)
    return 0


def _register(bench: Settings, assets: int) -> dict[int, list[int]]:
    """Register the bench fleet; ``asset_id -> sensor_ids`` in ``SENSORS`` order."""
    from assetwatch.core.asset_registry import AssetSpec, register_fleet
    from assetwatch.core.db import connect

    with connect(bench) as conn:
        ids = register_fleet(
            conn, [("bench", "Bench site", None, 24)], [("BENCH-8", "bench", None)],
            [AssetSpec(f"B{i:05d}", "bench", "BENCH-8", [(s, "u") for s in SENSORS])
             for i in range(assets)])
        rows = conn.execute("SELECT asset_id, name, sensor_id FROM sensor").fetchall()
    by_asset: dict[int, dict[str, int]] = {}
    for asset_id, name, sensor_id in rows:
        by_asset.setdefault(asset_id, {})[name] = sensor_id
    return {a: [by_asset[a][s] for s in SENSORS] for a in ids.values()}


def _write(bench: Settings, fleet: dict[int, list[int]], start: datetime, count: int,
           step: timedelta, rng: random.Random) -> None:
    from assetwatch.core.db import connect

    with connect(bench) as conn, conn.cursor() as cur, cur.copy(
            "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["timestamptz", "int4", "int4", "float8"])
        for k in range(count):
            t = start + k * step
            for asset_id, sensors in fleet.items():
                for j, sensor_id in enumerate(sensors):
                    copy.write_row((t, asset_id, sensor_id, 10.0 * j + rng.gauss(0, 1)))


def _backend_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_speed(detector: str, warmup: int) -> tuple[float, float]:
    """Samples per CPU-second in memory: (the service's per-asset path, with operating states
    and alarm events, as the worker runs it; the bare detector, scoring, learning and
    explaining every sample)."""
    from assetwatch.models.detectors import make_detector
    from assetwatch.models.detectors.operating import OperatingStates
    from assetwatch.models.detectors.regimes import RegimeDetector
    from assetwatch.models.monitoring.asset_state import AssetState
    from assetwatch.models.monitoring.events import EventTracker

    rng = random.Random(1)
    samples = [{s: 10.0 * j + rng.gauss(0, 1) for j, s in enumerate(SENSORS)}
               for _ in range(20_000)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(seconds=i) for i in range(len(samples))]
    state = AssetState(RegimeDetector(detector, {"warmup": warmup}, OperatingStates()),
                       EventTracker())
    for t, x in zip(times[:warmup], samples[:warmup], strict=True):
        state.observe(t, x)
    began = time.process_time()
    for t, x in zip(times[warmup:], samples[warmup:], strict=True):
        state.observe(t, x)
    path = (len(samples) - warmup) / (time.process_time() - began)
    det = make_detector(detector, warmup=warmup)
    for x in samples[:warmup]:
        det.learn_one(x)
    began = time.process_time()
    for x in samples[warmup:]:
        det.score_learn_one(x)
        det.contributions(x)
    return path, (len(samples) - warmup) / (time.process_time() - began)


def _generator(db_url: str, fleet: dict[int, list[int]], rate: float, seconds: float,
               out: mp.Queue) -> None:
    """Write ``rate`` asset-samples/s for ``seconds``; report ``(sample time, commit time)``."""
    import psycopg

    rng = random.Random(2)
    assets = list(fleet)
    per_tick = max(1, round(rate * TICK_S))
    commits: list[tuple[float, float]] = []
    cursor = 0
    with psycopg.connect(db_url) as conn:
        began = time.time()
        ticks = int(seconds / TICK_S)
        for tick in range(ticks):
            due = began + tick * TICK_S
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            stamp = datetime.fromtimestamp(time.time(), tz=UTC)
            with conn.cursor() as cur, cur.copy(
                    "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN"
                    " (FORMAT BINARY)") as copy:
                copy.set_types(["timestamptz", "int4", "int4", "float8"])
                for _ in range(per_tick):
                    asset_id = assets[cursor % len(assets)]
                    cursor += 1
                    for j, sensor_id in enumerate(fleet[asset_id]):
                        copy.write_row((stamp, asset_id, sensor_id, 10.0 * j + rng.gauss(0, 1)))
            conn.commit()
            commits.append((stamp.timestamp(), time.time()))
        out.put((commits, per_tick, time.time() - began))


def run_bench(settings: Settings, *, detector: str = "baseline", assets: int = 200,
              samples: int = 500, warmup: int = 50, rate: float = 10_000.0,
              seconds: float = 15.0, poll_s: float = 0.2,
              min_round_s: float = 1.0) -> DetectBenchResult:
    """Run both phases and return the figures (see the module docstring)."""
    import threading

    from assetwatch.core.scratch import drop_database, fresh_database
    from assetwatch.models.monitoring.errors import DetectionError

    if assets < rate * TICK_S:
        raise DetectionError(f"--assets must be at least {rate * TICK_S:.0f} for --rate {rate:.0f}"
                             " (one sample per asset per 100 ms tick)")

    from assetwatch.models.monitoring.worker import DetectionWorker, ScoringSummary

    bench = fresh_database(settings, "bench_detect")
    fleet = _register(bench, assets)
    rng = random.Random(0)
    old = datetime.now(UTC) - timedelta(days=1)
    step = timedelta(seconds=1)
    options = {"detector": detector, "detector_params": {"warmup": warmup},
               "stale_after_s": 3600.0 * 48}
    # (a) throughput: warm every asset, then score `samples` per asset with one worker
    _write(bench, fleet, old, warmup, step, rng)
    with DetectionWorker(bench, **options) as worker:  # type: ignore[arg-type]
        worker.score_pending()
    _write(bench, fleet, old + warmup * step, samples, step, rng)
    with DetectionWorker(bench, **options) as worker:  # type: ignore[arg-type]
        conn = worker._connection()
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        conn.commit()
        local = urlsplit(bench.db_url).hostname in ("127.0.0.1", "localhost", "::1")
        backend_before = _backend_cpu(pid) if local else None
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        done = worker.score_pending()
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
        backend_after = _backend_cpu(pid) if local else None
    backend = (backend_after - backend_before
               if backend_before is not None and backend_after is not None else None)
    memory, bare = _memory_speed(detector, warmup)

    # (b) lag at a steady load: generator process + the service loop in this process
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    generator = ctx.Process(target=_generator,
                            args=(bench.db_url, fleet, rate, seconds, queue), daemon=True)
    stop = threading.Event()
    commits: list[tuple[float, Counter[datetime]]] = []

    def collect(summary: ScoringSummary) -> None:
        commits.extend(summary.score_commits)

    from assetwatch.models.monitoring.worker import run_detection

    loop = threading.Thread(target=run_detection, args=(bench,), kwargs={
        **options, "poll_s": poll_s, "min_round_s": min_round_s, "stop": stop,
        "on_round": collect,
        "record_commits": True}, daemon=True)
    loop.start()
    generator.start()
    generated, per_tick, gen_seconds = queue.get(timeout=seconds * 4 + 60)
    generator.join(timeout=30)
    deadline = time.time() + 30
    last_stamp = generated[-1][0] if generated else 0.0
    while time.time() < deadline:
        if any(max(c).timestamp() >= last_stamp for _, c in commits if c):
            break
        time.sleep(0.2)
    stop.set()
    loop.join(timeout=30)
    written = {stamp: committed for stamp, committed in generated}
    lags: list[float] = []
    for committed_at, counts in commits:
        for stamp, n in counts.items():
            source = written.get(stamp.timestamp())
            if source is not None:
                lags.extend([committed_at - source] * n)
    lags.sort()

    def pct(q: float) -> float:
        return lags[min(len(lags) - 1, int(q * len(lags)))] if lags else float("nan")

    drop_database(settings, bench)
    return DetectBenchResult(
        detector=detector, assets=assets, samples=done.samples, wall_s=wall,
        worker_cpu_s=cpu, backend_cpu_s=backend, memory_samples_per_s=memory,
        bare_detector_per_s=bare,
        lag_rate_target=rate, lag_rate_achieved=len(generated) * per_tick / gen_seconds,
        lag_samples=len(lags), lag_p50_s=pct(0.5), lag_p99_s=pct(0.99),
        lag_max_s=lags[-1] if lags else float("nan"))
