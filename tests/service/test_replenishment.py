"""Replenishment that runs: rules raise orders, receipts (partial too) fill stock and tickets,
two-bin cards release one order each; bad receipts change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.service.bom import repair_kit
from assetwatch.service.errors import OrderError
from assetwatch.service.orders import approve_order, receive_order
from assetwatch.service.replenishment import evaluate_replenishment, set_rule
from assetwatch.service.stock_ledger import stock_level
from assetwatch.service.ticket_lifecycle import open_ticket

T0 = datetime(2026, 3, 1, tzinfo=UTC)
Fleet = tuple[psycopg.Connection, dict[str, int]]
BRG = "BRG-6309-C3"


def _orders(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT order_id, part_no, site_id, kind, state, qty, received_qty,"
                        " card_no FROM replenishment_order ORDER BY order_id").fetchall()


def _seal_ticket(conn: psycopg.Connection, asset_id: int) -> int:
    return open_ticket(conn, asset_id, "seal_leak", risk=0.7, priority=2, at=T0,
                       kit=repair_kit(conn, "CP-200", "mechanical_seal"))


def test_reorder_point_rule_orders_up_to_and_receipts_fill_stock(fleet_db: Fleet) -> None:
    conn, _ = fleet_db
    set_rule(conn, BRG, "site-02", "reorder_point", reorder_point=3, order_up_to=6)
    first = evaluate_replenishment(conn, at=T0)
    assert first.proposed == 1 and first.rules_created > 0
    (order_id, *rest), = [o for o in _orders(conn) if o[2] == "site-02"]
    assert rest == [BRG, "site-02", "reorder_point", "proposed", 4, 0, None]
    assert stock_level(conn, BRG, "site-02").on_order == 4
    assert evaluate_replenishment(conn, at=T0).proposed == 0      # open orders count
    approved = approve_order(conn, order_id, at=T0)
    assert approved.state == "ordered"
    due = conn.execute("SELECT due_at FROM replenishment_order WHERE order_id = %s",
                       (order_id,)).fetchone()[0]
    assert due == T0 + timedelta(days=14)
    partial = receive_order(conn, order_id, 1, at=T0 + timedelta(days=10))
    assert (partial.state, partial.outstanding) == ("ordered", 3)
    level = stock_level(conn, BRG, "site-02")
    assert (level.on_hand, level.on_order) == (3, 3)
    assert receive_order(conn, order_id, at=T0 + timedelta(days=14)).state == "received"
    level = stock_level(conn, BRG, "site-02")
    assert (level.on_hand, level.on_order) == (6, 0)
    receipts = conn.execute("SELECT qty, kind, reference FROM stock_movement"
                            " ORDER BY movement_id").fetchall()
    assert receipts == [(1, "receipt", f"RO-{order_id:06d}"), (3, "receipt", f"RO-{order_id:06d}")]


def test_bad_receipts_are_one_clear_error_and_change_nothing(fleet_db: Fleet) -> None:
    conn, _ = fleet_db
    set_rule(conn, BRG, "site-02", "reorder_point", reorder_point=3, order_up_to=6)
    evaluate_replenishment(conn, at=T0)
    order_id = _orders(conn)[0][0]

    def state() -> tuple:
        return (_orders(conn), conn.execute("SELECT sum(on_hand) FROM stock").fetchone(),
                conn.execute("SELECT count(*) FROM stock_movement").fetchone())

    before = state()
    with pytest.raises(OrderError, match="no replenishment order 999999"):
        receive_order(conn, 999999, 1)
    with pytest.raises(OrderError, match="is proposed; only an ordered order"):
        receive_order(conn, order_id, 1)
    approve_order(conn, order_id)
    before = state()
    for qty, message in ((-2, "positive whole number"), (0, "positive whole number"),
                         (9, "exceeds the 4 outstanding")):
        with pytest.raises(OrderError, match=message):
            receive_order(conn, order_id, qty)
        assert state() == before
    with pytest.raises(OrderError, match="must be at least 0"):
        set_rule(conn, BRG, "site-02", "reorder_point", reorder_point=-1)


def test_two_bin_releases_one_card_when_the_first_bin_is_emptied(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    gasket = "GSK-CP200-CASING"           # 3 on hand at every site
    set_rule(conn, gasket, "site-01", "kanban", bin_qty=2, cards=2)
    assert evaluate_replenishment(conn, at=T0).cards_released == 0
    _seal_ticket(conn, ids["a01-00"])      # the kit takes one gasket: 2 left = one bin
    released = evaluate_replenishment(conn, at=T0)
    assert released.cards_released == 1
    kanban = [o for o in _orders(conn) if o[3] == "kanban"]
    assert [(o[4], o[5], o[7]) for o in kanban] == [("ordered", 2, 1)]
    assert evaluate_replenishment(conn, at=T0).cards_released == 0   # one order per card
    cards = conn.execute("SELECT card_no, state FROM v_kanban_card WHERE part_no = %s"
                         " ORDER BY card_no", (gasket,)).fetchall()
    assert cards == [(1, "released"), (2, "full")]
    receive_order(conn, kanban[0][0], at=T0 + timedelta(days=10))
    cards = conn.execute("SELECT state FROM v_kanban_card WHERE part_no = %s", (gasket,))
    assert {c[0] for c in cards} == {"full"}


def test_a_shortage_raises_an_order_and_its_receipt_serves_the_ticket(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    _seal_ticket(conn, ids["a01-00"])
    short = _seal_ticket(conn, ids["a01-02"])
    evaluate_replenishment(conn, at=T0, auto_approve=True)
    seal = [o for o in _orders(conn) if o[1] == "SEAL-M37G-45"]
    assert [(o[2], o[4], o[5]) for o in seal] == [("site-01", "ordered", 1)]
    receive_order(conn, seal[0][0], at=T0 + timedelta(days=10))
    assert conn.execute("SELECT parts_short FROM service_ticket WHERE ticket_id = %s",
                        (short,)).fetchone()[0] is False
