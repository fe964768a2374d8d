"""The service benchmark: its engines, its figures, and the rows end to end on a small world,
where breaking the pipeline's outputs must change the figures.

The end-to-end runs go through :class:`~assetwatch.bench.service_run.ServiceRun` on databases
of the test session (dropped with the session), each row once per module."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from assetwatch.bench.inventory_sim import InventorySimulator, PolicyResult, naive_levels
from assetwatch.bench.service_figures import demand_mase, figures
from assetwatch.bench.service_pipeline import PipelineSignals
from assetwatch.bench.service_run import (
    RunOptions,
    ServiceBenchResult,
    ServiceRun,
    TicketOutcome,
    Visit,
)
from assetwatch.bench.service_truth import TrueFailure, load_truth
from assetwatch.core.settings import Settings
from assetwatch.core.source import Sample
from assetwatch.models.prediction.training import TrainOptions
from assetwatch.service.service_levels import ServiceLevels
from assetwatch.service.tickets import TicketPolicy
from assetwatch.sim.fleet import build_fleet, epoch_ms
from assetwatch.sim.simulator import FleetSimulator

START = datetime(2025, 1, 1, tzinfo=UTC)
#: a small world; the failure models are the product's, with fewer boosting rounds and no
#: remaining-life regressors so that training takes seconds. Its history is longer than the
#: maintenance plans' intervals, so the product knows when each task was last done
SMALL = RunOptions(sites=1, assets_per_site=10, days=30, history_days=130, telemetry_days=30,
                   period_days=15, seed=8, train_every_days=28, dispatch_every_days=7,
                   ticket_policy=TicketPolicy(),
                   train_options=TrainOptions(gbm={"max_iter": 15, "max_leaf_nodes": 7,
                                                   "random_state": 0}, fit_rul=False))
SEASON = 15


class _WithoutRollup(PipelineSignals):
    """The pipeline with the hourly rollup never refreshed."""

    def _refresh_rollup(self, t: datetime) -> None:
        pass


class _Run(ServiceRun):
    """A row as the benchmark runs it, optionally broken: without the detectors' anomaly
    events (deleted after every step of the pipeline), without the hourly rollup's refresh
    (the failure models' features read it) or without replenishment."""

    def __init__(self, settings: Settings, mode: str, *, no_events: bool = False,
                 no_rollup: bool = False, replenish: bool = True,
                 no_repair: bool = False) -> None:
        super().__init__(settings, mode, SMALL, start=START)
        self.no_events = no_events
        self.no_rollup = no_rollup
        self.no_repair = no_repair
        self.parts.replenish = replenish

    def _repair_on_site(self, conn: psycopg.Connection, ticket_id: int, at: datetime) -> bool:
        """Without repairs the technician fits nothing: the world's failures all happen."""
        return False if self.no_repair else super()._repair_on_site(conn, ticket_id, at)

    def _signals(self, conn: psycopg.Connection) -> Any:
        if self.no_rollup:
            self.pipeline_signals = _WithoutRollup
        signals = super()._signals(conn)
        if self.no_events:
            advance = signals.advance

            def without_events(t: datetime) -> None:
                advance(t)
                with psycopg.connect(self.settings.db_url, autocommit=True) as own:
                    own.execute("DELETE FROM anomaly_event")

            signals.advance = without_events  # type: ignore[method-assign]
        return signals


_RUNS = {"pipeline": ("pipeline", {}), "no_events": ("pipeline", {"no_events": True}),
         "no_rollup": ("pipeline", {"no_rollup": True}),
         "oracle": ("oracle", {}), "calendar": ("calendar", {}),
         "unrepaired": ("oracle", {"no_repair": True}),
         "starved": ("calendar", {"replenish": False})}


@pytest.fixture(scope="module")
def bases(make_database: Callable[[], Settings]) -> dict[str, Settings]:
    """A database of its own for each row (kept until the session ends)."""
    return {name: make_database() for name in _RUNS}


@pytest.fixture(scope="module")
def rows(bases: dict[str, Settings]) -> dict[str, ServiceBenchResult]:
    """Every row the tests look at, run once on the small world, three at a time (each in a
    database of its own; they wait on the database half of the time)."""
    runs = _RUNS
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(lambda n=name, m=mode, k=kw: _Run(bases[n], m, **k)
                                     .execute()) for name, (mode, kw) in runs.items()}
        return {name: future.result() for name, future in futures.items()}


def _failure(at: datetime, *, precursor: bool = True, mode: str = "bearing_wear"
             ) -> TrueFailure:
    return TrueFailure("S01-P001", "site-01", "CP-200", "bearing", mode, ("BRG-6309-C3",),
                       at, at + timedelta(days=1), None, precursor, None)


def test_inventory_simulator_and_naive_levels() -> None:
    key = ("P1", "s1")
    sim = InventorySimulator("t", {key: 1}, {key: 2.0}, {"P1": 10.0})
    assert sim.consume(key, 2) == 1
    sim.review(START, {key: (1.0, 3.0)})
    sim.receive(START.replace(day=4))
    assert sim.on_hand[key] == 3 and sim.result.stockouts == 1
    history = [(START.replace(day=d), key, 1) for d in range(1, 29, 3)]
    levels = naive_levels(history, START.replace(month=2), window_days=30,
                          lead_days={key: 10.0}, keys={key}, service_level=0.95)
    reorder_point, order_up_to = levels[key]
    assert reorder_point >= 3 and order_up_to > reorder_point
    # per ABC class: the cheap key (C) stocks to its class's level, the costly one (A) not
    cheap = ("P2", "s1")
    both = history + [(at, cheap, 1) for at, _, _ in history]
    costs = {"P1": 1000.0, "P2": 1.0}

    def rop(level: float | ServiceLevels) -> tuple[float, float]:
        out = naive_levels(both, START.replace(month=2), window_days=30, unit_cost=costs,
                           lead_days={key: 10.0, cheap: 10.0}, keys={key, cheap},
                           service_level=level)
        return out[key][0], out[cheap][0]

    assert rop(ServiceLevels(a=0.6, b=0.6, c=0.99)) == (rop(0.6)[0], rop(0.99)[1])
    assert rop(0.99)[1] > rop(0.6)[1]


def test_truth_adapter_gives_modes_parts_and_precursors() -> None:
    fleet = build_fleet(1, 4, seed=3, start=START)
    truth = load_truth(fleet, START + timedelta(days=200), lookahead_days=30)
    assert truth.failures and all(f.failed_at < truth.end for f in truth.failures)
    assert all(f.failed_at >= truth.end for f in truth.later_failures)
    f = truth.failures[0]
    assert f.parts and f.failure_mode and f.precursor in (True, False)
    in_service = truth.failure_of_part_in_service(f.asset_tag, f.component_type,
                                                  f.failed_at - timedelta(days=1))
    assert in_service == f.failed_at


def test_a_repair_changes_the_world_and_its_telemetry() -> None:
    """Fitting the parts of the failure mode under way ends the worn life: its failure is
    gone from the truth and the simulator sharing the timelines streams the unworn part from
    then on; parts that miss the mode change nothing."""
    fleet = build_fleet(1, 4, seed=3, start=START)
    end = START + timedelta(days=200)
    truth = load_truth(fleet, end, lookahead_days=30)
    f = next(f for f in truth.failures if f.precursor and f.onset_at is not None
             and f.failed_at - f.onset_at > timedelta(days=4) and f.onset_at > START)
    at = f.onset_at + (f.failed_at - f.onset_at) / 2
    assert truth.wear_visible(f.asset_tag, f.component_type, at)
    assert not truth.wear_visible(f.asset_tag, f.component_type, f.onset_at - timedelta(hours=1))
    simulator = FleetSimulator(fleet, days=200, sample_interval_s=3600.0,
                               timelines=truth.timelines)
    untouched = FleetSimulator(fleet, days=200, sample_interval_s=3600.0)
    later = epoch_ms(f.failed_at) - 3_600_000

    def reading(sim: FleetSimulator) -> list[tuple[str, float]]:
        sim.skip_to(later)
        return next(s.values for s in sim.poll_until(later + 3_600_000, 10_000)
                    if isinstance(s, Sample) and s.asset == f.asset_tag)

    wrong = truth.apply_maintenance(f.asset_tag, f.component_type, at, ("NO-SUCH-PART",))
    assert wrong.result == "no_fault_found"
    assert truth.failure_in_service(f.asset_tag, f.component_type, at) == f
    fixed = truth.apply_maintenance(f.asset_tag, f.component_type, at, f.parts)
    assert fixed.result == "fixed"
    assert f not in truth.failures
    assert all(g.failed_at > at for g in truth.failures_from(f.asset_tag, f.component_type, at))
    assert reading(simulator) != reading(untouched), "the telemetry ignores the repair"


def test_figures_follow_what_the_run_recorded() -> None:
    t0 = START + timedelta(days=400)
    result = ServiceBenchResult("pipeline", days=60, assets=1, period_days=30)
    result.failures = [_failure(t0), _failure(t0 + timedelta(days=20), precursor=False)]
    result.warning_days = {0: 5.0}
    result.tickets = [TicketOutcome(1, t0 - timedelta(days=5), True, False),
                      TicketOutcome(2, t0, False, False)]
    result.visits = [Visit(result.failures[0], 1, True, True),
                     Visit(result.failures[1], None, True, False)]
    result.policies = [PolicyResult("computed", demanded=10, filled=9, inventory_value=50.0),
                       PolicyResult("naive", demanded=10, filled=10, inventory_value=100.0)]
    row = figures(result, season_days=30)
    assert row["ticketed_24h_precursor"] == 1.0 and row["ticketed_24h_no_precursor"] == 0.0
    assert row["tickets_per_failure"] == 1.0 and row["false_tickets"] == 1
    assert row["first_time_fix"] == 0.5 and row["second_trips"] == 1
    assert row["stock_value_vs_naive"] == 0.5 and row["fill_rate"] == 0.9
    result.warning_days = {0: 0.5}          # a warning under 24 h does not count
    assert figures(result, season_days=30)["ticketed_24h"] == 0.0


def test_mase_against_the_seasonal_naive_forecast() -> None:
    result = ServiceBenchResult("pipeline", days=60, assets=1, period_days=30)
    t0 = START + timedelta(days=60)
    # consumption: 4 parts in the period before, 2 in the evaluated one
    result.consumption = [(START + timedelta(days=35), ("P1", "s"), 4),
                          (t0 + timedelta(days=3), ("P1", "s"), 2)]
    result.forecast = [{"period_start": t0, "part_no": "P1", "forecast": 3.0, "actual": 2}]
    assert demand_mase(result, season_days=30) == pytest.approx(1 / 2)
    result.forecast[0]["forecast"] = 2.0
    assert demand_mase(result, season_days=30) == 0.0


@pytest.mark.timeout(600)
def test_pipeline_row_end_to_end(rows: dict[str, ServiceBenchResult]) -> None:
    result = rows["pipeline"]
    row = figures(result, season_days=SEASON)
    assert result.failures and result.visits
    assert row["tickets"] > 0
    assert row["first_time_fix"] is not None and row["demand_mase"] is not None
    stages = result.stage_seconds
    assert {"ingest (wire format, ingest writer)", "detector worker", "train",
            "score", "tickets", "demand", "policy", "parts operations"} <= set(stages)
    broken = rows["no_events"]
    tickets = sorted((t.opened_at, t.true) for t in result.tickets)
    assert sorted((t.opened_at, t.true) for t in broken.tickets) != tickets, \
        "the tickets do not depend on the detectors' events"


def test_reference_rows_bound_the_tickets(rows: dict[str, ServiceBenchResult]) -> None:
    oracle = figures(rows["oracle"], season_days=SEASON)
    calendar = figures(rows["calendar"], season_days=SEASON)
    pipeline = figures(rows["pipeline"], season_days=SEASON)
    assert oracle["ticketed_24h"] > 0 and oracle["median_warning_days"] >= 1.0
    assert oracle["false_tickets"] < oracle["tickets"]
    assert calendar["ticketed_24h"] <= oracle["ticketed_24h"]
    assert pipeline["ticketed_24h"] <= oracle["ticketed_24h"]
    # one stock per row, the product's: what each use found is counted there
    for row in (oracle, calendar):
        assert 0.0 < row["fill_rate"] <= 1.0 and row["stock_value"] > 0
        assert row["second_trips"] == row["visits"] - round(row["first_time_fix"]
                                                            * row["visits"])


def test_parts_operations_figures(rows: dict[str, ServiceBenchResult]) -> None:
    """The product's stock in the row: replenishment buys, shortages are covered; without
    replenishment only what a use lacks is bought (expedited), and no fewer uses go short."""
    row = figures(rows["calendar"], season_days=SEASON)
    assert 0.0 <= row["parts_available_at_open"] <= 1.0
    assert row["units_bought"] > 0 and row["naive_units_bought"] > 0
    assert 0 <= row["shortages_by_transfer"] <= row["shortages_at_use"]
    starved = figures(rows["starved"], season_days=SEASON)
    assert starved["units_bought"] < row["units_bought"]       # only what was expedited
    assert starved["shortages_at_use"] >= row["shortages_at_use"]
    assert starved["stock_value"] < row["stock_value"]


def test_dispatch_is_measured_against_the_baseline_in_the_run(
        rows: dict[str, ServiceBenchResult]) -> None:
    result = rows["calendar"]
    row = figures(result, season_days=SEASON)
    assert result.dispatch.plans == result.dispatch_baseline.plans > 0
    assert "dispatch" in result.stage_seconds
    assert row["dispatch_on_time"] is not None and row["baseline_on_time"] is not None
    assert result.sla is not None and result.sla.visits > 0   # the plans' visits happened
    assert row["dispatch_travel_share"] <= row["baseline_travel_share"]
    assert row["visits_per_failure"] >= 1.0


def test_repair_visits_avert_failures(rows: dict[str, ServiceBenchResult]) -> None:
    """The oracle's repair visits replace worn parts before they fail: those failures are
    averted (counted as ticketed at the time they would have happened); a technician who
    fits nothing averts none, and more failures happen."""
    oracle, unrepaired = rows["oracle"], rows["unrepaired"]
    assert oracle.prevented and not unrepaired.prevented
    happened = len(oracle.failures) - len(oracle.prevented)
    assert len(unrepaired.failures) > happened
    assert figures(oracle, season_days=SEASON)["failures_prevented"] == len(oracle.prevented)
    assert figures(unrepaired, season_days=SEASON)["failures_prevented"] == 0


def test_failure_models_learn_from_the_rolled_up_telemetry(
        rows: dict[str, ServiceBenchResult], bases: dict[str, Settings]) -> None:
    """Every reading the pipeline ingested is in the hourly rollup, so training sees the
    failures of the telemetry window; without the refresh it sees none (the prior only)."""
    with psycopg.connect(bases["pipeline"].db_url) as conn:
        readings, rolled_up, failures = conn.execute(
            "SELECT (SELECT count(*) FROM telemetry),"
            " (SELECT coalesce(sum(n), 0) FROM telemetry_hourly),"
            " (SELECT count(*) FROM asset_event WHERE kind = 'failure')").fetchone()
    assert readings > 0 and rolled_up == readings
    trainings = rows["pipeline"].trainings
    seen = sum(t.failures for t in trainings if t.as_of == trainings[-1].as_of)
    assert 0 < seen <= failures
    without = rows["no_rollup"].trainings
    assert without and all(t.failures == 0 and t.kind == "weibull_prior" for t in without)
