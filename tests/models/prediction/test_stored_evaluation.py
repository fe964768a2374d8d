"""``evaluate_stored_predictions``: the stored daily predictions against recorded failures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.evaluation import evaluate_stored_predictions

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_stored_predictions_against_failures(make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        ids = register_fleet(conn, [("S1", "Site", "Customer", 24)], [("P1", "pump", None)],
                             [AssetSpec("A1", "S1", "P1", (("temp", "C"),)),
                              AssetSpec("A2", "S1", "P1", (("temp", "C"),))])
        a1, a2 = ids["A1"], ids["A2"]
        conn.execute("INSERT INTO component_type (component_type) VALUES ('bearing'), ('seal')"
                     " ON CONFLICT DO NOTHING")
        version = conn.execute("INSERT INTO model_version (model_name, version)"
                               " VALUES ('failure-risk', 1) RETURNING model_version_id"
                               ).fetchone()[0]
        # daily predictions for 10 days, 7-day horizon; A1's bearing fails on day 8
        risk = {(a1, "bearing"): [0.1, 0.1, 0.2, 0.6, 0.7, 0.8, 0.9, 0.9, 0.1, 0.1],
                (a1, "seal"): [0.6] * 10,
                (a2, "bearing"): [0.1] * 10}
        conn.cursor().executemany(
            "INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
            " horizon_days, failure_probability, model_version_id) VALUES (%s, %s, %s, 7, %s, %s)",
            [(T0 + timedelta(days=d), asset, component, p, version)
             for (asset, component), ps in risk.items() for d, p in enumerate(ps)])
        conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, component_type)"
                     " VALUES ('f1', %s, %s, 'failure', 'bearing')", (a1, T0 + timedelta(days=8)))
        # the outcome is known up to the newest event or prediction (day 9): predictions of
        # days 0-2 only (their 7 days end by day 9)
        m = evaluate_stored_predictions(conn, horizon_days=7, threshold=0.5,
                                        component_type="bearing")
        assert m.snapshots == 6                          # 3 days x 2 assets
        assert (m.positives, m.alarms) == (1, 0)         # day 2 of A1: fails 6 days later
        assert (m.failures, m.failures_warned) == (1, 0)
        everything = evaluate_stored_predictions(conn, horizon_days=7, threshold=0.5)
        # the seal alarms every day but never fails: one false warning, apart from the bearing
        assert (everything.warnings, everything.true_warnings) == (1, 0)
        assert everything.precision == 0.0 and everything.recall == pytest.approx(0.0)
