"""The ``train`` flow (weekly): one failure-risk model per component type.

Thin: the logic is :func:`assetwatch.models.prediction.training.train_models`, split into the
refresh of the hourly rollup that training reads and the read of the training window (I/O,
retried) and the fit/register of each component type (retried once: a failed registry write
fits again and registers a new version).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.settings import Settings, load_settings
from assetwatch.flows.hooks import STATE_HOOKS
from assetwatch.ingest.housekeeping import refresh_rollups
from assetwatch.models.prediction.training import (
    TrainingSet,
    TrainOptions,
    TrainResult,
    load_training_set,
    train_component,
)

__all__ = ["train_flow"]


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def refresh_rollup(settings: Settings) -> int:
    """Bring the hourly rollup, which training reads, up to date."""
    return refresh_rollups(settings)


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def read_training_window(settings: Settings, as_of: datetime | None,
                         options: TrainOptions) -> TrainingSet:
    return load_training_set(settings, as_of=as_of, options=options)


@task(retries=1, retry_delay_seconds=10, cache_policy=NO_CACHE)
def fit_and_register(settings: Settings, training_set: TrainingSet, component_type: str,
                     options: TrainOptions) -> TrainResult:
    return train_component(settings, training_set, component_type, options=options)


@flow(name="train", **STATE_HOOKS)
def train_flow(horizons: tuple[int, ...] = (7, 30), as_of: datetime | None = None,
               history_days: float = 180.0) -> list[dict[str, Any]]:
    """Train, register and promote (if better) a model per component type; return a summary
    per component type. ``as_of`` defaults to the newest telemetry time."""
    settings = load_settings()
    options = TrainOptions(horizons=tuple(horizons), history=timedelta(days=history_days))
    refresh_rollup(settings)
    training_set = read_training_window(settings, as_of, options)
    results = [fit_and_register(settings, training_set, component_type, options)
               for component_type in training_set.component_types]
    return [_summary(result) for result in results]


def _summary(result: TrainResult) -> dict[str, Any]:
    summary = asdict(result)
    summary["score"] = result.metrics.get("score")
    del summary["metrics"]
    return summary
