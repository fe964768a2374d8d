"""The ``score`` flow (hourly): the current models -> ``failure_prediction`` rows.

Thin: the logic is :func:`assetwatch.models.prediction.scoring.score_assets` (idempotent for a
given ``as_of``, so the retry is safe).
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.settings import Settings, load_settings
from assetwatch.flows.hooks import STATE_HOOKS
from assetwatch.models.prediction.scoring import score_assets

__all__ = ["score_flow"]


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def score(settings: Settings, as_of: datetime | None) -> int:
    return score_assets(settings, as_of=as_of)


@flow(name="score", **STATE_HOOKS)
def score_flow(as_of: datetime | None = None) -> int:
    """Score every asset; return the prediction rows written. ``as_of`` defaults to the
    newest telemetry time."""
    return score(load_settings(), as_of)
