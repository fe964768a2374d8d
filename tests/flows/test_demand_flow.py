"""The demand flow end to end with predictions stored in the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.flows.demand import demand_flow
from assetwatch.service.masterdata_load import load_sample_masterdata

AS_OF = datetime(2026, 2, 1, tzinfo=UTC)


def _seed(conn: psycopg.Connection) -> None:
    register_fleet(conn, [("site-01", "One", None, 24)],
                   [("CP-200", "centrifugal_pump", None)],
                   [AssetSpec(f"p{i}", "site-01", "CP-200") for i in range(4)])
    load_sample_masterdata(conn)
    mv = conn.execute("INSERT INTO model_version (model_name, version) VALUES ('failure-risk',"
                      " 1) RETURNING model_version_id").fetchone()[0]
    for asset_id in range(1, 5):
        for component, p in (("bearing", 0.4), ("motor", 0.05)):
            conn.execute("INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
                         " horizon_days, failure_probability, model_version_id)"
                         " VALUES (%s, %s, %s, 30, %s, %s)", (AS_OF, asset_id, component, p, mv))


def test_demand_flow_with_defaults(fresh_settings: Settings,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        _seed(conn)
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    result = demand_flow()
    assert result["as_of"] == AS_OF.isoformat()
    assert result["parts_demand"] > 0 and result["inventory_policy"] > 0
    with psycopg.connect(fresh_settings.db_url) as conn:
        expected = conn.execute("SELECT expected_qty FROM v_parts_demand WHERE part_no ="
                                " 'BRG-6309-C3' AND period_start = %s", (AS_OF.date(),))
        # 4 pumps x 0.4, and new bearings failing again within the month (a few thousandths)
        assert expected.fetchone()[0] == pytest.approx(1.6, abs=0.01)


def test_demand_flow_on_an_empty_install(fresh_settings: Settings,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    result = demand_flow()
    assert result["parts_demand"] == 0 and result["inventory_policy"] == 0
