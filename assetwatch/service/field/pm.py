"""Preventive maintenance as work: per-asset schedules and work orders with kits.

Each asset of a model with a maintenance plan does each task every ``interval_days``, every
``interval_run_hours`` of operation or every ``interval_starts`` starts, whichever comes
first, counted from the task's last ``maintenance`` event (its code is the task), else from
the asset's commissioning date (assets with neither are left out: no basis to count from).

Usage comes from the telemetry's operating state: the asset runs while its ``state_sensor``
(default ``speed``) reads above ``running_above``; the time between two running readings
(at most ``max_gap_hours``) is run time, and a running reading after a stopped one (or after
a gap) is a start. The usage due date is projected with the mean daily usage of the last
``usage_lookback_days``.

:func:`open_pm_work_orders` opens a work order (one open per asset and task, kit exploded
from the plan's parts) for every task due within ``horizon_days``, and moves the due date of
open, unscheduled ones.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.bom import explode, kit_contents

__all__ = ["PmDue", "PmPolicy", "PmSummary", "open_pm_work_orders", "pm_schedule"]


@dataclass(frozen=True)
class PmPolicy:
    """How usage is counted and how far ahead work orders open (see the module)."""

    horizon_days: float = 14.0
    state_sensor: str = "speed"
    running_above: float = 100.0
    max_gap_hours: float = 1.0
    usage_lookback_days: float = 7.0


@dataclass(frozen=True)
class PmDue:
    """When one task is next due at one asset, and on which basis."""

    asset_id: int
    site_id: str
    task: str
    basis: str              # days | run_hours | starts
    due_at: datetime
    last_done: datetime
    run_hours: float        # since last done
    starts: int
    kit: tuple[tuple[str, int], ...]
    duration_minutes: int


@dataclass
class PmSummary:
    opened: int = 0
    moved: int = 0


def pm_schedule(conn: psycopg.Connection, as_of: datetime | None = None,
                policy: PmPolicy = PmPolicy()) -> list[PmDue]:
    """Every (asset, task) of a maintenance plan with its next due date, soonest first."""
    as_of = as_of or datetime.now(UTC)
    tasks = _tasks(conn, as_of)
    if not tasks:
        return []
    since: dict[int, datetime] = {}   # the telemetry is read only for usage-based tasks
    for (asset_id, _), task in tasks.items():
        if task["run_hours"] or task["starts"]:
            since[asset_id] = min(since.get(asset_id, task["last"]), task["last"],
                                  as_of - timedelta(days=policy.usage_lookback_days))
    usage = _usage(conn, since, as_of, policy) if since else {}
    kits = kit_contents(conn)
    out = []
    for (asset_id, name), task in tasks.items():
        hours = usage.get(asset_id, [])
        used_hours = sum(h[1] for h in hours if h[0] >= task["last"]) / 3600
        used_starts = sum(h[2] for h in hours if h[0] >= task["last"])
        recent = [h for h in hours if h[0] >= as_of - timedelta(days=policy.usage_lookback_days)]
        rate_hours = sum(h[1] for h in recent) / 3600 / policy.usage_lookback_days
        rate_starts = sum(h[2] for h in recent) / policy.usage_lookback_days
        candidates = []
        if task["days"]:
            candidates.append((task["last"] + timedelta(days=task["days"]), "days"))
        for interval, used, rate, basis in ((task["run_hours"], used_hours, rate_hours,
                                             "run_hours"),
                                            (task["starts"], used_starts, rate_starts, "starts")):
            if interval and (used >= interval or rate > 0):
                left = max(0.0, interval - used)
                candidates.append((as_of + timedelta(days=left / rate if left else 0), basis))
        if not candidates:
            continue
        due_at, basis = min(candidates)
        leaves: dict[str, int] = defaultdict(int)
        for part_no, qty in task["parts"]:
            for leaf, n in explode(part_no, qty, kits).items():
                leaves[leaf] += n
        out.append(PmDue(asset_id, task["site_id"], name, basis, due_at, task["last"],
                         round(used_hours, 2), int(used_starts), tuple(sorted(leaves.items())),
                         task["duration"]))
    return sorted(out, key=lambda d: (d.due_at, d.asset_id, d.task))


def open_pm_work_orders(conn: psycopg.Connection, as_of: datetime | None = None,
                        policy: PmPolicy = PmPolicy()) -> PmSummary:
    """Open work orders for tasks due within the horizon; move open ones' due dates."""
    as_of = as_of or datetime.now(UTC)
    summary = PmSummary()
    with conn.transaction():
        for due in pm_schedule(conn, as_of, policy):
            if due.due_at > as_of + timedelta(days=policy.horizon_days):
                continue
            kit = Jsonb([{"part_no": p, "qty": q} for p, q in due.kit])
            moved = conn.execute(
                "UPDATE pm_work_order SET due_at = %s, basis = %s WHERE asset_id = %s AND"
                " task = %s AND status = 'open' AND due_at <> %s RETURNING 1",
                (due.due_at, due.basis, due.asset_id, due.task, due.due_at)).fetchone()
            summary.moved += bool(moved)
            opened = conn.execute(
                "INSERT INTO pm_work_order (asset_id, task, basis, due_at, kit,"
                " duration_minutes, opened_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (asset_id, task) WHERE status <> 'closed' DO NOTHING RETURNING 1",
                (due.asset_id, due.task, due.basis, due.due_at, kit, due.duration_minutes,
                 as_of)).fetchone()
            summary.opened += bool(opened)
    return summary


def _tasks(conn: psycopg.Connection, as_of: datetime) -> dict[tuple[int, str], dict[str, Any]]:
    rows = conn.execute(
        """
        SELECT a.asset_id, a.site_id, mp.task, mp.interval_days, mp.interval_run_hours,
               mp.interval_starts, mp.duration_minutes, mp.part_no, mp.qty,
               coalesce(last.time, a.commissioned_on::timestamptz) AS last_done
        FROM v_maintenance_plan mp
        JOIN v_asset a ON a.model_id = mp.model_id
        LEFT JOIN LATERAL (
            SELECT max(e.time) AS time FROM v_asset_event e
            WHERE e.asset_id = a.asset_id AND e.kind = 'maintenance' AND e.code = mp.task
              AND e.time <= %s) last ON true
        ORDER BY a.asset_id, mp.task, mp.part_no
        """, (as_of,)).fetchall()
    tasks: dict[tuple[int, str], dict[str, Any]] = {}
    for asset_id, site_id, task, days, hours, starts, duration, part_no, qty, last in rows:
        if last is None:
            continue
        entry = tasks.setdefault((asset_id, task), {
            "site_id": site_id, "days": days, "run_hours": hours, "starts": starts,
            "duration": duration, "last": last, "parts": []})
        entry["parts"].append((part_no, qty))
    return tasks


def _usage(conn: psycopg.Connection, since: dict[int, datetime], as_of: datetime,
           policy: PmPolicy) -> dict[int, list[tuple[datetime, float, int]]]:
    """asset -> [(hour, run seconds, starts)] from its operating-state readings."""
    rows = conn.execute(
        """
        WITH s AS (SELECT unnest(%(assets)s::integer[]) AS asset_id,
                          unnest(%(since)s::timestamptz[]) AS since),
        r AS (
            SELECT v.asset_id, v.time, v.value > %(above)s AS running,
                   lag(v.value > %(above)s) OVER w AS was_running,
                   extract(epoch FROM v.time - lag(v.time) OVER w) AS gap
            FROM v_telemetry v JOIN s USING (asset_id)
            WHERE v.sensor = %(sensor)s AND v.time > s.since AND v.time <= %(as_of)s
            WINDOW w AS (PARTITION BY v.asset_id ORDER BY v.time))
        SELECT asset_id, time_bucket('1 hour', time) AS hour,
               sum(CASE WHEN running AND was_running AND gap <= %(max_gap)s THEN gap ELSE 0
                   END) AS run_seconds,
               count(*) FILTER (WHERE running AND (NOT coalesce(was_running, false)
                                                   OR gap > %(max_gap)s)) AS starts
        FROM r GROUP BY 1, 2 ORDER BY 1, 2
        """, {"assets": list(since), "since": list(since.values()), "as_of": as_of,
              "above": policy.running_above, "sensor": policy.state_sensor,
              "max_gap": policy.max_gap_hours * 3600}).fetchall()
    out: dict[int, list[tuple[datetime, float, int]]] = defaultdict(list)
    for asset_id, hour, seconds, starts in rows:
        out[asset_id].append((hour, float(seconds), int(starts)))
    return out
