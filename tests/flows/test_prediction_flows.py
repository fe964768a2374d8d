"""The train, score and housekeeping flows end to end against the real TimescaleDB."""

from __future__ import annotations

import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.flows.housekeeping import housekeeping_flow
from assetwatch.flows.score import score_flow
from assetwatch.flows.train import train_flow
from assetwatch.models.prediction.synthetic import seed_fleet


@pytest.fixture
def fleet_settings(fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        seed_fleet(conn, assets=8, days=45)
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    return fresh_settings


def test_train_score_housekeeping(fleet_settings: Settings) -> None:
    summary = train_flow(horizons=(3, 7), history_days=45)
    assert [(s["component_type"], s["promoted"]) for s in summary] == [("bearing", True)]
    assert summary[0]["kind"] == "gradient_boosting"

    written = score_flow()
    assert written == 8 * 2
    with psycopg.connect(fleet_settings.db_url) as conn:
        named = conn.execute(
            "SELECT count(*) FROM failure_prediction p JOIN model_version v"
            " USING (model_version_id) WHERE v.is_current").fetchone()
    assert named == (written,)

    with psycopg.connect(fleet_settings.db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
            " horizon_days, failure_probability, model_version_id)"
            " SELECT predicted_at - interval '100 days', asset_id, component_type, horizon_days,"
            " failure_probability, model_version_id FROM failure_prediction LIMIT 1")
    report = housekeeping_flow(retention_days=None, prediction_days=90)
    assert report["predictions_deleted"] == 1
    assert "chunks_dropped" not in housekeeping_flow()           # retention is opt-in
    assert housekeeping_flow(retention_days=36500)["chunks_dropped"] == 0


def test_flows_run_with_defaults_on_a_new_install(fresh_settings: Settings,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    assert train_flow() == []          # nothing registered: nothing to train
    assert score_flow() == 0
