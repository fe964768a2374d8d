"""Returns and repairs: a removal gets a return record; RMA under warranty with its credit,
repair back into stock, no-fault-found rate; bad returns change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from parts_support import T0, install

from assetwatch.service.bom import repair_kit
from assetwatch.service.errors import ReturnError
from assetwatch.service.orders import cover_shortage
from assetwatch.service.returns import (
    close_rma,
    inspect_return,
    open_rma,
    process_returns,
    record_return,
    send_to_repair,
)
from assetwatch.service.stock_ledger import stock_level
from assetwatch.service.ticket_lifecycle import close_ticket, open_ticket

Fleet = tuple[psycopg.Connection, dict[str, int]]
SEAL, BRG = "SEAL-M37G-45", "BRG-6309-C3"


def _replace(conn: psycopg.Connection, asset_id: int, mode: str, component: str,
             at: datetime = T0) -> int:
    ticket = open_ticket(conn, asset_id, mode, risk=0.8, at=at,
                         kit=repair_kit(conn, "CP-200", component))
    cover_shortage(conn, ticket, at=at)
    close_ticket(conn, ticket, resolution_code="confirmed_failure", at=at)
    return ticket


def _returns(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT serial_no, part_no, failure_mode, under_warranty, state,"
                        " fault_found, rma_no, credit FROM part_return ORDER BY return_id"
                        ).fetchall()


def test_a_seal_under_warranty_goes_back_to_the_supplier(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    install(conn, ids["a01-00"], "mechanical_seal", "SEAL-A", SEAL, warranty_days=200)
    ticket = _replace(conn, ids["a01-00"], "seal_leak", "mechanical_seal")
    assert _returns(conn) == [("SEAL-A", SEAL, "seal_leak", True, "removed", None, None, None)]
    assert conn.execute("SELECT ticket_id FROM part_return").fetchone()[0] == ticket
    summary = process_returns(conn, at=T0 + timedelta(hours=1))
    assert (summary.registered, summary.rma) == (0, 1)
    return_id = conn.execute("SELECT return_id FROM part_return").fetchone()[0]
    assert close_rma(conn, return_id, accepted=True) == Decimal("420.00")
    assert _returns(conn)[0][4:] == ("rma_credited", True, f"RMA-{return_id:06d}",
                                     Decimal("420.00"))


def test_an_out_of_warranty_seal_is_repaired_back_into_stock(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    install(conn, ids["a01-02"], "mechanical_seal", "SEAL-B", SEAL, warranty_days=-10)
    _replace(conn, ids["a01-02"], "seal_leak", "mechanical_seal")
    on_hand = stock_level(conn, SEAL, "site-01").on_hand
    assert process_returns(conn, at=T0).repair == 1
    pipeline = conn.execute("SELECT part_no, site_id, in_repair, next_due_at, repair_cost"
                            " FROM v_repair_pipeline").fetchall()
    assert pipeline == [(SEAL, "site-01", 1, T0 + timedelta(days=10), Decimal("95.00"))]
    assert process_returns(conn, at=T0 + timedelta(days=9)).repaired == 0
    assert process_returns(conn, at=T0 + timedelta(days=10)).repaired == 1
    assert stock_level(conn, SEAL, "site-01").on_hand == on_hand + 1
    assert conn.execute("SELECT kind, qty, reference FROM stock_movement ORDER BY movement_id"
                        " DESC LIMIT 1").fetchone() == ("repair_return", 1, "serial SEAL-B")
    assert _returns(conn)[0][4] == "repaired"


def test_no_fault_found_rate_per_part_and_failure_mode(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    install(conn, ids["a01-00"], "bearing", "BRG-A", BRG, warranty_days=-1)
    install(conn, ids["a01-02"], "bearing", "BRG-B", BRG, warranty_days=-1)
    _replace(conn, ids["a01-00"], "bearing_wear", "bearing")
    _replace(conn, ids["a01-02"], "bearing_wear", "bearing")
    first, second = (r[0] for r in conn.execute(
        "SELECT return_id FROM part_return ORDER BY return_id"))
    on_hand = stock_level(conn, BRG, "site-01").on_hand
    assert inspect_return(conn, first, fault_found=False) == "no_fault_found"
    assert stock_level(conn, BRG, "site-01").on_hand == on_hand + 1     # serviceable again
    inspect_return(conn, second, fault_found=True)
    rates = {(d, k): (t, n, r) for d, k, t, n, r in conn.execute(
        "SELECT dimension, key, tested, no_fault_found, nff_rate FROM v_nff_rate")}
    assert rates[("part", BRG)] == (2, 1, 0.5)
    assert rates[("failure_mode", "bearing_wear")] == (2, 1, 0.5)


def test_bad_returns_are_one_clear_error_and_change_nothing(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    install(conn, ids["a01-00"], "bearing", "BRG-A", BRG, warranty_days=-1)
    _replace(conn, ids["a01-00"], "bearing_wear", "bearing")
    return_id = conn.execute("SELECT return_id FROM part_return").fetchone()[0]

    def state() -> tuple:
        return (_returns(conn), conn.execute("SELECT sum(on_hand) FROM stock").fetchone())

    before = state()
    with pytest.raises(ReturnError, match="serial NEVER-1 was never installed"):
        record_return(conn, "NEVER-1")
    with pytest.raises(ReturnError, match="out of warranty when removed"):
        open_rma(conn, return_id)
    with pytest.raises(ReturnError, match=f"{BRG} is not repairable"):
        send_to_repair(conn, return_id)
    with pytest.raises(ReturnError, match="already returned as RET-"):
        record_return(conn, "BRG-A")
    install(conn, ids["a01-02"], "bearing", "BRG-C", BRG, warranty_days=30)
    with pytest.raises(ReturnError, match="BRG-C is still installed on a01-02"):
        record_return(conn, "BRG-C")
    assert state() == before


def test_the_repair_pipeline_is_supply_in_policy_and_replenishment(fleet_db: Fleet) -> None:
    from assetwatch.service.policy import compute_inventory_policy
    from assetwatch.service.replenishment import evaluate_replenishment, set_rule

    conn, ids = fleet_db
    install(conn, ids["a01-02"], "mechanical_seal", "SEAL-B", SEAL, warranty_days=-10)
    _replace(conn, ids["a01-02"], "seal_leak", "mechanical_seal")
    set_rule(conn, SEAL, "site-01", "reorder_point", reorder_point=1, order_up_to=2)
    assert stock_level(conn, SEAL, "site-01").on_hand == 0
    process_returns(conn, at=datetime.now(UTC))          # the seal goes to repair (10 days)
    row = conn.execute("SELECT in_repair, position FROM v_replenishment_rule"
                       " WHERE part_no = %s AND site_id = 'site-01'", (SEAL,)).fetchone()
    assert row == (1, 1)            # due back within the 10-day lead time: no order needed
    assert evaluate_replenishment(conn).proposed == 0
    compute_inventory_policy(conn, as_of=datetime.now(UTC))
    assert conn.execute("SELECT repair_pipeline FROM v_inventory_policy WHERE part_no = %s"
                        " AND site_id = 'site-01'", (SEAL,)).fetchone()[0] == 1
    # evaluated a month back (a replay, a back-dated run), the unit is not due within the
    # lead time from then: the position lacks it and the rule orders
    month_ago = datetime.now(UTC) - timedelta(days=30)
    assert evaluate_replenishment(conn, at=month_ago).proposed == 1
