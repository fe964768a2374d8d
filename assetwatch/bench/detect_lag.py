"""The lag phase of ``assetwatch bench detect``: telemetry commit to score commit at a steady load.

A separate process writes ``rate`` asset-samples/s into the benchmark's database (one
transaction per 100 ms tick, all sensors of a sample together, stamped with the time of the
tick) for ``seconds``, while the detection service loop of ``assetwatch detect run``
(:func:`~assetwatch.models.monitoring.worker.run_detection`, one worker) runs in this
process (or ``workers`` worker processes, each with its share of the fleet). The lag of a
sample is the time from its telemetry commit to the commit of its score.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from queue import Empty
from typing import Any

from assetwatch.core.settings import Settings

__all__ = ["TICK_S", "LagRun", "measure_lag"]

TICK_S = 0.1


@dataclass
class LagRun:
    """One lag phase: the load asked for and achieved, and the lag of every sample scored."""

    workers: int
    rate_target: float
    rate_achieved: float
    samples: int
    p50_s: float
    p99_s: float
    max_s: float


def _generator(db_url: str, fleet: dict[int, list[int]], rate: float, seconds: float,
               seed: int, out: mp.Queue) -> None:
    """Write ``rate`` asset-samples/s for ``seconds``; report ``(sample time, commit time)``."""
    import psycopg

    rng = random.Random(seed)
    assets = list(fleet)
    per_tick = max(1, round(rate * TICK_S))
    commits: list[tuple[float, float]] = []
    cursor = 0
    with psycopg.connect(db_url) as conn:
        began = time.time()
        for tick in range(int(seconds / TICK_S)):
            pause = began + tick * TICK_S - time.time()
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


def _service(bench: Settings, options: dict[str, Any], worker: int, workers: int,
             poll_s: float, min_round_s: float, stop: Any, out: mp.Queue) -> None:
    """One ``detect run`` worker process; reports each round's score commits to ``out``."""
    from assetwatch.models.monitoring.worker import ScoringSummary, run_detection

    def report(summary: ScoringSummary) -> None:
        out.put(summary.score_commits)

    run_detection(bench, worker=worker, workers=workers, poll_s=poll_s,
                  min_round_s=min_round_s, stop=stop, on_round=report, record_commits=True,
                  **options)


def measure_lag(bench: Settings, fleet: dict[int, list[int]], options: dict[str, Any], *,
                rate: float, seconds: float, poll_s: float, min_round_s: float,
                seed: int = 2, workers: int = 1) -> LagRun:
    """Run one lag phase (see the module docstring); ``options`` go to the worker.

    With ``workers`` above 1, that many ``detect run`` worker processes share the fleet
    (``--worker K --workers N``), each started and through its first round before the load
    begins."""
    from assetwatch.models.monitoring.worker import ScoringSummary, run_detection

    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    generator = ctx.Process(target=_generator,
                            args=(bench.db_url, fleet, rate, seconds, seed, queue), daemon=True)
    commits: list[tuple[float, Counter[datetime]]] = []
    if workers == 1:
        stop: Any = threading.Event()

        def collect(summary: ScoringSummary) -> None:
            commits.extend(summary.score_commits)

        services: list[Any] = [threading.Thread(target=run_detection, args=(bench,), kwargs={
            **options, "poll_s": poll_s, "min_round_s": min_round_s, "stop": stop,
            "on_round": collect, "record_commits": True}, daemon=True)]
        services[0].start()
    else:
        stop = ctx.Event()
        rounds: mp.Queue = ctx.Queue()
        services = [ctx.Process(target=_service, args=(bench, options, k, workers, poll_s,
                                                       min_round_s, stop, rounds), daemon=True)
                    for k in range(workers)]
        for service in services:
            service.start()
        for _ in services:  # each through its first round
            commits.extend(rounds.get(timeout=120))

        def drain() -> None:
            while not stop.is_set():
                try:
                    commits.extend(rounds.get(timeout=0.1))
                except Empty:
                    continue

        threading.Thread(target=drain, daemon=True).start()
    generator.start()
    generated, per_tick, gen_seconds = queue.get(timeout=seconds * 4 + 60)
    generator.join(timeout=30)
    written = dict(generated)
    expected = len(generated) * per_tick
    deadline = time.time() + 30
    while time.time() < deadline:  # until every sample written is scored
        scored = sum(n for _, counts in list(commits) for stamp, n in counts.items()
                     if stamp.timestamp() in written)
        if scored >= expected:
            break
        time.sleep(0.2)
    stop.set()
    for service in services:
        service.join(timeout=30)
    lags: list[float] = []
    for committed_at, counts in commits:
        for stamp, n in counts.items():
            source = written.get(stamp.timestamp())
            if source is not None:
                lags.extend([committed_at - source] * n)
    lags.sort()

    def pct(q: float) -> float:
        return lags[min(len(lags) - 1, int(q * len(lags)))] if lags else float("nan")

    return LagRun(workers=workers, rate_target=rate,
                  rate_achieved=len(generated) * per_tick / gen_seconds, samples=len(lags),
                  p50_s=pct(0.5), p99_s=pct(0.99), max_s=lags[-1] if lags else float("nan"))
