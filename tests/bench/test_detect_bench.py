"""``assetwatch bench detect``: the service's worker against the detector alone, and its lag."""

from __future__ import annotations

from urllib.parse import urlsplit

from rich.console import Console

from assetwatch.bench.detect import _as_json, _table, run_bench
from assetwatch.core.settings import Settings


def test_figures_come_from_the_worker_and_the_service_loop(fresh_settings: Settings) -> None:
    result = run_bench(fresh_settings, assets=20, samples=40, warmup=20, rate=100.0,
                       seconds=1.5, poll_s=0.05, min_round_s=0.1, repeat=2)
    assert len(result.throughput) == len(result.lag) == 2
    for run in result.throughput:
        assert run.samples == 20 * 40  # every sample written was scored by the worker
        assert run.worker_cpu_s > 0 and run.memory_per_s > 0 and run.bare_per_s > 0
        if urlsplit(fresh_settings.db_url).hostname in ("127.0.0.1", "localhost", "::1"):
            assert run.backend_cpu_s is not None and run.ratio is not None
            assert 0 < run.ratio == run.pipeline_per_s / run.memory_per_s
    for lag in result.lag:
        assert lag.samples == 15 * 10  # 15 ticks of 10 asset-samples, each scored once
        # the worker leaves readings younger than its settle time (0.5 s) for a later round:
        # a lag below it would not be the service's
        assert 0.5 <= lag.p50_s <= lag.p99_s <= lag.max_s
    console = Console(record=True, width=200)
    console.print(_table(result))
    text = console.export_text()
    assert "median of 2 run(s)" in text
    assert "pipeline / detector alone, same run (target >= 0.6)" in text
    assert "lag p99 (target < 2 s)" in text
    figures = _as_json(result)
    assert len(figures["throughput_runs"]) == 2 and figures["median_lag_p99_s"] >= 0.5
