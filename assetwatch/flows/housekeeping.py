"""The ``housekeeping`` flow (daily): rollups, telemetry retention, old predictions.

Thin: rollups and retention are the ingest stage's
(:mod:`assetwatch.ingest.housekeeping`); predictions older than ``prediction_days`` before the
newest one are deleted by :func:`prune_predictions` (relative to the newest prediction, so a
simulated fleet living in the past keeps its history).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings, load_settings
from assetwatch.flows.hooks import STATE_HOOKS
from assetwatch.ingest.housekeeping import apply_retention, refresh_rollups

__all__ = ["housekeeping_flow", "prune_predictions"]


def prune_predictions(settings: Settings, keep: timedelta) -> int:
    """Delete predictions made more than ``keep`` before the newest one; return rows deleted."""
    with connect(settings) as conn:
        deleted = conn.execute(
            "DELETE FROM failure_prediction WHERE predicted_at <"
            " (SELECT max(predicted_at) FROM failure_prediction) - %s", (keep,))
        conn.commit()
        return deleted.rowcount


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def refresh(settings: Settings) -> int:
    return refresh_rollups(settings)


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def retention(settings: Settings, days: float) -> tuple[int, int, int]:
    return apply_retention(settings, timedelta(days=days))


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def prune(settings: Settings, days: float) -> int:
    return prune_predictions(settings, timedelta(days=days))


@flow(name="housekeeping", **STATE_HOOKS)
def housekeeping_flow(retention_days: float | None = None,
                      prediction_days: float = 90.0) -> dict[str, Any]:
    """Refresh the hourly rollup, then drop telemetry older than ``retention_days`` (relative
    to now; None, the default, keeps all: retention is opt-in, e.g. ``flows run housekeeping
    -p retention_days=365``) and predictions older than ``prediction_days`` before the newest
    one; return the counts."""
    settings = load_settings()
    report: dict[str, Any] = {"buckets_refreshed": refresh(settings)}
    if retention_days is not None:
        chunks, ledger, dead = retention(settings, retention_days)
        report.update(chunks_dropped=chunks, ledger_rows_deleted=ledger,
                      dead_letters_deleted=dead)
    report["predictions_deleted"] = prune(settings, prediction_days)
    return report
