"""One run of the service benchmark: the simulated fleet day by day through the product's
service code, with the signals of one row (``pipeline``, ``oracle`` or ``calendar``).

See :mod:`assetwatch.bench.service` for what is measured. Per evaluated day ``t``:

1. what the world did before ``t`` happens: a failure is reported (``failure`` event); a
   repair is a *visit* (the open ticket of that asset and component is closed through the
   ticket lifecycle, or the breakdown is repaired without one) that takes its parts from the
   product's stock of the row (:mod:`.service_parts`); planned maintenance consumes parts;
2. the row's signals advance to ``t`` (the pipeline: ingest, detectors, train, score);
3. ``update_tickets`` runs as its flow would; every ``period_days`` ``compute_demand``
   forecasts the next period;
4. ``compute_inventory_policy`` (the ``calendar`` row: the naive levels as fixed rules), then
   the product's parts day: deliveries, returns, replenishment; the naive policy's simulation
   reviews and orders on the same uses;
5. every ``dispatch_every_days`` (between 3 and 4) the row's field service plans the open
   work (:class:`~assetwatch.bench.service_dispatch.FieldService`); between the world's
   events its stored visits start and are closed out as the simulated time reaches them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg

from assetwatch.bench.inventory_sim import InventorySimulator, PolicyResult, naive_levels
from assetwatch.bench.service_dispatch import (
    WARM_UP_DAYS,
    DispatchTally,
    FieldService,
    SlaFigures,
    register_crew,
)
from assetwatch.bench.service_parts import PartsLedger
from assetwatch.bench.service_pipeline import PipelineSignals, StageTimes, Training
from assetwatch.bench.service_reference import REPLACE_FRACTION, ReferenceSignals
from assetwatch.bench.service_truth import BenchTruth, TrueFailure, TrueMaintenance, load_truth
from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.training import TrainOptions
from assetwatch.service.bom import explode, exploded_bom, kit_contents
from assetwatch.service.configuration import replace_component
from assetwatch.service.demand import compute_demand
from assetwatch.service.field.pm import open_pm_work_orders
from assetwatch.service.masterdata_load import load_sample_masterdata
from assetwatch.service.policy import compute_inventory_policy
from assetwatch.service.replenishment import set_rule
from assetwatch.service.service_levels import ServiceLevels
from assetwatch.service.ticket_lifecycle import close_ticket
from assetwatch.service.tickets import TicketPolicy, update_tickets
from assetwatch.sim.fleet import build_fleet

__all__ = ["BENCH_SERVICE_LEVELS", "BENCH_TICKET_POLICY", "MODES", "RunOptions",
           "ServiceBenchResult", "ServiceRun", "TicketOutcome", "Visit"]

log = logging.getLogger(__name__)

MODES = ("pipeline", "oracle", "calendar")
Key = tuple[str, str]           # (part_no, site_id)
Consumption = list[tuple[datetime, Key, int]]


#: the ticket policy of every row: the product's :class:`TicketPolicy` with the anomaly weight
#: and opening threshold chosen on a tuning world (seed 1, 25 assets, 90 evaluated days) by
#: ``bench service --tune-tickets`` (:mod:`.service_tuning`; docs/bench_service.md)
BENCH_TICKET_POLICY = TicketPolicy(anomaly_weight=0.3, open_threshold=0.65)

#: the inventory policy's service levels in every row (and the naive policy's), per ABC class
#: of usage value A/B/C, chosen on a tuning world (seed 1, 25 assets, 365 evaluated days) by
#: ``bench service --tune-service-level`` (:mod:`.service_stock_tuning`;
#: docs/bench_service.md, "Choosing the service levels"); the product's default is 0.95
BENCH_SERVICE_LEVELS = ServiceLevels(a=0.95, b=0.99, c=0.999)

#: days from a repair visit that lacked the failure mode's parts (not in its kit, or not at
#: hand) to the technician's second trip with them (the parts come by transfer or expedited)
SECOND_TRIP_DAYS = 2


@dataclass(frozen=True)
class RunOptions:
    """The world and the schedule of one run (the same for every row)."""

    sites: int = 4
    assets_per_site: int = 25
    days: int = 365
    history_days: int = 365
    telemetry_days: int = 180
    period_days: int = 30
    #: the inventory policy's service level (one, or per ABC class), the naive policy's too
    service_level: float | ServiceLevels = BENCH_SERVICE_LEVELS
    seed: int = 7
    sample_interval_s: float = 3600.0
    train_every_days: int = 91
    score_every_days: int = 1
    ticket_policy: TicketPolicy = BENCH_TICKET_POLICY
    calendar_fraction: float = REPLACE_FRACTION
    #: the failure models' training options (None: the train flow's defaults)
    train_options: TrainOptions | None = None
    #: dispatch the open work (and plan it with the baseline) every this many days; the plan's
    #: visits are executed (0: no field service, tickets wait for the world's repairs)
    dispatch_every_days: int = 1


@dataclass
class Visit:
    """The repair of one true failure: the ticket it answered (None: a breakdown nobody
    ticketed), whether that kit held the parts of the true failure mode, and whether they
    were at hand in the product's stock at the visit
    (:meth:`~assetwatch.bench.service_parts.PartsLedger.at_hand`)."""

    failure: TrueFailure | None     # None: a worn part replaced that would not have failed
    ticket_id: int | None
    kit_ok: bool
    in_stock: bool

    @property
    def first_time_fix(self) -> bool:
        return self.kit_ok and self.in_stock


@dataclass
class TicketOutcome:
    """An automatic ticket opened in the window, judged against the truth."""

    ticket_id: int
    opened_at: datetime
    true: bool          # a failure of its (asset, failure mode) while open or within horizon
    pending: bool       # still open at the end, its failure comes after the window


@dataclass
class ServiceBenchResult:
    """What one row did; :mod:`assetwatch.bench.service_figures` turns it into figures."""

    mode: str
    days: int
    assets: int
    period_days: int
    failures: list[TrueFailure] = field(default_factory=list)
    warning_days: dict[int, float] = field(default_factory=dict)   # failure index -> days
    #: indexes in ``failures`` of the failures a repair visit prevented (the failure time is
    #: when the replaced part would have failed)
    prevented: set[int] = field(default_factory=set)
    visits: list[Visit] = field(default_factory=list)
    tickets: list[TicketOutcome] = field(default_factory=list)
    policies: list[PolicyResult] = field(default_factory=list)
    forecast: list[dict[str, Any]] = field(default_factory=list)   # part x period
    consumption: Consumption = field(default_factory=list)
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    trainings: list[Training] = field(default_factory=list)      # the pipeline row's
    parts: dict[str, Any] = field(default_factory=dict)   # service_parts.PartsLedger.figures
    dispatch: DispatchTally = field(default_factory=DispatchTally)
    dispatch_baseline: DispatchTally = field(default_factory=DispatchTally)
    sla: SlaFigures | None = None     # the executed visits' SLA clocks (None: no dispatch)
    sla_all: SlaFigures | None = None   # the same over every ticket, the first week's too
    preventive_done: int = 0      # preventive work orders done by the row's visits
    preventive_renewed: int = 0   # component lives they renewed in the world


@dataclass(order=True)
class _Event:
    at: datetime
    order: int
    kind: str = field(compare=False)    # failure, replacement, maintenance, second_trip
    payload: Any = field(compare=False)
    #: the component's world version the event was drawn in (a repair redraws the world)
    version: int = field(default=0, compare=False)


class ServiceRun:
    """Set up the fleet in the database of ``settings`` and step through the simulated days
    with the signals of ``mode``."""

    #: the ``pipeline`` row's signals (a test replaces a stage of them to show it counts)
    pipeline_signals: type[PipelineSignals] = PipelineSignals

    def __init__(self, settings: Settings, mode: str, options: RunOptions, *,
                 start: datetime) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown row {mode!r}; use one of {', '.join(MODES)}")
        self.settings, self.mode, self.options = settings, mode, options
        self.fleet = build_fleet(options.sites, options.assets_per_site, options.seed, start)
        self.eval_start = start + timedelta(days=options.history_days)
        self.end = self.eval_start + timedelta(days=options.days)
        # with a field service, preventive maintenance in the window is the row's work
        # (product work orders dispatched into visits), not the world's own
        self.truth: BenchTruth = load_truth(
            self.fleet, self.end,
            planned_until=self.eval_start if options.dispatch_every_days else None)
        self.result = ServiceBenchResult(mode, options.days, len(self.fleet.assets),
                                         options.period_days)
        self.times = StageTimes()
        self.parts = PartsLedger(self.eval_start)
        self._rules: dict[Key, tuple[int, int]] = {}
        self.field: FieldService | None = None
        self._queue: list[_Event] = []
        self._order = itertools.count()
        self._version: dict[tuple[str, str], int] = defaultdict(int)
        self._forecasts: dict[datetime, dict[str, float]] = {}
        self._second_trips: set[int] = set()
        self._prevented_later: list[TrueFailure] = []   # prevented, would fail after the end

    # -- set-up ------------------------------------------------------------------------------

    def _register(self, conn: psycopg.Connection) -> None:
        specs = [AssetSpec(a.asset_tag, a.site_id, a.model_id, a.sensors, a.serial_no,
                           a.commissioned_on, a.criticality) for a in self.fleet.assets]
        self.ids = register_fleet(conn, [(s.site_id, s.name, s.customer, s.sla_hours)
                                         for s in self.fleet.sites],
                                  self.fleet.models(), specs)
        self.tags = {v: k for k, v in self.ids.items()}
        load_sample_masterdata(conn)
        for a in self.fleet.assets:
            for c in a.components:
                replace_component(conn, self.ids[a.asset_tag], c.component_type,
                                  serial_installed=c.serial_no, at=c.installed_at,
                                  part_no=c.part_no)
        self.bom = exploded_bom(conn)
        self.kits = kit_contents(conn)
        self.lead = {(p, s): float(d) for p, s, d in conn.execute(
            "SELECT part_no, site_id, lead_time_days FROM v_part_lead_time"
            " WHERE lead_time_days IS NOT NULL")}
        self.cost = {p: float(c) for p, c in conn.execute("SELECT part_no, unit_cost FROM part")}
        self.initial_stock = {(p, s): int(h) for p, s, h in conn.execute(
            "SELECT part_no, site_id, on_hand FROM stock")}
        register_crew(conn, self.options.seed, assets=len(self.fleet.assets),
                      on_call=(self.fleet.start.date(), self.end.date()))

    def _repair_parts(self, f: TrueFailure) -> dict[str, int]:
        """Parts a repair of ``f`` takes from the shelf: the component's bill of materials
        (kits exploded), plus any part the true failure mode needs beyond it."""
        return self._parts_for(f.model_id, f.component_type, f.parts)

    def _parts_for(self, model_id: str, component_type: str, mode_parts: tuple[str, ...]
                   ) -> dict[str, int]:
        parts = dict(self.bom.get((model_id, component_type), {}))
        for part_no in mode_parts:
            for p, q in explode(part_no, 1, self.kits).items():
                parts.setdefault(p, q)
        return parts

    def _maintenance_parts(self, m: TrueMaintenance) -> dict[str, int]:
        return explode(m.part_no, 1, self.kits) if m.part_no else {}

    def _consumption(self) -> Consumption:
        out: Consumption = []
        for f in self.truth.failures:
            if f.replaced_at is not None and f.replaced_at < self.end:
                for part_no, qty in self._repair_parts(f).items():
                    out.append((f.replaced_at, (part_no, f.site_id), qty))
        for m in self.truth.maintenance:
            for part_no, qty in self._maintenance_parts(m).items():
                out.append((m.at, (part_no, m.site_id), qty))
        out.sort(key=lambda e: e[0])
        return out

    def _push(self, at: datetime, kind: str, payload: Any, version: int = 0) -> None:
        heapq.heappush(self._queue, _Event(at, next(self._order), kind, payload, version))

    def _push_failures(self, failures: list[TrueFailure]) -> None:
        """Queue failures and their repairs in the component's current world version."""
        for f in failures:
            version = self._version[(f.asset_tag, f.component_type)]
            self._push(f.failed_at, "failure", f, version)
            if f.replaced_at is not None and f.replaced_at < self.end:
                self._push(f.replaced_at, "replacement", f, version)

    def _stale(self, event: _Event) -> bool:
        """A failure or repair of a world a technician's repair has since redrawn."""
        if event.kind not in ("failure", "replacement"):
            return False
        f: TrueFailure = event.payload
        return event.version != self._version[(f.asset_tag, f.component_type)]

    def _world_changed(self, tag: str, component_type: str, at: datetime) -> None:
        """The component was repaired at ``at``: its queued failures are void, its new ones
        are queued."""
        self._version[(tag, component_type)] += 1
        self._push_failures(self.truth.failures_from(tag, component_type, at))

    # -- the run -----------------------------------------------------------------------------

    def execute(self) -> ServiceBenchResult:
        started = time.perf_counter()
        opts = self.options
        with psycopg.connect(self.settings.db_url, autocommit=True) as conn:
            self._register(conn)
            # the uses the world would make without the row's repairs name every part and
            # site the naive policy keeps; the uses that count are recorded as they happen
            unattended = self._consumption()
            keys = set(self.initial_stock) | {k for _, k, _ in unattended}
            consumption = [u for u in unattended if u[0] < self.eval_start]
            self.result.consumption = consumption
            # the naive policy, simulated on the same uses: the reference for the row's stock,
            # which is the product's own (self.parts)
            self.naive = InventorySimulator("naive policy", dict(self.initial_stock),
                                            self.lead, self.cost)
            self._push_failures(self.truth.failures)
            for m in self.truth.maintenance:
                self._push(m.at, "maintenance", m)
            self.field = FieldService(self.truth, self.tags, repair=self._repair_on_site,
                                      maintain=self._maintain_on_site,
                                      replace_on_due=self.mode == "calendar") \
                if opts.dispatch_every_days else None
            while self._queue and self._queue[0].at < self.eval_start:
                self._apply(conn, heapq.heappop(self._queue), evaluating=False)
            signals = self._signals(conn)
            try:
                for day in range(opts.days + 1):
                    t = self.eval_start + timedelta(days=day)
                    while self._queue and self._queue[0].at < t:
                        upcoming = self._queue[0]
                        self._visits_until(conn, upcoming.at)   # may change the world
                        if self._queue[0] is not upcoming:
                            continue
                        event = heapq.heappop(self._queue)
                        if not self._stale(event):
                            self._apply(conn, event, evaluating=True)
                    self._visits_until(conn, t)
                    if day == opts.days:
                        break
                    self._step(conn, signals, t, day, consumption, keys)
            finally:
                if isinstance(signals, PipelineSignals):
                    signals.close()
                    self.result.trainings = list(signals.trainings)
            self._settle_forecasts()
            self._judge_tickets(conn)
            if self.field is not None:
                self.result.dispatch = self.field.ours
                self.result.dispatch_baseline = self.field.baseline
                self.result.sla = self.field.sla_figures(
                    conn, self.eval_start + timedelta(days=WARM_UP_DAYS), self.end)
                self.result.sla_all = self.field.sla_figures(conn, self.eval_start, self.end)
            self.result.parts = self.parts.figures(conn, self.naive.result.units_ordered)
            self.result.policies = [self.parts.stock_result(conn), self.naive.result]
        self.result.seconds = time.perf_counter() - started
        self.result.stage_seconds = dict(self.times.seconds)
        return self.result

    def _signals(self, conn: psycopg.Connection) -> PipelineSignals | ReferenceSignals:
        opts = self.options
        if self.mode != "pipeline":
            return ReferenceSignals(conn, self.mode, self.truth, self.ids,
                                    replace_fraction=opts.calendar_fraction)
        signals = self.pipeline_signals(
            self.settings, self.fleet,
            telemetry_start=self.eval_start - timedelta(days=opts.telemetry_days),
            end=self.end, sample_interval_s=opts.sample_interval_s,
            train_every_days=opts.train_every_days, score_every_days=opts.score_every_days,
            train_options=opts.train_options, times=self.times,
            timelines=self.truth.timelines)
        t = self.eval_start - timedelta(days=opts.telemetry_days)
        while t < self.eval_start:   # the history's telemetry, a week per transaction
            t = min(self.eval_start, t + timedelta(days=7))
            signals.warm_up(t)
        return signals

    def _step(self, conn: psycopg.Connection, signals: PipelineSignals | ReferenceSignals,
              t: datetime, day: int, consumption: Consumption, keys: set[Key]) -> None:
        opts = self.options
        started = time.perf_counter()
        if isinstance(signals, PipelineSignals):
            signals.advance(t)
        else:
            signals.advance(conn, t)
            self.times.add(f"{self.mode} predictions", started)
        started = time.perf_counter()
        update_tickets(conn, as_of=t, policy=opts.ticket_policy)
        self.times.add("tickets", started)
        if day % opts.period_days == 0 and t + timedelta(days=opts.period_days) <= self.end:
            started = time.perf_counter()
            self._forecast(conn, t)
            self.times.add("demand", started)
        if self.field is not None and day % opts.dispatch_every_days == 0:
            started = time.perf_counter()
            open_pm_work_orders(conn, as_of=t)
            self.field.plan(conn, t)
            self.times.add("dispatch", started)
        started = time.perf_counter()
        naive = naive_levels(consumption, t, window_days=opts.history_days,
                             lead_days=self.lead, keys=keys,
                             service_level=opts.service_level, unit_cost=self.cost)
        self.naive.receive(t)
        self.naive.review(t, naive)
        self.naive.sample()
        self.times.add("inventory simulation", started)
        started = time.perf_counter()
        if self.mode == "calendar":    # no monitoring: the naive levels as fixed rules
            self._naive_rules(conn, naive)
        else:
            compute_inventory_policy(conn, as_of=t, service_level=opts.service_level,
                                     computed_at=t)
            conn.execute("DELETE FROM inventory_policy WHERE computed_at < %s", (t,))
        self.times.add("policy", started)
        started = time.perf_counter()
        self.parts.day(conn, t)
        self.parts.sample(conn)
        self.times.add("parts operations", started)
        if day % 30 == 0:
            log.info("%s day %d: %d failures so far", self.mode, day,
                     len(self.result.failures))

    # -- the world happens ------------------------------------------------------------------

    def _visits_until(self, conn: psycopg.Connection, until: datetime) -> None:
        """The row's field service works until ``until`` (before the world's next event)."""
        if self.field is not None:
            started = time.perf_counter()
            self.field.work_until(conn, until)
            self.times.add("visits", started)

    def _open_tickets(self, conn: psycopg.Connection, asset_id: int, component_type: str
                      ) -> list[tuple[int, str, datetime, list[dict[str, Any]]]]:
        """Open tickets of (asset, component), oldest first: (id, failure mode, opened at,
        kit)."""
        rows = conn.execute(
            "SELECT t.ticket_id, t.failure_mode, t.opened_at, t.kit FROM service_ticket t"
            " JOIN failure_mode f USING (failure_mode) WHERE t.asset_id = %s AND"
            " f.component_type = %s AND t.status <> 'closed' AND t.kind = 'equipment'"
            " ORDER BY t.opened_at, t.ticket_id", (asset_id, component_type)).fetchall()
        return [(int(r[0]), str(r[1]), r[2], list(r[3] or [])) for r in rows]

    @staticmethod
    def _answering(tickets: list[tuple[int, str, datetime, list[dict[str, Any]]]],
                   f: TrueFailure) -> tuple[int, str, datetime, list[dict[str, Any]]] | None:
        """The ticket a technician answers ``f`` with: the one naming its failure mode, else
        the oldest of the component's (a wrong diagnosis), opened before the failure."""
        before = [t for t in tickets if t[2] <= f.failed_at]
        right = [t for t in before if t[1] == f.failure_mode]
        chosen = right or before
        return chosen[0] if chosen else None

    def _apply(self, conn: psycopg.Connection, event: _Event, *, evaluating: bool) -> None:
        """Ground truth happens: the installed base, events, tickets and stock follow."""
        if event.kind == "maintenance":
            m: TrueMaintenance = event.payload
            conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, part_no,"
                         " code) VALUES (%s, %s, %s, 'maintenance', %s, %s) ON CONFLICT DO"
                         " NOTHING", (f"{m.asset_tag}-M-{m.task}-{m.at.timestamp():.0f}",
                                      self.ids[m.asset_tag], m.at, m.part_no, m.task))
            if evaluating:
                parts = self._maintenance_parts(m)
                self._naive_take(m.site_id, parts, m.at)
                self.parts.at_hand(conn, m.site_id, parts, m.at)
                self.parts.take(conn, m.site_id, parts, m.at)
                self._use(m.at, m.site_id, parts)
            return
        if event.kind == "second_trip":
            self._second_trip(conn, *event.payload, at=event.at)
            return
        f: TrueFailure = event.payload
        asset_id = self.ids[f.asset_tag]
        if event.kind == "failure":
            conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind,"
                         " component_type, part_no, code) VALUES (%s, %s, %s, 'failure', %s,"
                         " %s, %s) ON CONFLICT DO NOTHING",
                         (f"{f.asset_tag}-F-{event.order}", asset_id, f.failed_at,
                          f.component_type, f.parts[0],
                          f.failure_mode))
            if evaluating:
                index = len(self.result.failures)
                self.result.failures.append(f)
                ticket = self._answering(self._open_tickets(conn, asset_id, f.component_type),
                                         f)
                if ticket is not None and ticket[1] == f.failure_mode:
                    self.result.warning_days[index] = (
                        f.failed_at - ticket[2]).total_seconds() / 86400.0
            return
        self._repair(conn, f, event.order, evaluating=evaluating)

    def _repair(self, conn: psycopg.Connection, f: TrueFailure, order: int, *,
                evaluating: bool) -> None:
        assert f.replaced_at is not None    # only repaired failures have a replacement event
        asset_id = self.ids[f.asset_tag]
        serial = f.new_serial or f"{f.asset_tag}-{f.component_type}-{order}"
        tickets = self._open_tickets(conn, asset_id, f.component_type) if evaluating else []
        ticket = self._answering(tickets, f)
        if ticket is not None:
            ticket_id, mode, _, kit = ticket
            carried = {item["part_no"] for item in kit}
            kit_ok = all(p in carried or p in self._kit_parts(carried) for p in f.parts)
            parts = self._repair_parts(f)
            self._naive_take(f.site_id, parts, f.replaced_at)
            self._use(f.replaced_at, f.site_id, parts)
            found = self.parts.at_hand(conn, f.site_id, parts, f.replaced_at, ticket_id)
            in_stock = self._found_all(found, self._mode_parts(f))
            self.result.visits.append(Visit(f, ticket_id, kit_ok, in_stock))
            if mode == f.failure_mode:
                self.parts.before_visit(conn, ticket_id, f.site_id, parts, f.replaced_at)
                close_ticket(conn, ticket_id, resolution_code="confirmed_failure",
                             at=f.replaced_at, part_no=f.parts[0], serial_installed=serial,
                             parts_used=parts)
            else:   # a wrong diagnosis: the kit goes back, the parts come from the shelf
                close_ticket(conn, ticket_id, resolution_code="no_fault_found",
                             at=f.replaced_at)
                self.parts.take(conn, f.site_id, parts, f.replaced_at)
            for other in tickets:   # the component is new: its other tickets are answered
                if other[0] != ticket_id:
                    close_ticket(conn, other[0], resolution_code="duplicate",
                                 at=f.replaced_at)
            if mode == f.failure_mode:
                return
        elif evaluating:
            # a breakdown: diagnosed on site, fixed at once only from the site's shelf
            parts = self._repair_parts(f)
            self._naive_take(f.site_id, parts, f.replaced_at)
            self._use(f.replaced_at, f.site_id, parts)
            found = self.parts.at_hand(conn, f.site_id, parts, f.replaced_at)
            in_stock = self._found_all(found, self._mode_parts(f))
            self.result.visits.append(Visit(f, None, True, in_stock))
            self.parts.take(conn, f.site_id, parts, f.replaced_at)
        replace_component(conn, asset_id, f.component_type, serial_installed=serial,
                          at=f.replaced_at, part_no=f.parts[0])
        conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, component_type,"
                     " part_no, serial_installed, code) VALUES (%s, %s, %s, 'part_replaced', %s,"
                     " %s, %s, %s) ON CONFLICT DO NOTHING",
                     (f"{f.asset_tag}-R-{order}", asset_id, f.replaced_at,
                      f.component_type, f.parts[0], serial, f.failure_mode))

    # -- the technician on site ---------------------------------------------------------------

    def _repair_on_site(self, conn: psycopg.Connection, ticket_id: int, at: datetime) -> bool:
        """A repair visit found the component of ``ticket_id`` worn or failed at ``at``, or
        the ``calendar`` row's visit replaces it at its age whatever it shows (the field
        service's call). When the visit's kit holds the parts of the failure mode that
        is really under way and they are at hand, the technician fits them (a first-time
        fix): the world's failure of that part is averted (or the failed part replaced) and
        the ticket closes ``preventive_replacement`` (``confirmed_failure``). Otherwise the
        visit needs a second trip, :data:`SECOND_TRIP_DAYS` later, with the right parts; the
        ticket stays open. Returns whether the ticket was closed."""
        row = self._ticket_on_site(conn, ticket_id)
        if row is None:     # closed meanwhile (the world's repair came first)
            self._second_trips.discard(ticket_id)
            return True
        asset_id, component_type, kit, opened_at, site_id, model_id = row
        tag = self.tags[asset_id]
        mode_parts = self.truth.mode_parts_in_service(tag, component_type, at)
        parts = self._parts_for(model_id, component_type, mode_parts)
        if ticket_id in self._second_trips:    # back with what the first trip lacked
            self._fix(conn, ticket_id, asset_id, component_type, site_id, parts, opened_at, at)
            return True
        carried = {str(item["part_no"]) for item in kit}
        kit_ok = all(p in carried or p in self._kit_parts(carried) for p in mode_parts)
        found = self.parts.at_hand(conn, site_id, parts, at, ticket_id)
        in_stock = self._found_all(found, self._exploded(mode_parts))
        self.result.visits.append(Visit(self.truth.failure_in_service(tag, component_type, at),
                                        ticket_id, kit_ok, in_stock))
        if not (kit_ok and in_stock):
            self._second_trips.add(ticket_id)
            self._push(at + timedelta(days=SECOND_TRIP_DAYS), "second_trip", (ticket_id,))
            return False
        self._fix(conn, ticket_id, asset_id, component_type, site_id, parts, opened_at, at)
        return True

    def _maintain_on_site(self, conn: psycopg.Connection, visit_id: int, at: datetime) -> None:
        """The visit's open preventive work orders are done at ``at``: each task takes its
        kit's parts from the site's stock (what the site lacks comes by transfer or
        expedited) and happens in the world (it may renew components, whose failures are
        redrawn); closing the visit then closes the work orders (maintenance events)."""
        for asset_id, site_id, task, kit in conn.execute(
                "SELECT w.asset_id, a.site_id, w.task, w.kit FROM pm_work_order w"
                " JOIN visit_work vw USING (work_order_id) JOIN asset a USING (asset_id)"
                " WHERE vw.visit_id = %s AND w.status <> 'closed' ORDER BY w.work_order_id",
                (visit_id,)).fetchall():
            parts: dict[str, int] = {}
            for item in kit or []:
                for p, q in explode(str(item["part_no"]), int(item["qty"]), self.kits).items():
                    parts[p] = parts.get(p, 0) + q
            self._naive_take(site_id, parts, at)
            self.parts.at_hand(conn, site_id, parts, at)
            self.parts.take(conn, site_id, parts, at)
            self._use(at, site_id, parts)
            tag = self.tags[asset_id]
            renewed = self.truth.apply_planned_task(tag, task, at)
            for component_type in renewed:
                self._world_changed(tag, component_type, at)
            self.result.preventive_done += 1
            self.result.preventive_renewed += len(renewed)

    def _second_trip(self, conn: psycopg.Connection, ticket_id: int, *, at: datetime) -> None:
        """The technician comes back with the right parts (unless a visit or the world's
        repair has closed the ticket since)."""
        if ticket_id in self._second_trips:
            self._repair_on_site(conn, ticket_id, at)

    def _ticket_on_site(self, conn: psycopg.Connection, ticket_id: int
                        ) -> tuple[int, str, list[dict[str, Any]], datetime, str, str] | None:
        row = conn.execute(
            "SELECT t.asset_id, f.component_type, t.kit, t.opened_at, a.site_id, a.model_id"
            " FROM service_ticket t JOIN failure_mode f USING (failure_mode)"
            " JOIN asset a USING (asset_id) WHERE t.ticket_id = %s AND t.status <> 'closed'",
            (ticket_id,)).fetchone()
        if row is None:
            return None
        return (int(row[0]), str(row[1]), list(row[2] or []), row[3], str(row[4]),
                str(row[5]))

    def _fix(self, conn: psycopg.Connection, ticket_id: int, asset_id: int,
             component_type: str, site_id: str, parts: dict[str, int], opened_at: datetime,
             at: datetime) -> None:
        """Fit ``parts`` at ``at``: the world redrawn from then on, the ticket closed with
        the replacement (installed base, events, label, parts from its reservation), the
        component's other tickets answered, a failure averted counted as prevented."""
        self._second_trips.discard(ticket_id)
        tag = self.tags[asset_id]
        would_fail = self.truth.failure_in_service(tag, component_type, at)
        failed = would_fail is not None and would_fail.failed_at <= at
        outcome = self.truth.apply_maintenance(tag, component_type, at, tuple(parts))
        assert outcome.result != "no_fault_found", "the parts cover the failure mode"
        self._world_changed(tag, component_type, at)
        self._naive_take(site_id, parts, at)
        self._use(at, site_id, parts)
        self.parts.before_visit(conn, ticket_id, site_id, parts, at)
        close_ticket(conn, ticket_id,
                     resolution_code="confirmed_failure" if failed else "preventive_replacement",
                     at=at, serial_installed=self.truth.serial_in_service(
                         tag, component_type, at), parts_used=parts)
        for other in self._open_tickets(conn, asset_id, component_type):
            close_ticket(conn, other[0], resolution_code="duplicate", at=at)
        if would_fail is None or failed:
            return
        if would_fail.failed_at >= self.end:
            self._prevented_later.append(would_fail)
        elif would_fail.failed_at >= self.eval_start:
            index = len(self.result.failures)
            self.result.failures.append(would_fail)
            self.result.prevented.add(index)
            self.result.warning_days[index] = (
                would_fail.failed_at - opened_at).total_seconds() / 86400.0

    def _kit_parts(self, carried: set[str]) -> set[str]:
        out: set[str] = set()
        for part_no in carried:
            out.update(explode(part_no, 1, self.kits))
        return out

    def _mode_parts(self, f: TrueFailure) -> dict[str, int]:
        """What the true failure mode needs (kits exploded)."""
        return self._exploded(f.parts)

    def _exploded(self, mode_parts: tuple[str, ...]) -> dict[str, int]:
        needed: dict[str, int] = {}
        for part_no in mode_parts:
            for p, q in explode(part_no, 1, self.kits).items():
                needed[p] = needed.get(p, 0) + q
        return needed

    @staticmethod
    def _found_all(found: dict[str, int], needed: dict[str, int]) -> bool:
        return all(found.get(p, 0) >= q for p, q in needed.items())

    def _use(self, at: datetime, site_id: str, parts: dict[str, int]) -> None:
        """Record a use of parts in the window (the demand forecasts are judged on these)."""
        self.result.consumption.extend((at, (p, site_id), q) for p, q in sorted(parts.items()))

    def _naive_take(self, site_id: str, parts: dict[str, int], at: datetime) -> None:
        """The same use in the naive policy's simulation."""
        self.naive.receive(at)
        for part_no, qty in parts.items():
            self.naive.consume((part_no, site_id), qty)

    def _naive_rules(self, conn: psycopg.Connection,
                     levels: dict[Key, tuple[float, float]]) -> None:
        """The calendar row stocks by the naive policy: its levels become the product's
        replenishment rules (reorder point, order-up-to), changed only where they moved."""
        for (part_no, site_id), (reorder_point, order_up_to) in sorted(levels.items()):
            rule = (math.ceil(reorder_point), max(math.ceil(order_up_to),
                                                  math.ceil(reorder_point) + 1))
            if self._rules.get((part_no, site_id)) != rule:
                set_rule(conn, part_no, site_id, "reorder_point", reorder_point=rule[0],
                         order_up_to=rule[1])
                self._rules[(part_no, site_id)] = rule

    # -- judging ----------------------------------------------------------------------------

    def _judge_tickets(self, conn: psycopg.Connection) -> None:
        horizon = timedelta(days=self.options.ticket_policy.horizon_days)
        failed: dict[tuple[str, str], list[datetime]] = defaultdict(list)
        prevented = [f for i, f in enumerate(self.result.failures) if i in self.result.prevented]
        for f in [*self.truth.failures, *self.truth.later_failures, *prevented,
                  *self._prevented_later]:
            failed[(f.asset_tag, f.failure_mode)].append(f.failed_at)
        rows = conn.execute(
            "SELECT ticket_id, asset_id, failure_mode, opened_at, closed_at FROM service_ticket"
            " WHERE opened_by = 'auto' AND kind = 'equipment' AND opened_at >= %s",
            (self.eval_start,)).fetchall()
        for ticket_id, asset_id, mode, opened, closed in rows:
            times = failed.get((self.tags[asset_id], mode), [])
            until = max(closed or self.end, opened + horizon)
            true = any(opened <= at <= until for at in times)
            pending = closed is None and not any(opened <= at < self.end for at in times) \
                and true
            self.result.tickets.append(TicketOutcome(int(ticket_id), opened, true, pending))

    # -- inventory and demand ---------------------------------------------------------------

    def _forecast(self, conn: psycopg.Connection, t: datetime) -> None:
        period = self.options.period_days
        compute_demand(conn, as_of=t, horizon_days=period, period_days=period, computed_at=t)
        forecast: dict[str, float] = defaultdict(float)
        for part_no, qty in conn.execute(
                "SELECT part_no, sum(expected_qty + planned_qty) FROM parts_demand"
                " WHERE computed_at = %s GROUP BY part_no", (t,)):
            forecast[part_no] += float(qty)
        self._forecasts[t] = dict(forecast)

    def _settle_forecasts(self) -> None:
        """Each period's forecast beside the parts the period actually used (known once the
        run is over: the row's repairs change what the world uses)."""
        period = timedelta(days=self.options.period_days)
        for t, forecast in sorted(self._forecasts.items()):
            actual: dict[str, int] = defaultdict(int)
            for at, (part_no, _), qty in self.result.consumption:
                if t <= at < t + period:
                    actual[part_no] += qty
            for part_no in sorted(set(forecast) | set(actual)):
                self.result.forecast.append({"period_start": t, "part_no": part_no,
                                             "forecast": forecast.get(part_no, 0.0),
                                             "actual": actual.get(part_no, 0)})
