"""The ``dispatch`` flow: preventive work orders, SLA breaches, then the visit plan.

Thin: the logic is in :mod:`assetwatch.service.field` (``pm``, ``sla``, ``plan``); each step
is one transaction, so a retried task does not plan twice.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings, load_settings
from assetwatch.flows.hooks import STATE_HOOKS

__all__ = ["dispatch_flow"]


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def open_preventive_work(settings: Settings, as_of: datetime) -> dict[str, int]:
    from assetwatch.service.field.pm import open_pm_work_orders

    with connect(settings, autocommit=True) as conn:
        return asdict(open_pm_work_orders(conn, as_of))


@task(retries=2, retry_delay_seconds=5, cache_policy=NO_CACHE)
def record_sla(settings: Settings, as_of: datetime) -> dict[str, int]:
    from assetwatch.service.field.sla import record_sla_events

    with connect(settings, autocommit=True) as conn:
        return asdict(record_sla_events(conn, as_of))


@task(retries=1, retry_delay_seconds=5, cache_policy=NO_CACHE)
def plan_visits(settings: Settings, as_of: datetime, horizon_days: float,
                solver: str | None) -> dict[str, object]:
    from assetwatch.service.field.plan import make_solver, plan_dispatch
    from assetwatch.service.field.run import policy_from

    policy = policy_from(settings, horizon_days=horizon_days)
    with connect(settings, autocommit=True) as conn:
        summary = plan_dispatch(conn, as_of=as_of, policy=policy,
                                solver=make_solver(solver, time_limit_s=policy.time_limit_s))
    m = summary.metrics
    return {"plan_id": summary.plan_id, "solver": summary.solver, "visits": summary.visits,
            "work_items": m.work_items, "planned_items": m.planned_items,
            "on_time": m.sla_met, "due": m.sla_items, "travel_share": round(m.travel_share, 4),
            "utilisation": round(m.utilisation, 4)}


@flow(name="dispatch", **STATE_HOOKS)
def dispatch_flow(as_of: datetime | None = None, horizon_days: float = 5.0,
                  solver: str | None = None) -> dict[str, object]:
    """Open due preventive work orders, record SLA breaches and near-breaches, and plan the
    open work into visits over ``horizon_days`` from ``as_of`` (default now)."""
    settings = load_settings()
    as_of = as_of or datetime.now(UTC)
    return {"preventive": open_preventive_work(settings, as_of),
            "sla": record_sla(settings, as_of),
            "plan": plan_visits(settings, as_of, horizon_days, solver)}
