"""The service command line against a real database."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from assetwatch.cli import main
from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings

AS_OF = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture
def cli_db(fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        register_fleet(conn, [("site-01", "One", None, 24), ("site-02", "Two", None, 72)],
                       [("CP-200", "centrifugal_pump", None)],
                       [AssetSpec("p1", "site-01", "CP-200"), AssetSpec("p2", "site-02",
                                                                        "CP-200")])
    return fresh_settings.db_url


def test_masterdata_demand_export_and_tickets(cli_db: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["masterdata", "load", "--sample"]) == 0
    assert "loaded" in capsys.readouterr().out
    with psycopg.connect(cli_db, autocommit=True) as conn:
        mv = conn.execute("INSERT INTO model_version (model_name, version) VALUES"
                          " ('failure-risk', 1) RETURNING model_version_id").fetchone()[0]
        conn.execute("INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
                     " horizon_days, failure_probability, model_version_id)"
                     " VALUES (%s, 1, 'impeller', 30, 0.7, %s)", (AS_OF, mv))
    assert main(["demand", "compute"]) == 0
    out = tmp_path / "demand.csv"
    assert main(["demand", "export", "--format", "csv", "-o", str(out), "--site",
                 "site-01"]) == 0
    rows = list(csv.DictReader(out.open()))
    impeller = [r for r in rows if r["part_no"] == "IMP-CP200-250"]
    # 0.7, and a new impeller failing again inside the 30 days: about 2e-5
    assert len(impeller) == 3 and float(impeller[0]["expected_qty"]) == pytest.approx(0.7,
                                                                                      abs=1e-4)
    assert {r["site_id"] for r in rows} == {"site-01"}
    parquet = tmp_path / "demand.parquet"
    assert main(["demand", "export", "--format", "parquet", "-o", str(parquet)]) == 0
    table = pq.read_table(parquet)
    assert "total_upper_qty" in table.column_names and table.num_rows > len(rows)
    assert main(["inventory", "show", "--flagged"]) == 0
    assert main(["tickets", "update"]) == 0
    # one ticket per failure mode of the impeller (erosion, wear-ring clearance)
    assert "2 opened" in capsys.readouterr().out
    assert main(["tickets", "list"]) == 0
    assert main(["tickets", "close", "1", "--resolution", "preventive_replacement"]) == 0
    assert main(["tickets", "close", "1", "--resolution", "duplicate"]) == 1
    err = capsys.readouterr().err
    assert "ticket 1 is closed" in err and "Traceback" not in err


def test_bad_master_data_prints_file_row_and_reason(cli_db: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "md"
    source.mkdir()
    (source / "parts.csv").write_text("part_no,description,unit_cost,lead_time_days\n"
                                      "P1,Part one,1.0,3\n")
    (source / "bom.csv").write_text("model_id,component_type,part_no,qty\n"
                                    "CP-200,bearing,P2,1\n")
    assert main(["masterdata", "check", str(source)]) == 4
    out = capsys.readouterr().out
    assert "bom.csv row 2: unknown part number 'P2'" in out
    assert main(["masterdata", "load", str(source)]) == 4
    err = capsys.readouterr().err
    assert "  bom.csv row 2: unknown part number 'P2'" in err.splitlines()
    assert err.splitlines()[-1].startswith(
        "assetwatch: error: master data rejected, nothing loaded: bom.csv row 2")
    with psycopg.connect(cli_db) as conn:
        assert conn.execute("SELECT count(*) FROM part").fetchone() == (0,)
