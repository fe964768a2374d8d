"""The replenish flow end to end: a rule below its reorder point gets one order, once."""

from __future__ import annotations

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.flows.replenish import replenish_flow
from assetwatch.service.masterdata_load import load_sample_masterdata
from assetwatch.service.replenishment import set_rule


def test_replenish_flow_orders_once(fresh_settings: Settings,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        register_fleet(conn, [("site-01", "One", None, 24)],
                       [("CP-200", "centrifugal_pump", None)],
                       [AssetSpec("p1", "site-01", "CP-200", criticality=1)])
        load_sample_masterdata(conn)
        set_rule(conn, "SEAL-M37G-45", "site-01", "reorder_point", reorder_point=2,
                 order_up_to=4)
        first = replenish_flow()
        assert (first["proposed"], first["ordered"]) == (1, 0)
        assert replenish_flow(auto_approve=True)["ordered"] == 0
        orders = conn.execute("SELECT part_no, state, outstanding_qty FROM"
                              " v_replenishment_order").fetchall()
    assert orders == [("SEAL-M37G-45", "proposed", 3)]
