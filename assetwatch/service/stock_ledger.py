"""The stock ledger: the one writer of a site's on-hand stock after master data is loaded.

Every change is a :func:`move_stock` call that locks the ``stock`` row of (part, site), checks
the result, updates ``on_hand`` and appends a ``stock_movement`` row with the quantity, the
kind (``receipt``, ``consumption``, ``transfer_in``, ``transfer_out``, ``repair_return``,
``adjustment``), the ticket or reference it belongs to and the on-hand stock after it, in the
caller's transaction. Stock never goes negative and is never clamped: a movement that would
take more than is on hand raises :class:`~assetwatch.service.errors.StockError` naming the
part, the site and the ticket, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from assetwatch.service.errors import StockError

__all__ = ["MOVEMENT_KINDS", "StockLevel", "lock_stock", "move_stock", "stock_level"]

MOVEMENT_KINDS = ("receipt", "consumption", "transfer_in", "transfer_out", "repair_return",
                  "adjustment")


@dataclass(frozen=True)
class StockLevel:
    """Stock of one (part, site): ``available`` = ``on_hand`` - ``reserved``."""

    part_no: str
    site_id: str
    on_hand: int
    reserved: int
    on_order: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def lock_stock(conn: psycopg.Connection, part_no: str, site_id: str) -> int:
    """Lock the ``stock`` row of (part, site) for the transaction, creating it with nothing on
    hand when the site never stocked the part; return ``on_hand``. Raises
    :class:`StockError` for an unknown part or site."""
    known = conn.execute(
        "SELECT (SELECT is_kit FROM part WHERE part_no = %s),"
        " EXISTS (SELECT 1 FROM site WHERE site_id = %s)", (part_no, site_id)).fetchone()
    assert known is not None
    if known[0] is None:
        raise StockError(f"unknown part {part_no!r}")
    if known[0]:
        raise StockError(f"{part_no} is a kit; stock is kept for its parts")
    if not known[1]:
        raise StockError(f"unknown site {site_id!r}")
    conn.execute("INSERT INTO stock (part_no, site_id, on_hand) VALUES (%s, %s, 0)"
                 " ON CONFLICT (part_no, site_id) DO NOTHING", (part_no, site_id))
    row = conn.execute("SELECT on_hand FROM stock WHERE part_no = %s AND site_id = %s"
                       " FOR UPDATE", (part_no, site_id)).fetchone()
    assert row is not None
    return int(row[0])


def move_stock(conn: psycopg.Connection, part_no: str, site_id: str, qty: int, kind: str, *,
               at: datetime | None = None, ticket_id: int | None = None,
               reference: str | None = None) -> int:
    """Add ``qty`` (negative: take) to the on-hand stock of (part, site) and record the
    movement; return the on-hand stock after it. One transaction (the caller's, if any)."""
    if kind not in MOVEMENT_KINDS:
        raise StockError(f"unknown stock movement {kind!r}; use one of "
                         f"{', '.join(MOVEMENT_KINDS)}")
    if qty == 0:
        raise StockError(f"a {kind} of 0 x {part_no} at {site_id} moves nothing")
    at = at or datetime.now(UTC)
    with conn.transaction():
        on_hand = lock_stock(conn, part_no, site_id)
        after = on_hand + qty
        if after < 0:
            for_ticket = f" for ticket {ticket_id}" if ticket_id is not None else ""
            raise StockError(f"no stock of {part_no} at {site_id}{for_ticket}: {kind} of "
                             f"{-qty} with {on_hand} on hand")
        conn.execute("UPDATE stock SET on_hand = %s, updated_at = now()"
                     " WHERE part_no = %s AND site_id = %s", (after, part_no, site_id))
        conn.execute("INSERT INTO stock_movement (at, part_no, site_id, qty, kind, ticket_id,"
                     " reference, on_hand_after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                     (at, part_no, site_id, qty, kind, ticket_id, reference, after))
    return after


def stock_level(conn: psycopg.Connection, part_no: str, site_id: str) -> StockLevel:
    """On hand, reserved and on order of (part, site) now (zeros when never stocked)."""
    row = conn.execute("SELECT on_hand, reserved, on_order FROM v_stock_available"
                       " WHERE part_no = %s AND site_id = %s", (part_no, site_id)).fetchone()
    on_hand, reserved, on_order = row if row else (0, 0, 0)
    return StockLevel(part_no, site_id, int(on_hand), int(reserved), int(on_order))
