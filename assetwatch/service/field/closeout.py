"""The technician's close-out of a visit: time on site, parts used, the work's outcome.

:func:`close_visit`, in one transaction: the parts used (default: the visit's kit) are
shared out over the work, each ticket first up to its own kit, then the preventive work
orders, anything beyond the kits to the first ticket. Each ticket is closed with the
resolution code and its share of the parts (as ``tickets close --used`` does: replacement
events, installed base, training label, the parts taken from its reservation through the
stock ledger, the rest of the reservation released); each preventive work order is closed
``done`` with a ``maintenance`` event of its task (which restarts its schedule) and its
share taken out of stock. ``visit_part_return`` records per part the quantity carried in the
visit's kit, used and returned (kit minus used: it goes back to the shelf, its reservation
released). With ``fixed=False`` the tickets stay open (a second visit is needed) and keep
their reservations. A ticket closed meanwhile (say, by a repair recorded on its own) is left
as it is, as is a work order already closed. Too little stock for the parts used is a
:class:`~assetwatch.service.errors.StockError` naming part, site and ticket, and nothing
changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.errors import DispatchError
from assetwatch.service.stock_ledger import move_stock
from assetwatch.service.ticket_lifecycle import (
    REPLACING_RESOLUTIONS,
    RESOLUTION_CODES,
    close_ticket,
)

__all__ = ["CloseOut", "close_visit"]


@dataclass
class CloseOut:
    """What closing one visit did."""

    visit_id: int
    tickets_closed: list[int] = field(default_factory=list)
    work_orders_closed: list[int] = field(default_factory=list)
    returned: dict[str, int] = field(default_factory=dict)   # part -> back to stock (< 0: more)

    def __str__(self) -> str:
        moves = ", ".join(f"{p} {'+' if q > 0 else ''}{q}"
                          for p, q in sorted(self.returned.items()) if q) or "none"
        return (f"visit {self.visit_id} closed: tickets {self.tickets_closed or '-'}, work "
                f"orders {self.work_orders_closed or '-'}; back to stock: {moves}")


def close_visit(conn: psycopg.Connection, visit_id: int, *, on_site_minutes: float,
                parts_used: dict[str, int] | None = None,
                resolution_code: str = "confirmed_failure", fixed: bool = True,
                at: datetime | None = None, note: str | None = None) -> CloseOut:
    """Close a planned or started visit (see the module); raises :class:`DispatchError` for
    an unknown or already closed visit, a negative time or quantity, or a part that does not
    exist."""
    at = at or datetime.now(UTC)
    if on_site_minutes < 0 or any(q < 0 for q in (parts_used or {}).values()):
        raise DispatchError("time on site and parts used must not be negative")
    if resolution_code not in RESOLUTION_CODES:
        raise DispatchError(f"unknown resolution code {resolution_code!r}")
    with conn.transaction():
        row = conn.execute("SELECT site_id, kit, status FROM visit WHERE visit_id = %s"
                           " FOR UPDATE", (visit_id,)).fetchone()
        if row is None:
            raise DispatchError(f"no visit {visit_id}")
        site_id, kit, status = row
        if status not in ("planned", "started"):
            raise DispatchError(f"visit {visit_id} is {status}; only a planned or started visit"
                                " closes")
        unknown = sorted(set(parts_used or {}) - {r[0] for r in conn.execute(
            "SELECT part_no FROM part WHERE part_no = ANY(%s)", (list(parts_used or {}),))})
        if unknown:
            raise DispatchError(f"visit {visit_id}: unknown part(s) {', '.join(unknown)}")
        carried = {str(i["part_no"]): int(i["qty"]) for i in kit}
        used = dict(parts_used) if parts_used is not None else (carried if fixed else {})
        done = CloseOut(visit_id)
        _close_work(conn, visit_id, site_id, used, resolution_code, fixed, at, note, done)
        for part_no in sorted(set(carried) | set(used)):
            back = carried.get(part_no, 0) - used.get(part_no, 0)
            conn.execute("INSERT INTO visit_part_return (visit_id, part_no, kit_qty, used_qty,"
                         " returned_qty) VALUES (%s, %s, %s, %s, %s)",
                         (visit_id, part_no, carried.get(part_no, 0), used.get(part_no, 0),
                          back))
            done.returned[part_no] = back
        conn.execute("UPDATE visit SET status = 'done', finished_at = %s, on_site_minutes = %s,"
                     " parts_used = %s WHERE visit_id = %s",
                     (at, on_site_minutes, Jsonb([{"part_no": p, "qty": q}
                                                  for p, q in sorted(used.items())]), visit_id))
    return done


def _close_work(conn: psycopg.Connection, visit_id: int, site_id: str, used: dict[str, int],
                resolution_code: str, fixed: bool, at: datetime, note: str | None,
                done: CloseOut) -> None:
    """Close the visit's tickets and work orders, each with its share of the parts used."""
    left = {p: q for p, q in used.items() if q > 0}
    tickets = conn.execute(
        "SELECT t.ticket_id, t.kit FROM service_ticket t JOIN visit_work w USING (ticket_id)"
        " WHERE w.visit_id = %s AND t.status <> 'closed' ORDER BY t.ticket_id",
        (visit_id,)).fetchall()
    orders = conn.execute(
        "SELECT w.work_order_id, w.asset_id, w.task, w.kit FROM pm_work_order w"
        " JOIN visit_work vw USING (work_order_id) WHERE vw.visit_id = %s"
        " AND w.status <> 'closed' ORDER BY w.work_order_id", (visit_id,)).fetchall()
    shares = [_share(left, kit) for _, kit in tickets] if fixed else []
    order_shares = [_share(left, kit) for *_, kit in orders]
    if left and shares:
        for part_no, qty in left.items():
            shares[0][part_no] = shares[0].get(part_no, 0) + qty
        left = {}
    for (ticket_id, _), share in zip(tickets, shares or [None] * len(tickets), strict=True):
        if not fixed:
            conn.execute("UPDATE service_ticket SET status = 'open', scheduled_for = NULL,"
                         " updated_at = %s WHERE ticket_id = %s AND status <> 'closed'",
                         (at, ticket_id))
            conn.execute("INSERT INTO ticket_history (ticket_id, at, change, detail) VALUES"
                         " (%s, %s, 'not_fixed', %s)", (ticket_id, at,
                                                        Jsonb({"visit_id": visit_id})))
            continue
        close_ticket(conn, ticket_id, resolution_code=resolution_code, at=at, note=note,
                     parts_used=share or {})
        if resolution_code not in REPLACING_RESOLUTIONS:
            # closing released the kit; take what was used
            _take(conn, site_id, share or {}, at, f"ticket {ticket_id}")
        done.tickets_closed.append(ticket_id)
    if order_shares and left:
        for part_no, qty in left.items():
            order_shares[0][part_no] = order_shares[0].get(part_no, 0) + qty
    for (work_order_id, asset_id, task, _), share in zip(orders, order_shares, strict=True):
        conn.execute("UPDATE pm_work_order SET status = 'closed', closed_at = %s,"
                     " resolution = 'done' WHERE work_order_id = %s", (at, work_order_id))
        conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, code, detail,"
                     " source) VALUES (%s, %s, %s, 'maintenance', %s, %s, 'visit')"
                     " ON CONFLICT (event_id) DO NOTHING",
                     (f"pm-{work_order_id}", asset_id, at, task,
                      Jsonb({"visit_id": visit_id, "work_order_id": work_order_id})))
        _take(conn, site_id, share, at, f"preventive work order {work_order_id}")
        done.work_orders_closed.append(work_order_id)
    _take(conn, site_id, left, at, f"visit {visit_id}")  # used, but on no closed work


def _take(conn: psycopg.Connection, site_id: str, parts: dict[str, int], at: datetime,
          reference: str) -> None:
    for part_no, qty in sorted(parts.items()):
        if qty > 0:
            move_stock(conn, part_no, site_id, -qty, "consumption", at=at, reference=reference)


def _share(left: dict[str, int], kit: list[dict[str, object]]) -> dict[str, int]:
    """Take from ``left`` up to the kit's quantity of each of its parts."""
    share: dict[str, int] = {}
    for item in kit:
        part_no = str(item["part_no"])
        qty = min(left.get(part_no, 0), int(str(item.get("qty", 1))))
        if qty > 0:
            share[part_no] = share.get(part_no, 0) + qty
            left[part_no] -= qty
            if not left[part_no]:
                del left[part_no]
    return share
