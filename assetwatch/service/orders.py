"""Replenishment orders: proposed -> ordered -> received (in one or more receipts), or cancelled.

* :func:`place_order` raises an order (``kind``: ``reorder_point``, ``kanban``, ``expedite``,
  ``opening``) with the supplier and the lead time of the part to the site;
* :func:`approve_order` sends a proposed order to the supplier (``ordered``, due after the
  lead time);
* :func:`receive_order` books a receipt, whole or partial, into stock through the stock ledger
  and gives it to the site's tickets short of the part; the order is ``received`` when all of
  it has come;
* :func:`expedite_shortage` and :func:`cover_shortage` cover a ticket's shortage now.

A receipt for an unknown order, a quantity that is not positive, more than is outstanding or
an order that was never sent is an :class:`~assetwatch.service.errors.OrderError`; nothing
changes. ``on_order`` of a (part, site) is what its open orders still bring
(``v_stock_available``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from assetwatch.service.errors import OrderError
from assetwatch.service.reservations import reallocate, shortage_options, transfer_stock
from assetwatch.service.stock_ledger import lock_stock, move_stock

__all__ = ["ORDER_KINDS", "Order", "approve_order", "cancel_order", "cover_shortage",
           "expedite_shortage", "order_no", "place_order", "receive_order"]

ORDER_KINDS = ("reorder_point", "kanban", "expedite", "opening")


@dataclass(frozen=True)
class Order:
    """One replenishment order as stored."""

    order_id: int
    part_no: str
    site_id: str
    qty: int
    received_qty: int
    state: str
    kind: str

    @property
    def outstanding(self) -> int:
        return self.qty - self.received_qty


def order_no(order_id: int) -> str:
    """The order number planners and suppliers see (``RO-000042``)."""
    return f"RO-{order_id:06d}"


def place_order(conn: psycopg.Connection, part_no: str, site_id: str, qty: int, *, kind: str,
                at: datetime | None = None, ordered: bool = False, card_no: int | None = None,
                ticket_id: int | None = None, reason: str = "",
                lead_time_days: float | None = None) -> int:
    """Raise an order (``proposed``, or ``ordered`` when ``ordered``); return its id. The
    lead time defaults to the part's expedite lead time for ``expedite``, else its lead time
    to the site."""
    at = at or datetime.now(UTC)
    if kind not in ORDER_KINDS:
        raise OrderError(f"unknown order kind {kind!r}; use one of {', '.join(ORDER_KINDS)}")
    if not isinstance(qty, int) or qty <= 0:
        raise OrderError(f"order quantity of {part_no} at {site_id} must be a positive whole"
                         f" number, not {qty!r}")
    with conn.transaction():
        lock_stock(conn, part_no, site_id)     # checks part and site
        row = conn.execute(
            "SELECT p.supplier, lt.lead_time_days, p.expedite_lead_time_days FROM part p"
            " LEFT JOIN v_part_lead_time lt ON lt.part_no = p.part_no AND lt.site_id = %s"
            " WHERE p.part_no = %s", (site_id, part_no)).fetchone()
        assert row is not None
        supplier, lead, expedite = row
        if lead_time_days is None:
            chosen = expedite if kind == "expedite" and expedite is not None else lead
            lead_time_days = float(chosen) if chosen is not None else 0.0
        created = conn.execute(
            "INSERT INTO replenishment_order (part_no, site_id, qty, state, kind, supplier,"
            " lead_time_days, card_no, ticket_id, reason, created_at, ordered_at, due_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING order_id",
            (part_no, site_id, qty, "ordered" if ordered else "proposed", kind, supplier,
             lead_time_days, card_no, ticket_id, reason, at, at if ordered else None,
             at + timedelta(days=lead_time_days) if ordered else None)).fetchone()
        assert created is not None
    return int(created[0])


def approve_order(conn: psycopg.Connection, order_id: int, *,
                  at: datetime | None = None) -> Order:
    """Send a proposed order to the supplier: ``ordered``, due after its lead time."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        order = _order(conn, order_id)
        if order.state != "proposed":
            raise OrderError(f"order {order_no(order_id)} is {order.state}; only a proposed"
                             " order can be approved")
        conn.execute("UPDATE replenishment_order SET state = 'ordered', ordered_at = %s,"
                     " due_at = %s + lead_time_days * interval '1 day' WHERE order_id = %s",
                     (at, at, order_id))
        return _order(conn, order_id)


def cancel_order(conn: psycopg.Connection, order_id: int, *,
                 at: datetime | None = None) -> Order:
    """Cancel an open order with nothing received yet."""
    with conn.transaction():
        order = _order(conn, order_id)
        if order.state not in ("proposed", "ordered") or order.received_qty:
            raise OrderError(f"order {order_no(order_id)} is {order.state} with "
                             f"{order.received_qty} received; it cannot be cancelled")
        conn.execute("UPDATE replenishment_order SET state = 'cancelled' WHERE order_id = %s",
                     (order_id,))
        return _order(conn, order_id)


def receive_order(conn: psycopg.Connection, order_id: int, qty: int | None = None, *,
                  at: datetime | None = None) -> Order:
    """Book a receipt of ``qty`` (default: all that is outstanding) into the site's stock."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        order = _order(conn, order_id)
        if order.state != "ordered":
            raise OrderError(f"order {order_no(order_id)} is {order.state}; only an ordered"
                             " order can be received")
        qty = order.outstanding if qty is None else qty
        if not isinstance(qty, int) or qty <= 0:
            raise OrderError(f"receipt quantity for {order_no(order_id)} must be a positive"
                             f" whole number, not {qty!r}")
        if qty > order.outstanding:
            raise OrderError(f"receipt of {qty} for {order_no(order_id)} ({order.part_no} at"
                             f" {order.site_id}) exceeds the {order.outstanding} outstanding")
        move_stock(conn, order.part_no, order.site_id, qty, "receipt", at=at,
                   reference=order_no(order_id))
        complete = qty == order.outstanding
        conn.execute("UPDATE replenishment_order SET received_qty = received_qty + %s,"
                     " state = CASE WHEN %s THEN 'received' ELSE state END,"
                     " received_at = %s WHERE order_id = %s", (qty, complete, at, order_id))
        reallocate(conn, order.part_no, order.site_id, at=at)
        return _order(conn, order_id)


def expedite_shortage(conn: psycopg.Connection, ticket_id: int, *,
                      at: datetime | None = None) -> dict[str, int]:
    """Cover the ticket's shortage with expedited orders received at ``at`` (a part needed
    now, the technician on site); return ``{part_no: qty}`` received."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        short = {r[0]: (r[1], int(r[2])) for r in conn.execute(
            "SELECT r.part_no, r.site_id, r.required_qty - r.reserved_qty"
            " FROM stock_reservation r WHERE r.ticket_id = %s AND r.state = 'active'"
            " AND r.reserved_qty < r.required_qty ORDER BY r.part_no", (ticket_id,))}
        for part_no, (site_id, qty) in short.items():
            order_id = place_order(conn, part_no, site_id, qty, kind="expedite", at=at,
                                   ordered=True, ticket_id=ticket_id,
                                   reason=f"expedited for ticket {ticket_id}")
            receive_order(conn, order_id, at=at)
    return {part_no: qty for part_no, (_, qty) in short.items()}


def cover_shortage(conn: psycopg.Connection, ticket_id: int, *,
                   at: datetime | None = None) -> dict[str, str]:
    """Cover every part the ticket is short of with its first option: a transfer from the
    site with the most available stock, else an expedited order; return ``{part_no:
    "transfer from <site>" | "expedited"}``."""
    at = at or datetime.now(UTC)
    done: dict[str, str] = {}
    with conn.transaction():
        site = conn.execute("SELECT a.site_id FROM service_ticket t JOIN asset a"
                            " USING (asset_id) WHERE t.ticket_id = %s", (ticket_id,)).fetchone()
        if site is None:
            raise OrderError(f"no ticket {ticket_id}")
        for option in shortage_options(conn, ticket_id):
            source = option["transfer_site_id"]
            if source is not None:
                transfer_stock(conn, option["part_no"], source, site[0], option["short_qty"],
                               at=at, ticket_id=ticket_id)
                done[option["part_no"]] = f"transfer from {source}"
        expedited = expedite_shortage(conn, ticket_id, at=at)
        done.update({part_no: "expedited" for part_no in expedited})
    return done


def _order(conn: psycopg.Connection, order_id: int) -> Order:
    row = conn.execute("SELECT order_id, part_no, site_id, qty, received_qty, state, kind"
                       " FROM replenishment_order WHERE order_id = %s FOR UPDATE",
                       (order_id,)).fetchone()
    if row is None:
        raise OrderError(f"no replenishment order {order_id}")
    return Order(int(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]),
                 str(row[5]), str(row[6]))
