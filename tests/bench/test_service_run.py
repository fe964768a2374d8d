"""The service benchmark: its engines, its figures, and the pipeline row end to end on a small
world, where breaking the pipeline's outputs must change the figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.bench.inventory_sim import InventorySimulator, PolicyResult, naive_levels
from assetwatch.bench.service import run_service_bench
from assetwatch.bench.service_figures import demand_mase, figures
from assetwatch.bench.service_pipeline import PipelineSignals
from assetwatch.bench.service_run import (
    RunOptions,
    ServiceBenchResult,
    TicketOutcome,
    Visit,
)
from assetwatch.bench.service_truth import TrueFailure, load_truth
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.training import TrainOptions
from assetwatch.sim.fleet import build_fleet

START = datetime(2025, 1, 1, tzinfo=UTC)
#: a small world; the failure models are the product's, with fewer boosting rounds and no
#: remaining-life regressors so that training takes seconds
SMALL = RunOptions(sites=1, assets_per_site=5, days=40, history_days=60, telemetry_days=40,
                   period_days=20, seed=5, train_every_days=28,
                   train_options=TrainOptions(gbm={"max_iter": 15, "max_leaf_nodes": 7,
                                                   "random_state": 0}, fit_rul=False))


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


def _clear_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the pipeline: after every step its anomaly events and predictions are gone."""
    advance = PipelineSignals.advance

    def broken(self: PipelineSignals, t: datetime) -> None:
        advance(self, t)
        with psycopg.connect(self.settings.db_url, autocommit=True) as conn:
            conn.execute("DELETE FROM anomaly_event")
            conn.execute("DELETE FROM failure_prediction")

    monkeypatch.setattr(PipelineSignals, "advance", broken)


@pytest.mark.timeout(1200)
def test_pipeline_row_end_to_end(fresh_settings: Settings,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_service_bench(fresh_settings, "pipeline", SMALL)
    row = figures(result, season_days=20)
    assert result.failures and result.visits
    assert row["tickets"] > 0 and result.warning_days
    stages = result.stage_seconds
    assert {"ingest (wire format, ingest writer)", "detector worker", "train",
            "score", "tickets", "demand", "policy"} <= set(stages)
    _clear_outputs(monkeypatch)
    broken = figures(run_service_bench(fresh_settings, "pipeline", SMALL), season_days=20)
    assert broken["failures"] == row["failures"]        # the same world
    assert broken["tickets"] == 0 and broken["ticketed_24h"] == 0.0
    assert broken["breakdown_visits"] == broken["visits"] > row["breakdown_visits"]
    changed = [k for k in ("first_time_fix", "demand_mase", "stock_value", "fill_rate")
               if broken[k] != row[k]]
    assert changed, "stock and demand figures do not depend on the predictions"


@pytest.mark.timeout(1200)
def test_reference_rows_bound_the_tickets(fresh_settings: Settings) -> None:
    oracle = figures(run_service_bench(fresh_settings, "oracle", SMALL), season_days=20)
    calendar = figures(run_service_bench(fresh_settings, "calendar", SMALL), season_days=20)
    # predictions are per component, tickets per failure mode: the oracle's false tickets
    # are those of a component's other modes, at most one per mode per true failure
    assert oracle["ticketed_24h"] == 1.0
    assert oracle["false_tickets"] < oracle["tickets"]
    assert calendar["failures"] == oracle["failures"]
    assert calendar["ticketed_24h"] < oracle["ticketed_24h"]


@pytest.mark.timeout(1200)
def test_parts_operations_figures(fresh_settings: Settings,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The product's stock in the row: replenishment buys, shortages are covered; without
    replenishment only what a visit lacks is bought (expedited), and no fewer lines are short."""
    import assetwatch.bench.service_parts as service_parts

    row = figures(run_service_bench(fresh_settings, "calendar", SMALL), season_days=20)
    assert 0.0 <= row["parts_available_at_open"] <= 1.0
    assert row["units_bought"] > 0 and row["naive_units_bought"] > 0
    assert 0 <= row["shortages_by_transfer"] <= row["shortages_at_use"]
    monkeypatch.setattr(service_parts, "evaluate_replenishment", lambda *a, **k: None)
    starved = figures(run_service_bench(fresh_settings, "calendar", SMALL), season_days=20)
    assert starved["failures"] == row["failures"]
    assert starved["units_bought"] < row["units_bought"]       # only what was expedited
    assert starved["shortages_at_use"] >= row["shortages_at_use"]


@pytest.mark.timeout(1200)
def test_dispatch_is_measured_against_the_baseline_in_the_run(fresh_settings: Settings) -> None:
    result = run_service_bench(fresh_settings, "calendar", SMALL)
    row = figures(result, season_days=20)
    assert result.dispatch.plans == result.dispatch_baseline.plans > 0
    assert "dispatch" in result.stage_seconds
    assert row["dispatch_on_time"] is not None and row["baseline_on_time"] is not None
    assert row["dispatch_travel_share"] <= row["baseline_travel_share"]
    assert row["visits_per_failure"] >= 1.0
    none = figures(run_service_bench(fresh_settings, "calendar",
                                     replace(SMALL, dispatch_every_days=0)), season_days=20)
    assert none["dispatch_on_time"] is None and none["dispatch_travel_share"] is None
