"""Field service inside ``bench service``: the row's open work dispatched every day, its visits
executed, its SLA clocks read; the baseline dispatcher planned on the same work.

The simulated fleet's sites get places in a 100 km square and a crew of one technician per
25 assets (at least two), each with every asset model's skills, Monday to Friday
08:00-16:30, homes in the same square (seeded by the world's seed), and a weekend on-call
rota: each weekend one technician in turn works Saturday and Sunday 08:00-16:30 (the others
are recorded absent), as a service organisation with 24-hour response contracts must. Each
site's contract adds a restore time (:data:`RESTORE_AFTER_RESPONSE_HOURS` after its response
time). :class:`FieldService` is the row's service organisation:

* every ``dispatch_every_days`` (default daily, as the dispatch flow runs) at the day's start
  it records the SLA breaches and near-breaches (:func:`~assetwatch.service.field.sla.
  record_sla_events`) and plans the open work of the row (its tickets and the preventive
  work orders the product's maintenance plans opened, :func:`~assetwatch.service.field.pm.
  open_pm_work_orders`: in the window the world does no planned task of its own) over the
  next 5 days with the product's dispatch
  (:func:`~assetwatch.service.field.plan.plan_dispatch`: OR-Tools routing, visits merged per
  site and window, the plan stored, its tickets ``scheduled``); the baseline (due-date order,
  nearest free technician, one visit per work item) plans the same work and crew, measured
  and not stored;
* as the simulated time passes the stored plan's visits happen: each starts at its planned
  time (:func:`~assetwatch.service.field.visits.start_visits`: the visit ``started``, its
  tickets ``in_progress``, their response clocks stopped). On site the technician finds a
  fault when the component in service shows wear (its precursor's onset has passed: never
  for a part that will fail by a shock) or has failed (the world's truth); tickets without
  one close ``no_fault_found`` at the visit's end, the kit going back to the shelf
  (:func:`~assetwatch.service.field.closeout.close_visit`). A repair visit that found a
  fault hands it to ``repair`` (the run's technician: the kit's parts fitted when they cover
  the failure mode under way, which changes the world from then on, else a second trip); a
  response visit (no kit) is closed not fixed, its tickets open again for the repair.
  A visit's preventive work orders are done at its end (``maintain``: the parts taken, the
  task done in the world, where it may renew a wearing component) and close with it.

The SLA figures (:meth:`FieldService.sla_figures`) read the product's clocks at the end of
the window: a ticket's response deadline is its ``respond_by`` (opening plus the site
contract's response hours, the database's SLA clock), never its predicted due date.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import psycopg

from assetwatch.bench.service_truth import BenchTruth
from assetwatch.service.field.closeout import close_visit
from assetwatch.service.field.greedy import BaselineDispatcher
from assetwatch.service.field.plan import DispatchPolicy, build_problem, make_solver, plan_dispatch
from assetwatch.service.field.sla import record_sla_events
from assetwatch.service.field.solver import PlanMetrics, plan_metrics
from assetwatch.service.field.visits import start_visits
from assetwatch.service.ticket_lifecycle import close_ticket

__all__ = ["WARM_UP_DAYS", "DispatchTally", "FieldService", "SlaFigures", "register_crew"]

_KM_PER_DEGREE = 111.0


@dataclass
class DispatchTally:
    """Sums over the plans of one planner."""

    plans: int = 0
    due: int = 0
    on_time: int = 0
    overdue: int = 0
    travel_minutes: float = 0.0
    work_minutes: float = 0.0
    available_minutes: float = 0.0
    per_plan: list[PlanMetrics] = field(default_factory=list)

    def add(self, m: PlanMetrics) -> None:
        self.plans += 1
        self.due += m.sla_items
        self.on_time += m.sla_met
        self.overdue += m.overdue
        self.travel_minutes += m.travel_minutes
        self.work_minutes += m.work_minutes
        self.available_minutes += m.available_minutes
        self.per_plan.append(m)

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def travel_share(self) -> float | None:
        busy = self.travel_minutes + self.work_minutes
        return self.travel_minutes / busy if busy else None

    @property
    def utilisation(self) -> float | None:
        busy = self.travel_minutes + self.work_minutes
        return busy / self.available_minutes if self.available_minutes else None


#: each site's contract restores within its response time plus this many hours (24 h
#: response: 72 h restore), set by hand as service contracts commonly read, not tuned
RESTORE_AFTER_RESPONSE_HOURS = 48


def register_crew(conn: psycopg.Connection, seed: int, *, assets: int,
                  region_km: float = 100.0, on_call: tuple[date, date] | None = None) -> None:
    """Places and restore times for the registered sites and a crew (see the module);
    ``on_call`` the first
    and last day of the weekend rota (None: no weekend work)."""
    rng = random.Random(seed)

    def place() -> tuple[float, float]:
        return (48.0 + rng.uniform(0, region_km) / _KM_PER_DEGREE,
                11.0 + rng.uniform(0, region_km) / (_KM_PER_DEGREE * 0.669))

    sites = [r[0] for r in conn.execute("SELECT site_id FROM site ORDER BY site_id")]
    models = [r[0] for r in conn.execute("SELECT model_id FROM asset_model ORDER BY model_id")]
    with conn.cursor() as cur:
        cur.executemany("UPDATE site SET latitude = %s, longitude = %s, restore_hours ="
                        " sla_hours + %s WHERE site_id = %s",
                        [(*place(), RESTORE_AFTER_RESPONSE_HOURS, s) for s in sites])
        for k in range(max(2, assets // 25)):
            who = f"T{k + 1:02d}"
            cur.execute("INSERT INTO technician (technician_id, name, home_base, home_latitude,"
                        " home_longitude) VALUES (%s, %s, 'home', %s, %s)",
                        (who, f"Technician {k + 1}", *place()))
            cur.executemany("INSERT INTO technician_skill (technician_id, model_id)"
                            " VALUES (%s, %s)", [(who, m) for m in models])
            cur.executemany("INSERT INTO technician_shift (technician_id, weekday, starts,"
                            " ends) VALUES (%s, %s, '08:00', '16:30')",
                            [(who, d) for d in range(1, 6 if on_call is None else 8)])
        if on_call is not None:
            cur.executemany("INSERT INTO technician_absence (technician_id, first_day,"
                            " last_day, reason) VALUES (%s, %s, %s, 'not on call')",
                            _off_call(max(2, assets // 25), *on_call))


def _off_call(crew: int, first: date, last: date) -> list[tuple[str, date, date]]:
    """(technician, Saturday, Sunday) of every weekend in ``[first, last]`` that is not the
    technician's turn on call (turns follow the weekends in order)."""
    saturday = first + timedelta(days=(5 - first.weekday()) % 7)
    rows, turn = [], 0
    while saturday <= last:
        rows.extend((f"T{k + 1:02d}", saturday, saturday + timedelta(days=1))
                    for k in range(crew) if k != turn % crew)
        saturday += timedelta(days=7)
        turn += 1
    return rows


#: the solver's search time per plan at most (shared out over the horizon's days); the search
#: ends earlier, by its solution count (``routing.SOLUTION_LIMIT``), on every plan of the
#: default world, so the plans do not depend on the machine. Chosen on seed 1 (100 assets, 60
#: evaluated days, the oracle's 49 open tickets) when the clock alone stopped the search: 5 s,
#: 1 s and 0.5 s gave the same plan (on time, driving, time on site).
TIME_LIMIT_S = 1.0

#: the SLA figures judge the tickets opened from this many days into the window on: on its
#: first day a row opens at once the tickets of every component already near its end (the
#: history before the window opened none), a backlog no crew of the size clears by the
#: contracts' 24-72 h; on seed 7 (50 assets, 90 days, the oracle row) it was worked off by
#: the fifth day. Figures over every ticket are printed beside them.
WARM_UP_DAYS = 7


@dataclass
class SlaFigures:
    """The product's SLA clocks of the window's tickets at its end (cancelled and duplicate
    tickets left out, as the product does), the events it recorded, and the visits done."""

    response_met: int = 0
    response_breached: int = 0
    response_running: int = 0
    restore_met: int = 0
    restore_breached: int = 0
    near_breach_events: int = 0
    breach_events: int = 0
    visits: int = 0
    response_visits: int = 0
    no_fault_found: int = 0

    @property
    def response_attainment(self) -> float | None:
        judged = self.response_met + self.response_breached
        return self.response_met / judged if judged else None

    @property
    def restore_attainment(self) -> float | None:
        judged = self.restore_met + self.restore_breached
        return self.restore_met / judged if judged else None


@dataclass
class _OnSite:
    ends_at: datetime
    visit_id: int
    no_fault: list[int]         # tickets the technician finds no fault for
    found: list[int]            # tickets whose fault is there
    response_only: bool         # a response visit: no kit, the repair comes later


class FieldService:
    """The row's dispatch, visits and close-out (see the module).

    ``truth`` and ``tags`` (asset id -> tag) give what the technician finds on site;
    ``repair(conn, ticket_id, at)`` does the repair of a fault found by a repair visit and
    says whether it closed the ticket (None: found faults wait for the world's repair);
    with ``replace_on_due`` every ticket's part is replaced whatever its state (age-based
    replacement: the ``calendar`` row)."""

    def __init__(self, truth: BenchTruth, tags: dict[int, str], *,
                 time_limit_s: float = TIME_LIMIT_S,
                 repair: Callable[[psycopg.Connection, int, datetime], bool] | None = None,
                 maintain: Callable[[psycopg.Connection, int, datetime], None] | None = None,
                 replace_on_due: bool = False) -> None:
        self.truth, self.tags = truth, tags
        self.replace_on_due = replace_on_due
        self.repair = repair
        self.maintain = maintain
        self.time_limit_s = time_limit_s
        self.ours, self.baseline = DispatchTally(), DispatchTally()
        self._on_site: list[_OnSite] = []
        self._visits = 0
        self._response_visits = 0
        self._no_fault = 0

    def plan(self, conn: psycopg.Connection, at: datetime) -> None:
        """The day's dispatch at ``at``: SLA events, the baseline measured, our plan stored."""
        record_sla_events(conn, at)
        problem = build_problem(conn, as_of=at, policy=DispatchPolicy(merge_window_hours=0.0))
        if problem.jobs:
            self.baseline.add(plan_metrics(problem, BaselineDispatcher().solve(problem)))
        summary = plan_dispatch(conn, as_of=at,
                                policy=DispatchPolicy(time_limit_s=self.time_limit_s),
                                solver=make_solver(time_limit_s=self.time_limit_s))
        if summary.metrics.work_items:
            self.ours.add(summary.metrics)

    def work_until(self, conn: psycopg.Connection, until: datetime) -> None:
        """The visits that start before ``until`` start, and those that end before it are
        closed out as far as the technician can (see the module)."""
        for visit in start_visits(conn, until=until):
            self._visits += 1
            found = {t: self.replace_on_due or self._fault_found(conn, t, visit.started_at)
                     for t in visit.tickets}
            row = conn.execute("SELECT kit = '[]'::jsonb FROM visit WHERE visit_id = %s",
                               (visit.visit_id,)).fetchone()
            response_only = bool(row and row[0]) and bool(visit.tickets)
            self._response_visits += response_only
            self._on_site.append(_OnSite(visit.ends_at, visit.visit_id,
                                         [t for t, f in found.items() if not f],
                                         [t for t, f in found.items() if f], response_only))
        self._on_site.sort(key=lambda v: (v.ends_at, v.visit_id))
        while self._on_site and self._on_site[0].ends_at < until:
            self._close_out(conn, self._on_site.pop(0))

    def _fault_found(self, conn: psycopg.Connection, ticket_id: int, at: datetime) -> bool:
        row = conn.execute("SELECT t.asset_id, f.component_type FROM service_ticket t"
                           " JOIN failure_mode f USING (failure_mode) WHERE t.ticket_id = %s",
                           (ticket_id,)).fetchone()
        if row is None:
            return True
        return self.truth.wear_visible(self.tags[row[0]], row[1], at)

    def _close_out(self, conn: psycopg.Connection, done: _OnSite) -> None:
        """At the visit's end: tickets without a fault close ``no_fault_found`` (with the
        visit through :func:`close_visit` when none has a fault); a response visit that
        found a fault is closed not fixed (its tickets open again for the repair); a repair
        visit's found faults go to ``repair``: the visit is done when it closed them all,
        else closed not fixed (a second trip). The visit's preventive work orders are done
        first (``maintain``) and close with the visit, also a visit with no ticket left."""
        if self.maintain is not None:
            self.maintain(conn, done.visit_id, done.ends_at)
        still = {r[0] for r in conn.execute(
            "SELECT ticket_id FROM service_ticket WHERE ticket_id = ANY(%s)"
            " AND status <> 'closed'", (done.no_fault + done.found,))}
        no_fault = sorted(still & set(done.no_fault))
        self._no_fault += len(no_fault)
        row = conn.execute("SELECT extract(epoch FROM ends_at - starts_at) / 60 FROM visit"
                           " WHERE visit_id = %s", (done.visit_id,)).fetchone()
        minutes = float(row[0]) if row else 0.0
        if no_fault and not still & set(done.found):
            close_visit(conn, done.visit_id, on_site_minutes=minutes, parts_used={},
                        resolution_code="no_fault_found", at=done.ends_at,
                        note="no fault found on site")
            return
        for ticket_id in no_fault:
            close_ticket(conn, ticket_id, resolution_code="no_fault_found", at=done.ends_at,
                         note="no fault found on site")
        found = sorted(still & set(done.found))
        if done.response_only and found:
            close_visit(conn, done.visit_id, on_site_minutes=minutes, parts_used={},
                        fixed=False, at=done.ends_at, note="fault found: repair to plan")
        elif found and self.repair is not None:
            closed = [self.repair(conn, ticket_id, done.ends_at) for ticket_id in found]
            # the repairs closed their tickets with the parts used; the visit is done, or
            # not fixed when a ticket waits for a second trip
            close_visit(conn, done.visit_id, on_site_minutes=minutes, parts_used={},
                        fixed=all(closed), at=done.ends_at,
                        note=None if all(closed) else "parts missing: second trip")
        elif not found and not no_fault:    # preventive work only, or tickets closed meanwhile
            close_visit(conn, done.visit_id, on_site_minutes=minutes, parts_used={},
                        at=done.ends_at)

    def sla_figures(self, conn: psycopg.Connection, since: datetime,
                    end: datetime) -> SlaFigures:
        """The clocks at ``end`` of the equipment tickets opened in ``[since, end)``."""
        out = SlaFigures(visits=self._visits, response_visits=self._response_visits,
                         no_fault_found=self._no_fault)
        record_sla_events(conn, end)
        for clock, state, n in conn.execute(
                "SELECT c.clock, sla_clock_state(t.opened_at, c.deadline, c.done, %(end)s),"
                " count(*) FROM service_ticket t CROSS JOIN LATERAL (VALUES"
                " ('response', t.respond_by, t.responded_at),"
                " ('restore', t.restore_by, t.closed_at)) AS c (clock, deadline, done)"
                " WHERE t.kind = 'equipment' AND t.opened_at >= %(since)s"
                " AND t.opened_at < %(end)s AND c.deadline IS NOT NULL"
                " AND t.resolution_code IS DISTINCT FROM 'cancelled'"
                " AND t.resolution_code IS DISTINCT FROM 'duplicate' GROUP BY 1, 2",
                {"since": since, "end": end}):
            if clock == "response":
                if state == "met":
                    out.response_met += n
                elif state == "breached":
                    out.response_breached += n
                else:
                    out.response_running += n
            elif state in ("met", "breached"):
                setattr(out, f"restore_{state}", getattr(out, f"restore_{state}") + n)
        for state, n in conn.execute(
                "SELECT e.state, count(*) FROM sla_event e JOIN service_ticket t USING"
                " (ticket_id) WHERE t.opened_at >= %s AND t.opened_at < %s GROUP BY 1",
                (since, end)):
            if state == "near_breach":
                out.near_breach_events += n
            else:
                out.breach_events += n
        return out
