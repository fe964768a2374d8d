"""The ``alerts`` flow (every minute): connectivity tickets for silent assets, then the alert
rules evaluated and people notified.

Thin: the work is :func:`assetwatch.fleet.connectivity.run_connectivity` and
:func:`assetwatch.fleet.notifier.run_alerts`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.settings import Settings, load_settings
from assetwatch.fleet.connectivity import run_connectivity
from assetwatch.fleet.notifier import run_alerts
from assetwatch.flows.hooks import STATE_HOOKS

__all__ = ["alerts_flow"]


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def evaluate_and_notify(settings: Settings) -> dict[str, Any]:
    report = run_alerts(settings)
    return {"opened": report.opened, "resolved": report.resolved, "open": report.open_alerts,
            "delivered": report.delivered, "failed": report.failed}


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def connectivity_tickets(settings: Settings) -> dict[str, Any]:
    report = run_connectivity(settings)
    return {"opened": report.opened, "closed": report.closed, "open": report.open_tickets}


@flow(name="alerts", **STATE_HOOKS)
def alerts_flow() -> dict[str, Any]:
    """One round of connectivity tickets, alert evaluation and notification; the counts."""
    settings = load_settings()
    tickets = connectivity_tickets(settings)
    return {**evaluate_and_notify(settings), "connectivity_tickets": tickets}
