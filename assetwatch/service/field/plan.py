"""Planning the next days: open work -> jobs -> a solver -> visits in the database.

:func:`plan_dispatch` reads the open work (:func:`~assetwatch.service.field.work.
collect_work`), groups it into jobs per site and window (:func:`~assetwatch.service.field.
jobs.site_jobs`), asks a solver for assignments and, in one transaction, replaces the visits
still only planned by the new ones: a ``dispatch_plan`` row with its figures, a ``visit`` per
planned job (technician, start, end, travel, kit), the work it covers (``visit_work``), each
technician's available and planned minutes per day (``dispatch_capacity``); planned tickets
and work orders become ``scheduled`` (tickets with a ``ticket_history`` row), and those a
previous plan scheduled but this one does not go back to ``open``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.errors import DispatchError
from assetwatch.service.field.crew import load_crew
from assetwatch.service.field.geo import Place
from assetwatch.service.field.greedy import BaselineDispatcher, GreedySolver
from assetwatch.service.field.jobs import site_jobs
from assetwatch.service.field.solver import (
    Assignment,
    DispatchProblem,
    DispatchSolver,
    PlanMetrics,
    plan_metrics,
)
from assetwatch.service.field.work import collect_work, response_visits

__all__ = ["DispatchPolicy", "PlanSummary", "build_problem", "make_solver", "plan_dispatch",
           "solver_names"]


@dataclass(frozen=True)
class DispatchPolicy:
    """Horizon, travel and grouping of a plan. ``merge_window_hours`` 0 plans every work
    item as its own visit."""

    horizon_days: float = 5.0
    speed_kmh: float = 60.0
    road_factor: float = 1.3
    merge_window_hours: float = 48.0
    max_visit_minutes: int = 240
    merge_pm_days: float = 14.0
    time_limit_s: float = 30.0


@dataclass
class PlanSummary:
    """What one plan did."""

    plan_id: int
    solver: str
    seconds: float
    visits: int
    metrics: PlanMetrics
    unplanned_due: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        m = self.metrics
        return (f"plan {self.plan_id} ({self.solver}, {self.seconds:.1f} s): {self.visits} "
                f"visits covering {m.planned_items} of {m.work_items} work items; on time "
                f"{m.sla_met}/{m.sla_items} ({m.sla_attainment:.1%}), {m.overdue} already "
                f"overdue; travel share {m.travel_share:.1%}; utilisation {m.utilisation:.1%}")


def solver_names() -> list[str]:
    return ["ortools-routing", "greedy", "baseline"]


def make_solver(name: str | None = None, *, time_limit_s: float = 30.0) -> DispatchSolver:
    """The solver called ``name``; default OR-Tools routing, the greedy one without it."""
    if name in (None, "ortools-routing"):
        try:
            from assetwatch.service.field.routing import RoutingSolver
        except ImportError:
            if name is not None:
                raise DispatchError("OR-Tools is not installed; use --solver greedy") from None
            return GreedySolver()
        return RoutingSolver(time_limit_s=time_limit_s)
    if name == "greedy":
        return GreedySolver()
    if name == "baseline":
        return BaselineDispatcher()
    raise DispatchError(f"unknown solver {name!r}; use one of {', '.join(solver_names())}")


def plan_dispatch(conn: psycopg.Connection, *, as_of: datetime | None = None,
                  policy: DispatchPolicy = DispatchPolicy(),
                  technicians: list[str] | None = None,
                  solver: DispatchSolver | None = None) -> PlanSummary:
    """Plan the open work over ``[as_of, as_of + horizon)`` and store it (see the module).

    Raises :class:`DispatchError` for an unknown technician, a site with work but without
    coordinates, or a crew without any technician.
    """
    as_of = as_of or datetime.now(UTC)
    solver = solver or make_solver(time_limit_s=policy.time_limit_s)
    began = time.perf_counter()
    problem = build_problem(conn, as_of=as_of, policy=policy, technicians=technicians)
    jobs = problem.jobs
    assignments = solver.solve(problem)
    metrics = plan_metrics(problem, assignments)
    seconds = time.perf_counter() - began
    with conn.transaction():
        plan_id = _store(conn, problem, assignments, metrics, solver.name, seconds)
    planned = {a.job for a in assignments}
    end = problem.minute(problem.end)
    unplanned = [f"{job.site_id}: tickets {list(item.ticket_ids)} work orders "
                 f"{list(item.work_order_ids)}" for j, job in enumerate(jobs)
                 if j not in planned and (problem.deadline(j) or end) < end
                 for item in job.items]
    return PlanSummary(plan_id, solver.name, seconds, len(assignments), metrics, unplanned)


def build_problem(conn: psycopg.Connection, *, as_of: datetime,
                  policy: DispatchPolicy = DispatchPolicy(),
                  technicians: list[str] | None = None) -> DispatchProblem:
    """The dispatch problem of the open work at ``as_of``: crew, jobs, site places (the
    errors of :func:`plan_dispatch`)."""
    crew = load_crew(conn, technicians)
    if not crew:
        raise DispatchError("no technicians: load technicians.csv (assetwatch masterdata load)")
    items = collect_work(conn, as_of, merge_days=policy.merge_pm_days)
    end = as_of + timedelta(days=policy.horizon_days)
    last = max([end, *(i.sla_deadline for i in items if i.sla_deadline is not None)])
    items = response_visits(items, sorted(w for t in crew for w in t.windows(as_of, last)),
                            as_of)
    sites = _site_places(conn, {item.site_id for item in items})
    jobs = site_jobs(items, crew, window_hours=policy.merge_window_hours,
                     max_minutes=policy.max_visit_minutes)
    return DispatchProblem(as_of, end, tuple(jobs),
                           tuple(crew), sites, policy.speed_kmh, policy.road_factor)


def _site_places(conn: psycopg.Connection, needed: set[str]) -> dict[str, Place]:
    places, missing = {}, []
    for site_id, lat, lon in conn.execute(
            "SELECT site_id, latitude, longitude FROM v_site_contract WHERE site_id = ANY(%s)",
            (sorted(needed),)):
        if lat is None:
            missing.append(site_id)
        else:
            places[site_id] = (lat, lon)
    if missing:
        raise DispatchError(f"site {', '.join(map(repr, sorted(missing)))} has open work but no "
                            "coordinates: give latitude and longitude in sites.csv")
    return places


def _store(conn: psycopg.Connection, problem: DispatchProblem, plan: list[Assignment],
           metrics: PlanMetrics, solver: str, seconds: float) -> int:
    conn.execute("DELETE FROM visit WHERE status = 'planned'")
    row = conn.execute(
        "INSERT INTO dispatch_plan (made_at, horizon_start, horizon_end, solver, work_items,"
        " planned_items, seconds, sla_items, sla_met, travel_minutes, work_minutes,"
        " available_minutes) VALUES (now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING plan_id",
        (problem.start, problem.end, solver, metrics.work_items, metrics.planned_items,
         seconds, metrics.sla_items, metrics.sla_met, metrics.travel_minutes,
         metrics.work_minutes, metrics.available_minutes)).fetchone()
    assert row is not None
    plan_id = int(row[0])
    tickets: list[tuple[int, datetime]] = []
    orders: list[int] = []
    with conn.cursor() as cur:
        rows = []
        for a in plan:
            job, starts = problem.jobs[a.job], problem.at(a.start)
            rows.append((plan_id, problem.crew[a.technician].technician_id, job.site_id, starts,
                         starts + timedelta(minutes=job.minutes), a.travel,
                         Jsonb([{"part_no": p, "qty": q} for p, q in job.kit])))
        cur.executemany(
            "INSERT INTO visit (plan_id, technician_id, site_id, starts_at, ends_at,"
            " travel_minutes, kit) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING visit_id",
            rows, returning=True)
        visits = []
        while rows:
            visits.append(cur.fetchone()[0])  # type: ignore[index]
            if not cur.nextset():
                break
        work: list[tuple[int, int | None, int | None]] = []
        for a, visit_id in zip(plan, visits, strict=True):
            starts = problem.at(a.start)
            for item in problem.jobs[a.job].items:
                work += [(visit_id, t, None) for t in item.ticket_ids]
                work += [(visit_id, None, w) for w in item.work_order_ids]
                tickets += [(t, starts) for t in item.ticket_ids]
                orders += item.work_order_ids
        cur.executemany("INSERT INTO visit_work (visit_id, ticket_id, work_order_id)"
                        " VALUES (%s, %s, %s)", work)
        _schedule(cur, tickets, orders)
        _capacity(cur, plan_id, problem, plan)
    return plan_id


def _schedule(cur: psycopg.Cursor, tickets: list[tuple[int, datetime]],
              orders: list[int]) -> None:
    cur.execute(
        "WITH dropped AS (UPDATE service_ticket SET status = 'open', scheduled_for = NULL,"
        " updated_at = now() WHERE status = 'scheduled' AND ticket_id <> ALL(%s)"
        " AND ticket_id IN (SELECT ticket_id FROM ticket_history WHERE change = 'dispatched')"
        " RETURNING ticket_id) INSERT INTO ticket_history (ticket_id, change, detail)"
        " SELECT ticket_id, 'unscheduled', '{}' FROM dropped", ([t for t, _ in tickets],))
    planned = ([t for t, _ in tickets], [at for _, at in tickets])
    cur.execute(
        "UPDATE service_ticket t SET status = 'scheduled', scheduled_for = u.at,"
        " updated_at = now() FROM unnest(%s::bigint[], %s::timestamptz[]) AS u (id, at)"
        " WHERE t.ticket_id = u.id AND t.status IN ('open', 'scheduled')", planned)
    cur.execute("INSERT INTO ticket_history (ticket_id, change, detail)"
                " SELECT id, 'dispatched', jsonb_build_object('for', at)"
                " FROM unnest(%s::bigint[], %s::timestamptz[]) AS u (id, at)", planned)
    cur.execute("UPDATE pm_work_order SET status = 'open' WHERE status = 'scheduled'"
                " AND work_order_id <> ALL(%s)", (orders,))
    cur.execute("UPDATE pm_work_order SET status = 'scheduled' WHERE work_order_id = ANY(%s)",
                (orders,))


def _capacity(cur: psycopg.Cursor, plan_id: int, problem: DispatchProblem,
              plan: list[Assignment]) -> None:
    days: dict[tuple[int, date], list[float]] = {}
    for tour in problem.tours:
        key = (tour.technician, problem.at(tour.opens).date())
        days.setdefault(key, [0.0, 0.0, 0.0])[0] += tour.closes - tour.opens
    for a in plan:
        key = (a.technician, problem.at(a.start).date())
        if key in days:
            days[key][1] += problem.jobs[a.job].minutes
            days[key][2] += a.travel
    cur.executemany(
        "INSERT INTO dispatch_capacity (plan_id, technician_id, day, available_minutes,"
        " work_minutes, travel_minutes) VALUES (%s, %s, %s, %s, %s, %s)",
        [(plan_id, problem.crew[k].technician_id, day, *minutes)
         for (k, day), minutes in sorted(days.items())])
