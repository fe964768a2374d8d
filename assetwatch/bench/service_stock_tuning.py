"""Choosing the inventory policy's service levels on a tuning world, by replay.

The service level is the quantile of lead-time demand that
:func:`~assetwatch.service.policy.compute_inventory_policy` stocks to, one for every part or
one per ABC class of usage value (:class:`~assetwatch.service.service_levels.ServiceLevels`);
the pipeline's
signals (predictions, anomaly events) do not depend on it. So, as for the ticket policy
(:mod:`.service_tuning`), one kept ``pipeline`` run of ``bench service`` on a tuning world
is replayed (:class:`~assetwatch.bench.service_tuning.ReplayRun`: the world, the tickets,
demand, the policy at the candidate level, replenishment and, as in the kept run, field
service) once per candidate level, with the run's own ticket policy. The naive reference
policy that the stock is compared with stocks to the same level
(:mod:`.inventory_sim`), so each candidate is judged against the naive policy at its level.

:func:`choose_service_level`, the rule fixed before any replay: the issue's stock target is
a fill rate at least the naive policy's with at most ``max_value_vs_naive`` of its stock
value; among the candidates within that value, the one with the highest fill rate (ties:
the lower stock value); if none is within it, the one with the lowest stock value. Never run
on the reported world (seed 7).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from assetwatch.bench.service_run import RunOptions
from assetwatch.bench.service_tuning import REPORTED_SEED, ReplayRun, kept_pipeline
from assetwatch.core.settings import Settings
from assetwatch.service.service_levels import ServiceLevels

__all__ = ["LEVEL_GRID", "LevelScore", "choose_service_level", "replay_service_level",
           "tune_service_level"]

log = logging.getLogger(__name__)

#: the candidates :func:`tune_service_level` replays by default: single levels, and levels
#: per ABC class (A/B/C) that stock the cheap classes higher
LEVEL_GRID: tuple[ServiceLevels, ...] = (
    *(ServiceLevels.single(level) for level in (0.9, 0.95, 0.98, 0.99)),
    *(ServiceLevels(a=a, b=b, c=c) for a, b, c in (
        (0.9, 0.98, 0.995), (0.95, 0.98, 0.995), (0.95, 0.99, 0.999), (0.98, 0.99, 0.999),
        (0.95, 0.995, 0.999), (0.99, 0.995, 0.999))),
)


@dataclass(frozen=True)
class LevelScore:
    """The stock figures of one replayed service level."""

    service_level: ServiceLevels
    fill_rate: float | None
    naive_fill_rate: float | None   # the naive policy at the same service level
    stock_value: float | None
    stock_value_vs_naive: float | None
    stockouts: int
    first_time_fix: float | None
    second_trips_stock: int

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "service_level": self.service_level.label()}


def replay_service_level(settings: Settings, source: Settings, options: RunOptions,
                         level: ServiceLevels, *, start: datetime) -> LevelScore:
    """Replay the kept run in ``source`` (same ``options``, same world) with the inventory
    policy at ``level``, in a fresh scratch database beside ``settings``; its stock
    figures."""
    from assetwatch.bench.service import season_days
    from assetwatch.bench.service_figures import figures
    from assetwatch.core.scratch import drop_database, fresh_database

    if options.seed == REPORTED_SEED:
        raise ValueError(f"seed {REPORTED_SEED} is the reported world; tune on another seed")
    label = level.label().replace(".", "").replace("/", "_")   # one database per candidate
    scratch = fresh_database(settings, f"bench_service_level_s{options.seed}_{label}")
    try:
        result = ReplayRun(scratch, replace(options, service_level=level), start=start,
                           source=source).execute()
    finally:
        drop_database(settings, scratch)
    out = figures(result, season_days=season_days(options))
    return LevelScore(level, out["fill_rate"], out["naive_fill_rate"], out["stock_value"],
                      out["stock_value_vs_naive"], out["stockouts"], out["first_time_fix"],
                      out["second_trips_stock"])


def choose_service_level(scores: Iterable[LevelScore], *, max_value_vs_naive: float = 0.8
                         ) -> LevelScore:
    """The rule of the module docstring over replayed ``scores``."""
    scores = list(scores)
    if not scores:
        raise ValueError("no replayed service level to choose from")
    within = [s for s in scores if s.stock_value_vs_naive is not None
              and s.stock_value_vs_naive <= max_value_vs_naive]
    if within:
        return max(within, key=lambda s: (s.fill_rate or 0.0, -(s.stock_value_vs_naive or 0.0)))
    return min(scores, key=lambda s: (float("inf") if s.stock_value_vs_naive is None
                                      else s.stock_value_vs_naive))


def tune_service_level(settings: Settings, options: RunOptions, *, start: datetime,
                       levels: Sequence[ServiceLevels] = LEVEL_GRID, reuse: bool = False,
                       max_value_vs_naive: float = 0.8) -> dict[str, Any]:
    """``bench service --tune-service-level``: the ``pipeline`` row on the tuning world
    ``options`` (kept; with ``reuse`` an earlier run's kept database as it is), then every
    candidate level replayed over it; every candidate's scores and the chosen one."""
    if options.seed == REPORTED_SEED:
        raise ValueError(f"seed {REPORTED_SEED} is the reported world; tune the service level"
                         " on another seed (for example --seed 1)")
    source, run = kept_pipeline(settings, options, reuse=reuse)
    scores = []
    for level in levels:
        score = replay_service_level(settings, source, options, level, start=start)
        log.info("replayed service level %s: %s", level.label(), score)
        scores.append(score)
    chosen = choose_service_level(scores, max_value_vs_naive=max_value_vs_naive)
    return {"run": run, "candidates": [s.as_dict() for s in scores],
            "chosen": chosen.as_dict(), "max_value_vs_naive": max_value_vs_naive}
