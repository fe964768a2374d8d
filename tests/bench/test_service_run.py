"""A short run of the service benchmark against the simulated fleet's ground truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from assetwatch.bench.inventory_sim import InventorySimulator, naive_levels
from assetwatch.bench.service_predictors import predict_component
from assetwatch.bench.service_run import ServiceRun
from assetwatch.core.settings import Settings
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.truth import fleet_truth

START = datetime(2025, 1, 1, tzinfo=UTC)


def test_condition_predictor_sees_wear_coming() -> None:
    fleet = build_fleet(1, 4, seed=3, start=START)
    truth = fleet_truth(fleet, datetime(2025, 9, 1, tzinfo=UTC))
    failure = truth.failures[0]
    timeline = truth.timelines[failure.asset_tag]
    life = timeline.life_at(failure.component_type, int(failure.failed_at.timestamp() * 1000) - 1)
    model_id = timeline.asset.model_id
    just_before, *_ = predict_component(life, failure.failed_at - timedelta(hours=12), (7, 30),
                                        predictor="condition", seed=3, model_id=model_id)
    installed = datetime.fromtimestamp(life.installed_ms / 1000 + 86400, tz=UTC)
    fresh, *_ = predict_component(life, installed, (7, 30), predictor="condition", seed=3,
                                  model_id=model_id)
    assert just_before[1] > 0.5 > fresh[1]


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


def test_short_run(fresh_settings: Settings) -> None:
    run = ServiceRun(fresh_settings, sites=1, assets_per_site=6, start=START, history_days=60,
                     days=40, period_days=20, service_level=0.95, predictor="condition", seed=5)
    result = run.execute()
    assert result.failures > 0
    assert result.ticketed_share >= 0.5
    assert 0 < result.tickets_per_failure <= 2.0
    assert len(result.policies) == 2 and all(p.demanded > 0 for p in result.policies)
    assert {row["part_no"] for row in result.forecast}
    with psycopg.connect(fresh_settings.db_url) as conn:
        labels = conn.execute("SELECT count(*) FROM failure_label").fetchone()[0]
    assert labels == result.ticket_closures
