"""The ``demand`` flow: predicted failures -> parts demand, inventory policy, warranty claims.

Thin: the logic is :func:`assetwatch.service.demand.compute_demand`,
:func:`assetwatch.service.policy.compute_inventory_policy` and
:func:`assetwatch.service.configuration.compute_warranty_forecast`; each stores one run under
the same ``computed_at`` and replaces a run with that time, so a retry is safe.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings, load_settings
from assetwatch.flows.hooks import STATE_HOOKS

__all__ = ["demand_flow"]


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def resolve_time(settings: Settings, as_of: datetime | None) -> datetime:
    from assetwatch.service.demand import resolve_as_of

    with connect(settings, autocommit=True) as conn:
        return resolve_as_of(conn, as_of)


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def parts_demand(settings: Settings, as_of: datetime, computed_at: datetime, horizon_days: int,
                 period_days: int, quantile: float) -> int:
    from assetwatch.service.demand import compute_demand

    with connect(settings, autocommit=True) as conn:
        return compute_demand(conn, as_of=as_of, horizon_days=horizon_days,
                              period_days=period_days, quantile=quantile,
                              computed_at=computed_at)


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def inventory_policy(settings: Settings, as_of: datetime, computed_at: datetime,
                     horizon_days: int, service_level: float | str) -> int:
    from assetwatch.service.policy import compute_inventory_policy
    from assetwatch.service.service_levels import ServiceLevels

    levels = ServiceLevels.parse(str(service_level))
    with connect(settings, autocommit=True) as conn:
        return compute_inventory_policy(conn, as_of=as_of, service_level=levels,
                                        horizon_days=horizon_days, computed_at=computed_at)


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def warranty_claims(settings: Settings, as_of: datetime, computed_at: datetime) -> int:
    from assetwatch.service.configuration import compute_warranty_forecast

    with connect(settings, autocommit=True) as conn:
        return compute_warranty_forecast(conn, as_of=as_of, computed_at=computed_at)


@flow(name="demand", **STATE_HOOKS)
def demand_flow(as_of: datetime | None = None, horizon_days: int = 90, period_days: int = 30,
                quantile: float = 0.95, service_level: float | str = 0.95) -> dict[str, Any]:
    """Demand per part, site and period, the inventory policy and the warranty-claims forecast.

    ``service_level``: the policy's, one level or per ABC class as ``"A/B/C"`` (see
    :class:`~assetwatch.service.service_levels.ServiceLevels`).

    ``as_of`` defaults to the newest prediction time (simulated fleets run in the past), else
    now. Returns the rows written per table.
    """
    settings = load_settings()
    computed_at = datetime.now(UTC)
    at = resolve_time(settings, as_of)
    return {
        "as_of": at.isoformat(),
        "parts_demand": parts_demand(settings, at, computed_at, horizon_days, period_days,
                                     quantile),
        "inventory_policy": inventory_policy(settings, at, computed_at, horizon_days,
                                             service_level),
        "warranty_claim_forecast": warranty_claims(settings, at, computed_at),
    }
