"""The ``replenish`` flow: removed parts -> returns and repairs; replenishment rules -> orders.

Thin: the logic is :func:`assetwatch.service.warranty_claims.open_warranty_claims` (a claim
for each failure under warranty), :func:`assetwatch.service.returns.process_returns` (new removals
registered, default dispositions, repairs due back into stock) and then
:func:`assetwatch.service.replenishment.evaluate_replenishment` (one transaction under an
advisory lock; open orders and the repair pipeline count, so a retry orders nothing twice).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings, load_settings
from assetwatch.flows.hooks import STATE_HOOKS

__all__ = ["replenish_flow"]


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def evaluate(settings: Settings, at: datetime | None, auto_approve: bool) -> dict[str, int]:
    from assetwatch.service.replenishment import evaluate_replenishment

    with connect(settings, autocommit=True) as conn:
        return asdict(evaluate_replenishment(conn, at=at, auto_approve=auto_approve))


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def returns(settings: Settings, at: datetime | None) -> dict[str, int]:
    from assetwatch.service.returns import process_returns
    from assetwatch.service.warranty_claims import open_warranty_claims

    with connect(settings, autocommit=True) as conn:
        claims = open_warranty_claims(conn, at=at)
        return {**asdict(process_returns(conn, at=at)), "claims_opened": claims}


@flow(name="replenish", **STATE_HOOKS)
def replenish_flow(at: datetime | None = None, auto_approve: bool = False) -> dict[str, int]:
    """Process the returns (registered, dispositions, repairs due), then evaluate every
    (part, site) rule and raise orders: reorder-point orders proposed for the planner
    (ordered at once with ``auto_approve``), Kanban cards ordered; returns the counts."""
    settings = load_settings()
    return {**returns(settings, at), **evaluate(settings, at, auto_approve)}
