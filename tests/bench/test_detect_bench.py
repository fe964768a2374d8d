"""``assetwatch bench detect``: the service's worker against the detector alone, and its lag."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from rich.console import Console

from assetwatch.bench.detect import _as_json, _register, _table, _write, run_bench
from assetwatch.bench.detect_lag import measure_lag
from assetwatch.core.settings import Settings
from assetwatch.models.monitoring.worker import DetectionWorker


def test_figures_come_from_the_worker_and_the_service_loop(fresh_settings: Settings) -> None:
    result = run_bench(fresh_settings, assets=20, samples=10, warmup=20, rate=100.0,
                       seconds=0.5, poll_s=0.05, min_round_s=0.1, repeat=2)
    assert len(result.throughput) == len(result.lag) == 2
    for run in result.throughput:
        assert run.samples == 20 * 10  # every sample written was scored by the worker
        assert run.worker_cpu_s > 0 and run.memory_per_s > 0 and run.bare_per_s > 0
        if urlsplit(fresh_settings.db_url).hostname in ("127.0.0.1", "localhost", "::1"):
            assert run.backend_cpu_s is not None and run.ratio is not None
            assert 0 < run.ratio == run.pipeline_per_s / run.memory_per_s
    for lag in result.lag:
        assert lag.samples == 5 * 10  # 5 ticks of 10 asset-samples, each scored once
        assert 0 < lag.p50_s <= lag.p99_s <= lag.max_s
    console = Console(record=True, width=200)
    console.print(_table(result))
    text = console.export_text()
    assert "median of 2 run(s)" in text
    assert "pipeline / detector alone, same run (target >= 0.6)" in text
    assert "lag p99 (target < 2 s)" in text
    figures = _as_json(result)
    assert len(figures["throughput_runs"]) == 2 and figures["median_lag_p99_s"] > 0


def test_the_lag_is_the_service_loops(fresh_settings: Settings) -> None:
    """Rounds of the service loop started at most every 1.5 s instead of 0.1 s: the lag of
    the same load grows by about half of that."""
    fleet = _register(fresh_settings, 10)
    options = {"detector": "baseline", "detector_params": {"warmup": 20}}
    _write(fresh_settings, fleet, datetime.now(UTC) - timedelta(minutes=5), 20,
           timedelta(seconds=1), random.Random(0))
    with DetectionWorker(fresh_settings, **options) as worker:  # type: ignore[arg-type]
        worker.score_pending()
    lags = [measure_lag(fresh_settings, fleet, options, rate=50.0, seconds=2.0, poll_s=0.05,
                        min_round_s=every) for every in (0.1, 1.5)]
    assert [lag.samples for lag in lags] == [100, 100]
    assert lags[1].p50_s > lags[0].p50_s + 0.4
    shared = measure_lag(fresh_settings, fleet, options, rate=50.0, seconds=1.0, poll_s=0.05,
                         min_round_s=0.1, workers=2)  # two processes, half the fleet each
    assert shared.workers == 2 and shared.samples == 50
