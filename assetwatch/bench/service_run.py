"""One run of the service benchmark: the simulated fleet day by day through the real service
code (tickets, lifecycle, policy, demand) in a database, against the fleet's ground truth.
See :mod:`assetwatch.bench.service` for what is measured."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.bench.inventory_sim import InventorySimulator, PolicyResult, naive_levels
from assetwatch.bench.service_predictors import predict_component
from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.service.bom import explode, exploded_bom, kit_contents
from assetwatch.service.configuration import replace_component
from assetwatch.service.demand import compute_demand
from assetwatch.service.masterdata_load import load_sample_masterdata
from assetwatch.service.orders import expedite_shortage
from assetwatch.service.policy import compute_inventory_policy
from assetwatch.service.ticket_lifecycle import close_ticket
from assetwatch.service.tickets import update_tickets
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.truth import Failure, FleetTruth, fleet_truth

__all__ = ["ServiceBenchResult", "ServiceRun"]

log = logging.getLogger(__name__)

HORIZONS = (7, 30, 90)
Key = tuple[str, str]


@dataclass
class ServiceBenchResult:
    """The figures of one run."""

    days: int
    assets: int
    failures: int = 0
    failures_ticketed_before: int = 0
    auto_tickets: int = 0
    tickets_pending_true: int = 0   # open at the end, the component fails within 90 days after
    ticket_closures: int = 0
    first_time_fixes: int = 0
    lead_days: list[float] = field(default_factory=list)
    policies: list[PolicyResult] = field(default_factory=list)
    forecast: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tickets_per_failure(self) -> float:
        """Tickets opened in the window per failure in it; tickets still open at the end for a
        failure that comes after the window are left out (their failure is not counted)."""
        counted = self.auto_tickets - self.tickets_pending_true
        return counted / self.failures if self.failures else 0.0

    @property
    def ticketed_share(self) -> float:
        return self.failures_ticketed_before / self.failures if self.failures else 0.0

    @property
    def first_time_fix_rate(self) -> float:
        return self.first_time_fixes / self.ticket_closures if self.ticket_closures else 0.0


@dataclass(order=True)
class _Event:
    at: datetime
    order: int
    kind: str = field(compare=False)          # failure, replacement, maintenance
    payload: Any = field(compare=False)


class ServiceRun:
    """Set up the fleet in the database and step through the simulated days."""

    def __init__(self, settings: Settings, *, sites: int, assets_per_site: int,
                 start: datetime, history_days: int, days: int, period_days: int,
                 service_level: float, predictor: str, seed: int,
                 sample_interval_s: float = 3600.0, score_every_days: int = 1,
                 retrain_days: int = 90) -> None:
        self.settings = settings
        self.sample_interval_s = sample_interval_s
        self.score_every_days, self.retrain_days = score_every_days, retrain_days
        self.fleet = build_fleet(sites, assets_per_site, seed, start)
        self.eval_start = start + timedelta(days=history_days)
        self.end = self.eval_start + timedelta(days=days)
        self.days, self.period_days = days, period_days
        self.history_days = history_days
        self.service_level, self.predictor, self.seed = service_level, predictor, seed
        self.truth: FleetTruth = fleet_truth(self.fleet, self.end)
        self.result = ServiceBenchResult(days=days, assets=len(self.fleet.assets))

    # -- set-up ------------------------------------------------------------------------------

    def _register(self, conn: psycopg.Connection) -> None:
        specs = [AssetSpec(a.asset_tag, a.site_id, a.model_id, a.sensors, a.serial_no,
                           a.commissioned_on, a.criticality) for a in self.fleet.assets]
        self.ids = register_fleet(conn, [(s.site_id, s.name, s.customer, s.sla_hours)
                                         for s in self.fleet.sites],
                                  self.fleet.models(), specs)
        load_sample_masterdata(conn)
        for a in self.fleet.assets:
            for c in a.components:
                replace_component(conn, self.ids[a.asset_tag], c.component_type,
                                  serial_installed=c.serial_no, at=c.installed_at,
                                  part_no=c.part_no)
        row = conn.execute("INSERT INTO model_version (model_name, version, is_current, params)"
                           " VALUES ('bench-stand-in', 1, false, %s) RETURNING model_version_id",
                           (Jsonb({"predictor": self.predictor}),)).fetchone()
        assert row is not None
        self.model_version_id = int(row[0])
        self.bom = exploded_bom(conn)
        self.kits = kit_contents(conn)
        self.lead = {(p, s): float(d) for p, s, d in conn.execute(
            "SELECT part_no, site_id, lead_time_days FROM v_part_lead_time"
            " WHERE lead_time_days IS NOT NULL")}
        self.cost = {p: float(c) for p, c in conn.execute("SELECT part_no, unit_cost FROM part")}
        self.initial_stock = {(p, s): int(h) for p, s, h in conn.execute(
            "SELECT part_no, site_id, on_hand FROM stock")}

    def _consumption(self) -> list[tuple[datetime, Key, int]]:
        out: list[tuple[datetime, Key, int]] = []
        for f in self.truth.failures:
            if f.replaced_at < self.end:
                for part_no, qty in self.bom.get((f.model_id, f.component_type), {}).items():
                    out.append((f.replaced_at, (part_no, f.site_id), qty))
        for m in self.truth.maintenance:
            if m.part_no:
                for part_no, qty in explode(m.part_no, 1, self.kits).items():
                    out.append((m.at, (part_no, m.site_id), qty))
        out.sort(key=lambda e: e[0])
        return out

    def _events(self) -> list[_Event]:
        events: list[_Event] = []
        for i, f in enumerate(self.truth.failures):
            events.append(_Event(f.failed_at, 2 * i, "failure", f))
            if f.replaced_at < self.end:
                events.append(_Event(f.replaced_at, 2 * i + 1, "replacement", f))
        base = 2 * len(events) + 2
        for i, m in enumerate(self.truth.maintenance):
            events.append(_Event(m.at, base + i, "maintenance", m))
        events.sort()
        return events

    # -- the run -----------------------------------------------------------------------------

    def execute(self) -> ServiceBenchResult:
        with psycopg.connect(self.settings.db_url, autocommit=True) as conn:
            self._register(conn)
            if self.predictor == "models":
                log.info("telemetry: %d readings", self._load_telemetry(conn))
            consumption = self._consumption()
            keys = set(self.initial_stock) | {k for _, k, _ in consumption}
            sims = [InventorySimulator("computed policy (predicted demand)",
                                       dict(self.initial_stock), self.lead, self.cost),
                    InventorySimulator("naive policy (historical averages)",
                                       dict(self.initial_stock), self.lead, self.cost)]
            events = self._events()
            position = 0
            while position < len(events) and events[position].at < self.eval_start:
                self._apply(conn, events[position], None)
                position += 1
            pending: dict[tuple[int, str], tuple[int, list[dict[str, Any]]]] = {}
            for day in range(self.days + 1):
                t = self.eval_start + timedelta(days=day)
                while position < len(events) and events[position].at < t:
                    event = events[position]
                    self._apply(conn, event, pending)
                    if event.kind in ("replacement", "maintenance"):
                        self._consume(sims, event)
                    position += 1
                if day == self.days:
                    break
                self._predict(conn, t)
                update_tickets(conn, as_of=t)
                if day % self.period_days == 0 and t + timedelta(days=self.period_days) <= \
                        self.end:
                    self._forecast(conn, t, consumption)
                levels = self._computed_levels(conn, t)
                naive = naive_levels(consumption, t, window_days=self.history_days,
                                     lead_days=self.lead, keys=keys,
                                     service_level=self.service_level)
                for sim, lv in zip(sims, (levels, naive), strict=True):
                    sim.receive(t)
                    sim.review(t, lv)
                    sim.sample()
                if day % 30 == 0:
                    log.info("day %d: %d failures so far", day, self.result.failures)
            self._count_tickets(conn)
        self.result.policies = [s.result for s in sims]
        return self.result

    def _count_tickets(self, conn: psycopg.Connection) -> None:
        rows = conn.execute(
            "SELECT a.asset_tag, f.component_type, t.status FROM service_ticket t"
            " JOIN asset a USING (asset_id) JOIN failure_mode f USING (failure_mode)"
            " WHERE t.opened_by = 'auto' AND t.opened_at >= %s", (self.eval_start,)).fetchall()
        self.result.auto_tickets = len(rows)
        end_ms = int(self.end.timestamp() * 1000)
        soon_ms = end_ms + 90 * 86_400_000
        for tag, component_type, status in rows:
            if status == "closed":
                continue
            life = self.truth.timelines[tag].life_at(component_type, end_ms)
            self.result.tickets_pending_true += life.failed_ms < soon_ms

    def _apply(self, conn: psycopg.Connection, event: _Event,
               pending: dict[tuple[int, str], tuple[int, list[dict[str, Any]]]] | None) -> None:
        """Ground truth happens: the installed base, events and tickets follow."""
        if event.kind == "maintenance":
            m = event.payload
            conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, part_no,"
                         " code) VALUES (%s, %s, %s, 'maintenance', %s, %s) ON CONFLICT DO"
                         " NOTHING", (f"{m.asset_tag}-M-{m.task}-{m.at.timestamp():.0f}",
                                      self.ids[m.asset_tag], m.at, m.part_no, m.task))
            return
        f: Failure = event.payload
        asset_id = self.ids[f.asset_tag]
        key = (asset_id, f.failure_mode)
        if event.kind == "failure":
            conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind,"
                         " component_type, part_no, code) VALUES (%s, %s, %s, 'failure', %s,"
                         " %s, %s) ON CONFLICT DO NOTHING",
                         (f"{f.asset_tag}-F-{event.order}", asset_id, f.failed_at,
                          f.component_type, f.part_no, f.failure_mode))
            if pending is None:
                return
            self.result.failures += 1
            row = conn.execute("SELECT ticket_id, opened_at, kit FROM service_ticket WHERE"
                               " asset_id = %s AND failure_mode = %s AND status <> 'closed'",
                               key).fetchone()
            if row is not None and row[1] <= f.failed_at:
                self.result.failures_ticketed_before += 1
                self.result.lead_days.append((f.failed_at - row[1]).total_seconds() / 86400)
            return
        serial = f.new_serial or f"{f.asset_tag}-{f.component_type}-{event.order}"
        row = conn.execute("SELECT ticket_id, kit FROM service_ticket WHERE asset_id = %s AND"
                           " failure_mode = %s AND status <> 'closed'", key).fetchone()
        if pending is not None and row is not None:
            expedite_shortage(conn, row[0], at=f.replaced_at)  # the part is fitted regardless
            close_ticket(conn, row[0], resolution_code="confirmed_failure", at=f.replaced_at,
                         part_no=f.part_no, serial_installed=serial)
            self.result.ticket_closures += 1
            self.result.first_time_fixes += any(i["part_no"] == f.part_no for i in row[1])
            return
        replace_component(conn, asset_id, f.component_type, serial_installed=serial,
                          at=f.replaced_at, part_no=f.part_no)
        conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, component_type,"
                     " part_no, serial_installed, code) VALUES (%s, %s, %s, 'part_replaced', %s,"
                     " %s, %s, %s) ON CONFLICT DO NOTHING",
                     (f"{f.asset_tag}-R-{event.order}", asset_id, f.replaced_at,
                      f.component_type, f.part_no, serial, f.failure_mode))

    def _consume(self, sims: list[InventorySimulator], event: _Event) -> None:
        if event.kind == "replacement":
            f = event.payload
            parts = self.bom.get((f.model_id, f.component_type), {})
            site = f.site_id
        else:
            m = event.payload
            parts = explode(m.part_no, 1, self.kits) if m.part_no else {}
            site = m.site_id
        for sim in sims:
            sim.receive(event.at)
            for part_no, qty in parts.items():
                sim.consume((part_no, site), qty)

    def _load_telemetry(self, conn: psycopg.Connection) -> int:
        """The fleet's readings for the whole window (features only read before ``as_of``)."""
        from assetwatch.core.source import Sample
        from assetwatch.sim.simulator import FleetSimulator

        sensor_ids = {(tag, name): sid for tag, name, sid in conn.execute(
            "SELECT a.asset_tag, s.name, s.sensor_id FROM sensor s JOIN asset a"
            " USING (asset_id)")}
        days = (self.end - self.fleet.start).total_seconds() / 86400.0
        sim = FleetSimulator(self.fleet, days=days, sample_interval_s=self.sample_interval_s)
        written = 0
        with conn.cursor() as cur, cur.copy(
                "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN"
                " (FORMAT BINARY)") as copy:
            copy.set_types(["timestamptz", "integer", "integer", "double precision"])
            while not sim.exhausted:
                for item in sim.poll(200_000, 0.0):
                    if not isinstance(item, Sample):
                        continue
                    at = datetime.fromtimestamp(item.ts_ms / 1000, tz=self.fleet.start.tzinfo)
                    asset_id = self.ids[item.asset]
                    for name, value in item.values:
                        copy.write_row((at, asset_id, sensor_ids[(item.asset, name)], value))
                        written += 1
        return written

    def _train(self, t: datetime) -> None:
        from assetwatch.models.prediction.training import train_models

        results = train_models(self.settings, as_of=t, horizons=(7, 30))
        log.info("trained at %s: %s", t.date(), [(r.component_type, r.kind, r.promoted)
                                                  for r in results])

    def _predict(self, conn: psycopg.Connection, t: datetime) -> None:
        t_ms = int(t.timestamp() * 1000)
        conn.execute("DELETE FROM failure_prediction WHERE predicted_at < %s",
                     (t - timedelta(days=2 * self.score_every_days),))
        if self.predictor == "models":
            from assetwatch.models.prediction.scoring import score_assets

            day = round((t - self.eval_start).total_seconds() / 86400)
            if day % self.retrain_days == 0:
                self._train(t)
            if day % self.score_every_days == 0:
                score_assets(self.settings, as_of=t)
            return
        with conn.cursor() as cur, cur.copy(
                "COPY failure_prediction (predicted_at, asset_id, component_type, horizon_days,"
                " failure_probability, rul_days, rul_low_days, rul_high_days, model_version_id)"
                " FROM STDIN") as copy:
            for tag, timeline in self.truth.timelines.items():
                model_id = timeline.asset.model_id
                for component_type in timeline.lives:
                    life = timeline.life_at(component_type, t_ms)
                    probs, rul, low, high = predict_component(
                        life, t, HORIZONS, predictor=self.predictor, seed=self.seed,
                        model_id=model_id)
                    for h, p in zip(HORIZONS, probs, strict=True):
                        copy.write_row((t, self.ids[tag], component_type, h, p, rul, low,
                                        high, self.model_version_id))

    def _computed_levels(self, conn: psycopg.Connection,
                         t: datetime) -> dict[Key, tuple[float, float]]:
        compute_inventory_policy(conn, as_of=t, service_level=self.service_level,
                                 computed_at=t)
        rows = conn.execute("SELECT part_no, site_id, reorder_point, kanban_bin_qty FROM"
                            " inventory_policy WHERE computed_at = %s", (t,)).fetchall()
        conn.execute("DELETE FROM inventory_policy WHERE computed_at < %s", (t,))
        return {(p, s): (float(r), float(r) + float(b)) for p, s, r, b in rows}

    def _forecast(self, conn: psycopg.Connection, t: datetime,
                  consumption: list[tuple[datetime, Key, int]]) -> None:
        compute_demand(conn, as_of=t, horizon_days=self.period_days,
                       period_days=self.period_days, computed_at=t)
        rows = conn.execute("SELECT part_no, site_id, expected_qty + planned_qty,"
                            " upper_qty + planned_qty FROM parts_demand WHERE computed_at = %s",
                            (t,)).fetchall()
        end = t + timedelta(days=self.period_days)
        actual: dict[Key, int] = defaultdict(int)
        for at, key, qty in consumption:
            if t <= at < end:
                actual[key] += qty
        by_part: dict[str, dict[str, Any]] = {}
        forecast_keys = {(p, s) for p, s, _, _ in rows}
        for part_no, site_id, expected, upper in rows:
            entry = by_part.setdefault(part_no, {
                "period_start": t.date().isoformat(), "part_no": part_no, "forecast": 0.0,
                "upper_sum": 0.0, "actual": 0, "site_cells": 0, "site_actual_le_upper": 0})
            entry["forecast"] += float(expected)
            entry["upper_sum"] += float(upper)
            entry["actual"] += actual.get((part_no, site_id), 0)
            entry["site_cells"] += 1
            entry["site_actual_le_upper"] += actual.get((part_no, site_id), 0) <= upper + 1e-9
        for part_no, _ in actual:
            if part_no not in by_part:
                by_part[part_no] = {"period_start": t.date().isoformat(), "part_no": part_no,
                                    "forecast": 0.0, "upper_sum": 0.0, "actual": 0,
                                    "site_cells": 0, "site_actual_le_upper": 0}
        for key, qty in actual.items():
            if key not in forecast_keys:
                by_part[key[0]]["actual"] += qty
        self.result.forecast.extend(by_part.values())
