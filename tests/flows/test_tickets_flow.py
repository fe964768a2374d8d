"""The tickets flow end to end: a prediction opens one ticket, a second run updates it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.flows.tickets import tickets_flow
from assetwatch.service.masterdata_load import load_sample_masterdata

AS_OF = datetime(2026, 2, 1, tzinfo=UTC)


def test_tickets_flow_with_defaults(fresh_settings: Settings,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    assert tickets_flow() == {"opened": 0, "updated": 0, "closed": 0, "overflow": 0}
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        register_fleet(conn, [("site-01", "One", None, 24)],
                       [("SC-75", "screw_compressor", None)],
                       [AssetSpec("c1", "site-01", "SC-75", criticality=1)])
        load_sample_masterdata(conn)
        mv = conn.execute("INSERT INTO model_version (model_name, version) VALUES"
                          " ('failure-risk', 1) RETURNING model_version_id").fetchone()[0]
        insert = ("INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
                  " horizon_days, failure_probability, model_version_id)"
                  " VALUES (%s, 1, 'oil_separator', 30, %s, %s)")
        conn.execute(insert, (AS_OF, 0.9, mv))
        assert tickets_flow()["opened"] == 1
        conn.execute(insert, (AS_OF + timedelta(hours=1), 0.6, mv))
        assert tickets_flow() == {"opened": 0, "updated": 1, "closed": 0, "overflow": 0}
        ticket = conn.execute("SELECT failure_mode, status FROM v_service_ticket").fetchall()
    assert ticket == [("separator_clog", "open")]
