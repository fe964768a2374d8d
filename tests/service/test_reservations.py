"""Stock reserved for tickets: shortages with options, consumption without clamping, release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.service.bom import repair_kit
from assetwatch.service.errors import StockError
from assetwatch.service.policy import compute_inventory_policy
from assetwatch.service.reservations import consume, release, reserve_kit
from assetwatch.service.stock_ledger import move_stock, stock_level
from assetwatch.service.ticket_lifecycle import close_ticket, open_ticket

T0 = datetime(2026, 3, 1, tzinfo=UTC)
SEAL = "SEAL-M37G-45"
Fleet = tuple[psycopg.Connection, dict[str, int]]


def _seal_ticket(conn: psycopg.Connection, asset_id: int, at: datetime = T0) -> int:
    return open_ticket(conn, asset_id, "seal_leak", risk=0.7, priority=2, at=at,
                       kit=repair_kit(conn, "CP-200", "mechanical_seal"))


def _state(conn: psycopg.Connection) -> tuple:
    """Everything a refused operation must leave alone."""
    return (conn.execute("SELECT part_no, site_id, on_hand FROM stock ORDER BY 1, 2").fetchall(),
            conn.execute("SELECT ticket_id, part_no, reserved_qty, state FROM stock_reservation"
                         " ORDER BY 1, 2").fetchall(),
            conn.execute("SELECT ticket_id, status FROM service_ticket ORDER BY 1").fetchall(),
            conn.execute("SELECT count(*) FROM stock_movement").fetchone())


def test_second_ticket_for_the_last_seal_is_short_with_options(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    assert stock_level(conn, SEAL, "site-01").on_hand == 1
    first = _seal_ticket(conn, ids["a01-00"])
    second = _seal_ticket(conn, ids["a01-02"], T0 + timedelta(hours=1))
    level = stock_level(conn, SEAL, "site-01")
    assert (level.on_hand, level.reserved, level.available) == (1, 1, 0)
    flags = dict(conn.execute("SELECT ticket_id, parts_short FROM service_ticket").fetchall())
    assert flags == {first: False, second: True}
    shortage = conn.execute("SELECT shortage FROM service_ticket WHERE ticket_id = %s",
                            (second,)).fetchone()[0]
    assert shortage == [{"part_no": SEAL, "short_qty": 1, "transfer_site_id": "site-02",
                         "transfer_available": 1, "transfer_lead_time_days": 2.0,
                         "expedite_lead_time_days": 4.0}]
    row = conn.execute("SELECT ticket_id, short_qty, transfer_covers, options"
                       " FROM v_ticket_shortage").fetchall()
    assert row == [(second, 1, True, f"{SEAL} x1 (transfer from site-02)")]
    history = [r[0] for r in conn.execute(
        "SELECT change FROM ticket_history WHERE ticket_id = %s ORDER BY at", (second,))]
    assert history == ["opened", "parts_short"]
    # reserving again is idempotent
    assert reserve_kit(conn, first).short is False
    assert stock_level(conn, SEAL, "site-01").reserved == 1


def test_consuming_without_stock_is_an_error_and_changes_nothing(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    _seal_ticket(conn, ids["a01-00"])
    second = _seal_ticket(conn, ids["a01-02"])
    before = _state(conn)
    with pytest.raises(StockError, match=rf"no stock of {SEAL} at site-01 for ticket {second}"):
        close_ticket(conn, second, resolution_code="confirmed_failure", at=T0)
    assert _state(conn) == before
    with pytest.raises(StockError, match="positive whole number"):
        consume(conn, second, {"GSK-CP200-CASING": -1})
    assert _state(conn) == before
    with pytest.raises(StockError, match="no stock of"):
        move_stock(conn, SEAL, "site-01", -2, "adjustment")
    assert _state(conn) == before


def test_cancelling_releases_to_the_short_ticket_and_closing_consumes(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    first = _seal_ticket(conn, ids["a01-00"])
    second = _seal_ticket(conn, ids["a01-02"])
    close_ticket(conn, first, resolution_code="cancelled", at=T0 + timedelta(hours=2))
    assert conn.execute("SELECT parts_short FROM service_ticket WHERE ticket_id = %s",
                        (second,)).fetchone()[0] is False
    assert conn.execute("SELECT count(*) FROM v_ticket_shortage").fetchone()[0] == 0
    close_ticket(conn, second, resolution_code="confirmed_failure", at=T0 + timedelta(hours=3))
    level = stock_level(conn, SEAL, "site-01")
    assert (level.on_hand, level.reserved) == (0, 0)
    moves = conn.execute("SELECT part_no, qty, kind, ticket_id, on_hand_after FROM"
                         " stock_movement WHERE part_no = %s", (SEAL,)).fetchall()
    assert moves == [(SEAL, -1, "consumption", second, 0)]
    states = dict(conn.execute("SELECT ticket_id, state FROM stock_reservation"
                               " WHERE part_no = %s", (SEAL,)).fetchall())
    assert states == {first: "released", second: "consumed"}


def test_a_receipt_tops_up_the_shortage_and_release_frees(fleet_db: Fleet) -> None:
    from assetwatch.service.reservations import reallocate

    conn, ids = fleet_db
    _seal_ticket(conn, ids["a01-00"])
    second = _seal_ticket(conn, ids["a01-02"])
    move_stock(conn, SEAL, "site-01", 1, "receipt", reference="test")
    assert reallocate(conn, SEAL, "site-01") == 1
    assert conn.execute("SELECT parts_short FROM service_ticket WHERE ticket_id = %s",
                        (second,)).fetchone()[0] is False
    assert release(conn, second) >= 1
    assert stock_level(conn, SEAL, "site-01").reserved == 1


def test_the_policy_counts_reservations(fleet_db: Fleet, predict) -> None:
    conn, ids = fleet_db
    predict(conn, T0, {(ids["a01-00"], "mechanical_seal"): {30: 0.2},
                       (ids["a01-02"], "mechanical_seal"): {30: 0.2}})

    def seal_row() -> tuple:
        compute_inventory_policy(conn, as_of=T0, computed_at=datetime.now(UTC))
        return conn.execute("SELECT reserved, stockout_probability FROM v_inventory_policy"
                            " WHERE part_no = %s AND site_id = 'site-01'", (SEAL,)).fetchone()

    reserved, p_before = seal_row()
    assert reserved == 0
    _seal_ticket(conn, ids["a01-00"])
    _seal_ticket(conn, ids["a01-02"])
    reserved, p_after = seal_row()
    assert reserved == 2          # both kits committed, one of them short
    assert p_after == pytest.approx(1.0) and p_before < 0.9


def test_cover_shortage_transfers_from_the_other_site(fleet_db: Fleet) -> None:
    from assetwatch.service.orders import cover_shortage
    from assetwatch.service.reservations import transfer_stock

    conn, ids = fleet_db
    _seal_ticket(conn, ids["a01-00"])
    second = _seal_ticket(conn, ids["a01-02"])
    assert cover_shortage(conn, second) == {SEAL: "transfer from site-02"}
    assert stock_level(conn, SEAL, "site-02").on_hand == 0
    assert stock_level(conn, SEAL, "site-01").reserved == 2
    moves = conn.execute("SELECT site_id, qty, kind FROM stock_movement WHERE part_no = %s"
                         " ORDER BY movement_id", (SEAL,)).fetchall()
    assert moves == [("site-02", -1, "transfer_out"), ("site-01", 1, "transfer_in")]
    before = _state(conn)
    with pytest.raises(StockError, match="0 available there"):
        transfer_stock(conn, SEAL, "site-02", "site-01", 1)
    # site-02's ticket now finds no stock anywhere: the only option left is an expedited order
    third = open_ticket(conn, ids["a02-00"], "seal_leak", risk=0.7, at=T0,
                        kit=repair_kit(conn, "CP-200", "mechanical_seal"))
    assert _state(conn)[0] == before[0]
    assert cover_shortage(conn, third) == {SEAL: "expedited"}
    close_ticket(conn, third, resolution_code="preventive_replacement", at=T0)
    assert stock_level(conn, SEAL, "site-02").on_hand == 0
