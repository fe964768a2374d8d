"""The dispatch flow end to end under Prefect: a due PM opens, a breach is recorded, the
ticket and the PM are planned into one visit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.flows.dispatch import dispatch_flow
from assetwatch.service.masterdata_load import load_masterdata, load_sample_masterdata
from assetwatch.service.ticket_lifecycle import open_ticket

MONDAY = datetime(2026, 3, 2, 7, tzinfo=UTC)


def test_dispatch_flow_opens_pm_records_breaches_and_plans(
        fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    monkeypatch.setenv("ASSETWATCH_DISPATCH_TIME_LIMIT_S", "2")
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        ids = register_fleet(conn, [("site-01", "One", None, 2)],
                             [("CP-200", "centrifugal_pump", None)],
                             [AssetSpec("p1", "site-01", "CP-200")])
        load_sample_masterdata(conn)
        (tmp_path / "sites.csv").write_text("site_id,name,latitude,longitude,response_hours\n"
                                            "site-01,One,48.2,11.6,2\n")
        (tmp_path / "technicians.csv").write_text(
            "technician_id,name,home_base,home_latitude,home_longitude,skills\n"
            "T1,Ana,Depot,48.1,11.5,CP-200\n")
        (tmp_path / "technician_shifts.csv").write_text(
            "technician_id,weekday,starts,ends\n" + "".join(
                f"T1,{d},08:00,16:00\n" for d in range(1, 6)))
        load_masterdata(conn, tmp_path)
        conn.execute("UPDATE asset SET commissioned_on = %s", ((MONDAY - timedelta(days=88)
                                                                ).date(),))
        open_ticket(conn, ids["p1"], "seal_leak", risk=0.9, at=MONDAY - timedelta(hours=3))
        result = dispatch_flow(as_of=MONDAY)
        assert result["preventive"] == {"opened": 1, "moved": 0}
        assert result["sla"] == {"near_breaches": 0, "breaches": 1}  # 2 h response, 3 h ago
        plan = result["plan"]
        assert (plan["visits"], plan["work_items"], plan["planned_items"]) == (1, 1, 1)
        work = conn.execute("SELECT work_kind, work FROM v_visit_work ORDER BY 1").fetchall()
    assert work == [("preventive", "relubrication"), ("ticket", "seal_leak")]
