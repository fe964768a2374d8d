"""One dispatch run: open due preventive work, record SLA breaches, plan the open work.

The ``dispatch`` flow's tasks and ``assetwatch dispatch plan`` both call these steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from assetwatch.core.settings import Settings
from assetwatch.service.field.plan import DispatchPolicy, PlanSummary, make_solver, plan_dispatch
from assetwatch.service.field.pm import PmSummary, open_pm_work_orders
from assetwatch.service.field.sla import SlaSummary, record_sla_events

__all__ = ["DispatchRun", "policy_from", "run_dispatch"]


@dataclass
class DispatchRun:
    pm: PmSummary
    sla: SlaSummary
    plan: PlanSummary

    def __str__(self) -> str:
        text = (f"preventive work orders: {self.pm.opened} opened, {self.pm.moved} moved; "
                f"SLA: {self.sla.breaches} new breaches, {self.sla.near_breaches} near "
                f"breaches\n{self.plan}")
        if self.plan.unplanned_due:
            text += (f"\nnot planned although due in the horizon ({len(self.plan.unplanned_due)}"
                     "): " + "; ".join(self.plan.unplanned_due[:10]))
        return text


def policy_from(settings: Settings, *, horizon_days: float = 5.0,
                time_limit_s: float | None = None) -> DispatchPolicy:
    """The dispatch policy of these settings (speed, road factor, solver time)."""
    return DispatchPolicy(horizon_days=horizon_days, speed_kmh=settings.dispatch_speed_kmh,
                          road_factor=settings.dispatch_road_factor,
                          time_limit_s=time_limit_s or settings.dispatch_time_limit_s)


def run_dispatch(conn: psycopg.Connection, settings: Settings, *, as_of: datetime | None = None,
                 horizon_days: float = 5.0, technicians: list[str] | None = None,
                 solver: str | None = None, time_limit_s: float | None = None) -> DispatchRun:
    """All three steps at ``as_of`` (default now)."""
    as_of = as_of or datetime.now(UTC)
    policy = policy_from(settings, horizon_days=horizon_days, time_limit_s=time_limit_s)
    pm = open_pm_work_orders(conn, as_of)
    sla = record_sla_events(conn, as_of)
    plan = plan_dispatch(conn, as_of=as_of, policy=policy, technicians=technicians,
                         solver=make_solver(solver, time_limit_s=policy.time_limit_s))
    return DispatchRun(pm, sla, plan)
