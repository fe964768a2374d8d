"""The technician's close-out of a visit: time on site, parts used, the work's outcome.

:func:`close_visit`, in one transaction: each ticket of the visit is closed with its
resolution code (as ``tickets close`` does: replacement events, installed base, training
label, the ticket's kit out of stock), each preventive work order is closed ``done`` with a
``maintenance`` event of its task (which restarts its schedule) and its kit out of stock.
Then the parts actually used replace the kits: stock gets back what was taken beyond the
parts used (or gives more when more was used), so on balance exactly the parts used leave
the site's stock, and ``visit_part_return`` records per part the quantity carried in the
visit's kit, used and returned. With ``fixed=False`` the tickets stay open (a second visit is
needed) and no part counts as used unless given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.errors import DispatchError
from assetwatch.service.ticket_lifecycle import RESOLUTION_CODES, close_ticket

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
    """Close a planned visit (see the module); raises :class:`DispatchError` for an unknown
    or already closed visit, a negative time or quantity, or a part that does not exist."""
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
        if status != "planned":
            raise DispatchError(f"visit {visit_id} is {status}; only a planned visit closes")
        unknown = sorted(set(parts_used or {}) - {r[0] for r in conn.execute(
            "SELECT part_no FROM part WHERE part_no = ANY(%s)", (list(parts_used or {}),))})
        if unknown:
            raise DispatchError(f"visit {visit_id}: unknown part(s) {', '.join(unknown)}")
        carried = {str(i["part_no"]): int(i["qty"]) for i in kit}
        used = dict(parts_used) if parts_used is not None else (carried if fixed else {})
        done = CloseOut(visit_id)
        taken = _close_work(conn, visit_id, site_id, resolution_code, fixed, at, note, done)
        for part_no in sorted(set(carried) | set(used) | set(taken)):
            back = taken.get(part_no, 0) - used.get(part_no, 0)
            if back:
                conn.execute("INSERT INTO stock (part_no, site_id, on_hand) VALUES (%s, %s, 0)"
                             " ON CONFLICT DO NOTHING", (part_no, site_id))
                conn.execute("UPDATE stock SET on_hand = greatest(on_hand + %s, 0),"
                             " updated_at = now() WHERE part_no = %s AND site_id = %s",
                             (back, part_no, site_id))
            conn.execute("INSERT INTO visit_part_return (visit_id, part_no, kit_qty, used_qty,"
                         " returned_qty) VALUES (%s, %s, %s, %s, %s)",
                         (visit_id, part_no, carried.get(part_no, 0), used.get(part_no, 0),
                          carried.get(part_no, 0) - used.get(part_no, 0)))
            done.returned[part_no] = carried.get(part_no, 0) - used.get(part_no, 0)
        conn.execute("UPDATE visit SET status = 'done', finished_at = %s, on_site_minutes = %s,"
                     " parts_used = %s WHERE visit_id = %s",
                     (at, on_site_minutes, Jsonb([{"part_no": p, "qty": q}
                                                  for p, q in sorted(used.items())]), visit_id))
    return done


def _close_work(conn: psycopg.Connection, visit_id: int, site_id: str, resolution_code: str,
                fixed: bool, at: datetime, note: str | None, done: CloseOut) -> dict[str, int]:
    """Close the visit's tickets and work orders; the parts their kits took from stock."""
    taken: dict[str, int] = defaultdict(int)
    for (ticket_id,) in conn.execute("SELECT ticket_id FROM visit_work WHERE visit_id = %s"
                                     " AND ticket_id IS NOT NULL ORDER BY ticket_id",
                                     (visit_id,)).fetchall():
        if not fixed:
            conn.execute("UPDATE service_ticket SET status = 'open', scheduled_for = NULL,"
                         " updated_at = %s WHERE ticket_id = %s AND status <> 'closed'",
                         (at, ticket_id))
            conn.execute("INSERT INTO ticket_history (ticket_id, at, change, detail) VALUES"
                         " (%s, %s, 'not_fixed', %s)", (ticket_id, at,
                                                        Jsonb({"visit_id": visit_id})))
            continue
        before = _stock(conn, site_id)
        close_ticket(conn, ticket_id, resolution_code=resolution_code, at=at, note=note)
        _count_taken(taken, before, _stock(conn, site_id))
        done.tickets_closed.append(ticket_id)
    for work_order_id, asset_id, task, kit in conn.execute(
            "SELECT w.work_order_id, w.asset_id, w.task, w.kit FROM pm_work_order w"
            " JOIN visit_work vw USING (work_order_id) WHERE vw.visit_id = %s"
            " ORDER BY w.work_order_id", (visit_id,)).fetchall():
        conn.execute("UPDATE pm_work_order SET status = 'closed', closed_at = %s,"
                     " resolution = 'done' WHERE work_order_id = %s", (at, work_order_id))
        conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, code, detail,"
                     " source) VALUES (%s, %s, %s, 'maintenance', %s, %s, 'visit')"
                     " ON CONFLICT (event_id) DO NOTHING",
                     (f"pm-{work_order_id}", asset_id, at, task,
                      Jsonb({"visit_id": visit_id, "work_order_id": work_order_id})))
        before = _stock(conn, site_id)
        for item in kit:
            conn.execute("UPDATE stock SET on_hand = greatest(on_hand - %s, 0),"
                         " updated_at = now() WHERE part_no = %s AND site_id = %s",
                         (int(item["qty"]), item["part_no"], site_id))
        _count_taken(taken, before, _stock(conn, site_id))
        done.work_orders_closed.append(work_order_id)
    return dict(taken)


def _count_taken(taken: dict[str, int], before: dict[str, int], after: dict[str, int]) -> None:
    for part_no, qty in before.items():
        if after.get(part_no, qty) != qty:
            taken[part_no] += qty - after.get(part_no, qty)


def _stock(conn: psycopg.Connection, site_id: str) -> dict[str, int]:
    return dict(conn.execute("SELECT part_no, on_hand FROM stock WHERE site_id = %s",
                             (site_id,)).fetchall())
