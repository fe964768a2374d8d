"""``assetwatch bench detect``: the detection service's throughput with its database, against
the same detection path alone in memory, and its lag under a steady load.

In a database of its own (``<database>_bench_detect``, created for the run and dropped after
it) with ``--assets`` assets of 8 sensors each, all warmed up first, each of ``--repeat`` runs
measures

(a) **the pipeline**: ``--samples`` new samples per asset are written, then a new
    :class:`~assetwatch.models.monitoring.worker.DetectionWorker` (the worker of ``assetwatch
    detect run``, with operating states and alarm events) scores them all, starting from the
    checkpoints the run before left: read the telemetry, score, write scores, events and
    checkpoints. Its CPU time is that of the worker process and of its database backend (read
    from ``/proc``; only where the server runs on this machine);
(b) **the detector alone**, right after: as many samples of the same kind, asset by asset,
    through the per-asset path the worker runs (the state ``DetectionWorker.new_state`` makes:
    operating states, the load regime's detector, alarm events), in memory, per CPU-second;
    and the bare detector (score, learn and explain every sample);
(c) **lag at a steady load** (:mod:`.detect_lag`): ``--rate`` asset-samples/s for
    ``--seconds`` while the ``detect run`` service loop scores them (one worker, or
    ``--workers`` worker processes sharing the fleet); the lag of a sample is the time from
    its telemetry commit to its score's commit.

The headline is (a) per CPU-second of worker + backend over (b) in the same run: how much of
the CPU the service spends on detection rather than on the database. Printed: the median of
the runs and their range; written to ``bench-detect.json`` in the output directory. Warm-up is
shortened to ``--warmup`` samples (default 50) so that preparing many assets is quick;
scoring cost after warm-up does not depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from assetwatch.bench.detect_lag import TICK_S, LagRun, measure_lag
from assetwatch.core.settings import Settings

__all__ = ["DetectBenchResult", "LagRun", "ThroughputRun", "register", "run_bench"]

SENSORS = tuple(f"s{i}" for i in range(8))


@dataclass
class ThroughputRun:
    """One run of phases (a) and (b)."""

    samples: int
    wall_s: float
    worker_cpu_s: float
    backend_cpu_s: float | None
    memory_per_s: float  # the worker's per-asset path in memory, per CPU-second
    bare_per_s: float  # the bare detector, per CPU-second

    @property
    def pipeline_per_s(self) -> float | None:
        """Asset-samples per CPU-second of worker + backend (None: backend not measured)."""
        if self.backend_cpu_s is None:
            return None
        return self.samples / (self.worker_cpu_s + self.backend_cpu_s)

    @property
    def ratio(self) -> float | None:
        pipeline = self.pipeline_per_s
        return None if pipeline is None else pipeline / self.memory_per_s


@dataclass
class DetectBenchResult:
    detector: str
    assets: int
    samples_per_asset: int
    throughput: list[ThroughputRun] = field(default_factory=list)
    lag: list[LagRun] = field(default_factory=list)

    def median(self, values: list[float | None]) -> tuple[float, float, float] | None:
        """(median, lowest, highest) of the measured values; None if none was measured."""
        kept = [v for v in values if v is not None]
        return (statistics.median(kept), min(kept), max(kept)) if kept else None


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("detect", help="detection throughput with the database, "
                                               "against the detector alone, and lag")
    parser.add_argument("--detector", default="ensemble",
                        help="default: %(default)s, the service's default detector")
    parser.add_argument("--assets", type=int, default=1000,
                        help="fleet size; at least --rate x 0.1 so each asset gets one "
                             "sample per 100 ms tick")
    parser.add_argument("--samples", type=int, default=200,
                        help="samples per asset scored in each throughput run")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of every phase; medians are printed (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=10_000.0,
                        help="asset-samples/s written in the lag phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the lag phase")
    parser.add_argument("--poll", type=float, default=0.2, help="worker poll when idle")
    parser.add_argument("--min-round", type=float, default=1.0,
                        help="busy rounds start at most this often (as detect run)")
    parser.add_argument("--workers", type=int, default=1,
                        help="detect run worker processes sharing the fleet in the lag phase "
                             "(the throughput phase measures one worker)")
    parser.set_defaults(func=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    with console.status("benchmarking detection"):
        result = run_bench(settings, detector=args.detector, assets=args.assets,
                           samples=args.samples, warmup=args.warmup, rate=args.rate,
                           seconds=args.seconds, poll_s=args.poll,
                           min_round_s=args.min_round, repeat=max(1, args.repeat),
                           workers=max(1, args.workers))
    console.print(_table(result))
    out = settings.output_dir / "bench-detect.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_as_json(result), indent=2) + "\n")
    console.print(f"written to {out}")
    return 0


def _table(result: DetectBenchResult) -> Any:
    from rich.table import Table

    runs, lags = result.throughput, result.lag
    table = Table(title=f"detection, detector {result.detector}, {result.assets} assets x "
                        f"{len(SENSORS)} sensors, median of {len(runs)} run(s) [range]")
    table.add_column("figure")
    table.add_column("value", justify="right")

    def row(label: str, values: list[float | None], fmt: str, unit: str = "") -> None:
        m = result.median(values)
        text = "not measured" if m is None else \
            f"{m[0]:{fmt}}{unit} [{m[1]:{fmt}}-{m[2]:{fmt}}]"
        table.add_row(label, text)

    table.add_row("asset-samples scored per run (throughput)", f"{runs[0].samples:,}")
    row("asset-samples/s, wall time, 1 worker", [r.samples / r.wall_s for r in runs], ",.0f")
    row("asset-samples/s per worker CPU-second",
        [r.samples / r.worker_cpu_s for r in runs], ",.0f")
    row("asset-samples/s per CPU-second, worker + its DB backend",
        [r.pipeline_per_s for r in runs], ",.0f")
    row("detector alone in memory (states + events, as the worker runs it), samples per "
        "CPU-second", [r.memory_per_s for r in runs], ",.0f")
    row("bare detector in memory (score, learn, explain every sample), per CPU-second",
        [r.bare_per_s for r in runs], ",.0f")
    row("pipeline / detector alone, same run (target >= 0.6)", [r.ratio for r in runs], ".2f")
    row(f"lag phase, {lags[0].workers} worker(s): asset-samples/s achieved (target "
        f"{lags[0].rate_target:,.0f})",
        [r.rate_achieved for r in lags], ",.0f")
    row("lag, telemetry commit -> score commit: p50", [r.p50_s for r in lags], ".2f", " s")
    row("lag p99 (target < 2 s)", [r.p99_s for r in lags], ".2f", " s")
    row("lag max", [r.max_s for r in lags], ".2f", " s")
    row("samples with a measured lag, per run", [float(r.samples) for r in lags], ",.0f")
    return table


def _as_json(result: DetectBenchResult) -> dict[str, Any]:
    runs = [{**asdict(r), "pipeline_per_s": r.pipeline_per_s, "ratio": r.ratio}
            for r in result.throughput]
    return {"detector": result.detector, "assets": result.assets, "sensors": len(SENSORS),
            "samples_per_asset": result.samples_per_asset, "throughput_runs": runs,
            "lag_runs": [asdict(r) for r in result.lag],
            "median_ratio": (result.median([r.ratio for r in result.throughput]) or [None])[0],
            "median_lag_p50_s": statistics.median(r.p50_s for r in result.lag),
            "median_lag_p99_s": statistics.median(r.p99_s for r in result.lag)}


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


def _reading(j: int, rng: random.Random) -> float:
    return 10.0 * j + rng.gauss(0, 1)


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
                    copy.write_row((t, asset_id, sensor_id, _reading(j, rng)))


def _backend_cpu(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_speed(make_state: Any, detector: str, warmup: int, assets: int, samples: int,
                  seed: int) -> tuple[float, float]:
    """Samples per CPU-second in memory, ``samples`` per asset for ``assets`` assets, asset by
    asset as the worker goes (every asset's state kept, as the worker keeps them): (the
    worker's per-asset path, from ``make_state``; the bare detector, scoring, learning and
    explaining every sample)."""
    from assetwatch.models.detectors import make_detector

    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    times = [t0 + timedelta(seconds=i) for i in range(warmup + samples)]
    states, detectors = [], []
    path_cpu = bare_cpu = 0.0
    for _ in range(assets):
        stream = [{s: _reading(j, rng) for j, s in enumerate(SENSORS)}
                  for _ in range(warmup + samples)]
        state, det = make_state(), make_detector(detector, warmup=warmup)
        for t, x in zip(times[:warmup], stream[:warmup], strict=True):
            state.observe(t, x)
            det.learn_one(x)
        observe = state.observe
        began = time.process_time()
        for t, x in zip(times[warmup:], stream[warmup:], strict=True):
            observe(t, x)
        path_cpu += time.process_time() - began
        began = time.process_time()
        for x in stream[warmup:]:
            det.score_learn_one(x)
            det.contributions(x)
        bare_cpu += time.process_time() - began
        states.append(state)
        detectors.append(det)
    return assets * samples / path_cpu, assets * samples / bare_cpu


def _throughput(bench: Settings, fleet: dict[int, list[int]], options: dict[str, Any],
                start: datetime, samples: int, warmup: int, run: int) -> ThroughputRun:
    """Write ``samples`` per asset from ``start``, score them with a new worker, then time the
    detector alone on as many samples."""
    from assetwatch.models.monitoring.worker import DetectionWorker

    _write(bench, fleet, start, samples, timedelta(seconds=1), random.Random(100 + run))
    local = urlsplit(bench.db_url).hostname in ("127.0.0.1", "localhost", "::1")
    with DetectionWorker(bench, **options) as worker:
        conn = worker._connection()
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        conn.commit()
        backend_before = _backend_cpu(pid) if local else None
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        done = worker.score_pending()
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
        backend_after = _backend_cpu(pid) if local else None
    memory, bare = _memory_speed(worker.new_state, options["detector"], warmup, len(fleet),
                                 samples, seed=200 + run)
    backend = (backend_after - backend_before
               if backend_before is not None and backend_after is not None else None)
    return ThroughputRun(samples=done.samples, wall_s=wall, worker_cpu_s=cpu,
                         backend_cpu_s=backend, memory_per_s=memory, bare_per_s=bare)


def run_bench(settings: Settings, *, detector: str = "ensemble", assets: int = 200,
              samples: int = 500, warmup: int = 50, rate: float = 10_000.0,
              seconds: float = 15.0, poll_s: float = 0.2, min_round_s: float = 1.0,
              repeat: int = 3, workers: int = 1) -> DetectBenchResult:
    """Run every phase ``repeat`` times and return the figures (see the module docstring)."""
    from assetwatch.core.scratch import drop_database, fresh_database
    from assetwatch.models.monitoring.errors import DetectionError
    from assetwatch.models.monitoring.worker import DetectionWorker

    if assets < rate * TICK_S:
        raise DetectionError(f"--assets must be at least {rate * TICK_S:.0f} for --rate {rate:.0f}"
                             " (one sample per asset per 100 ms tick)")
    bench = fresh_database(settings, "bench_detect")
    try:
        fleet = _register(bench, assets)
        options = {"detector": detector, "detector_params": {"warmup": warmup},
                   "stale_after_s": 3600.0 * 48}
        step = timedelta(seconds=1)
        start = datetime.now(UTC) - timedelta(days=1)
        _write(bench, fleet, start, warmup, step, random.Random(0))
        with DetectionWorker(bench, **options) as worker:  # type: ignore[arg-type]
            worker.score_pending()
        result = DetectBenchResult(detector=detector, assets=assets, samples_per_asset=samples)
        for run in range(repeat):
            begin = start + (warmup + run * samples) * step
            result.throughput.append(
                _throughput(bench, fleet, options, begin, samples, warmup, run))
        for run in range(repeat):
            result.lag.append(measure_lag(bench, fleet, options, rate=rate, seconds=seconds,
                                          poll_s=poll_s, min_round_s=min_round_s,
                                          seed=300 + run, workers=workers))
    finally:
        drop_database(settings, bench)
    return result
