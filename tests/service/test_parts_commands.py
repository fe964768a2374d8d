"""``assetwatch parts`` against a real database: orders approved and received, the planner's
export, and one line (no traceback) for a bad receipt."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest

from assetwatch.cli import main
from assetwatch.core.settings import Settings


@pytest.fixture
def parts_db(fleet_db: tuple[psycopg.Connection, dict[str, int]], fresh_settings: Settings,
             monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    return fresh_settings.db_url


def test_orders_from_rule_to_receipt(parts_db: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parts", "rules", "set", "BRG-6309-C3", "site-02", "--method",
                 "reorder_point", "--reorder-point", "3", "--order-up-to", "5"]) == 0
    assert main(["parts", "replenish"]) == 0
    assert "1 orders proposed" in capsys.readouterr().out
    assert main(["parts", "orders", "list"]) == 0
    assert "RO-000001" in capsys.readouterr().out
    assert main(["parts", "orders", "approve", "RO-000001"]) == 0
    assert main(["parts", "orders", "receive", "1", "--qty", "1"]) == 0
    assert "1 of 3 received, ordered" in capsys.readouterr().out
    out = tmp_path / "plan.csv"
    assert main(["parts", "export", "plan", "-o", str(out), "--site", "site-02"]) == 0
    rows = {r["part_no"]: r for r in csv.DictReader(out.open())}
    assert rows["BRG-6309-C3"]["on_hand"] == "3" and rows["BRG-6309-C3"]["on_order"] == "2"
    assert main(["parts", "stock", "--site", "site-02", "--part", "BRG-6309-C3"]) == 0


def test_bad_receipts_print_one_line(parts_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parts", "orders", "receive", "RO-000077"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "assetwatch: error: no replenishment order 77"
    assert main(["parts", "orders", "receive", "1", "--qty", "-3"]) == 1
    assert "positive whole number" in capsys.readouterr().err
    with psycopg.connect(parts_db) as conn:
        assert conn.execute("SELECT count(*) FROM stock_movement").fetchone()[0] == 0


def test_returns_and_claims_from_the_command_line(parts_db: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with psycopg.connect(parts_db, autocommit=True) as conn:
        asset = conn.execute("SELECT asset_id FROM asset WHERE asset_tag = 'a01-00'").fetchone()
        conn.execute("INSERT INTO installed_component (asset_id, component_type, serial_no,"
                     " part_no, valid_from, valid_to, warranty_end) VALUES"
                     " (%s, 'bearing', 'BRG-OLD', 'BRG-6309-C3', '2025-01-01', '2026-02-01',"
                     " '2025-06-01'), (%s, 'mechanical_seal', 'SEAL-OLD', 'SEAL-M37G-45',"
                     " '2025-01-01', '2026-02-01', '2026-12-01')", (asset[0], asset[0]))
    assert main(["parts", "returns", "add", "NEVER-1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "assetwatch: error: serial NEVER-1 was never installed; nothing to return")
    assert main(["parts", "claims", "open", "BRG-OLD", "--failed-at", "2026-01-31"]) == 1
    assert "out of warranty, no claim" in capsys.readouterr().err
    assert main(["parts", "returns", "add", "SEAL-OLD", "--failure-mode", "seal_leak"]) == 0
    assert "RET-000001" in capsys.readouterr().out
    assert main(["parts", "returns", "repair", "RET-000001"]) == 0
    assert main(["parts", "returns", "repaired", "RET-000001"]) == 0
    assert "repaired, back in stock" in capsys.readouterr().out
    assert main(["parts", "claims", "open", "SEAL-OLD", "--failed-at", "2026-01-31"]) == 0
    assert main(["parts", "claims", "settle", "WC-000001", "--recovered", "400"]) == 0
    assert "accepted, 400" in capsys.readouterr().out
    assert main(["parts", "returns", "list"]) == 0 and main(["parts", "claims", "list"]) == 0
