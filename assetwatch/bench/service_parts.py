"""The product's spare-parts operations inside a ``bench service`` row: the row's one stock.

The row's database keeps the product's own stock, and every stock figure of the row comes
from it: every day the supplier delivers the orders that are due, the returns are processed
(repairs due come back into stock) and the replenishment rules raise orders (approved at once);
a visit takes the parts the true failure needs through the ticket's reservation, and a
breakdown or planned maintenance takes them from the shelf. What a use finds is recorded
first (:meth:`PartsLedger.at_hand`: the ticket's own reservation plus stock nobody has
reserved); parts a site lacks at that moment then come by transfer from another site when one
has them available, else by an expedited order (the technician's second trip).

Figures (:meth:`PartsLedger.figures`, :meth:`PartsLedger.stock_result`):

* ``fill_rate``, ``stockouts``, ``stock_value``: units found at hand over units used, part
  lines short at use, and the average on-hand value of the product's stock (sampled daily);

* ``parts_available_at_open``: share of automatic tickets opened in the window whose whole kit
  was reserved when they opened (no ``parts_short`` at opening);
* ``shortages_at_use``, ``shortages_by_transfer``: part lines a site lacked when they were
  used, and those covered by a transfer (stock-outs avoided by transfers); the rest were
  expedited;
* ``units_bought``: units the product's replenishment ordered in the window (expedited
  included), against ``naive_units_bought`` of the naive policy's simulation;
* ``repairable_from_repair``: units of repairable parts that came back from repair in the
  window over the units of repairable parts used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from assetwatch.bench.inventory_sim import PolicyResult
from assetwatch.service.orders import cover_shortage, place_order, receive_order
from assetwatch.service.replenishment import evaluate_replenishment
from assetwatch.service.reservations import transfer_stock
from assetwatch.service.returns import process_returns
from assetwatch.service.stock_ledger import move_stock

__all__ = ["PartsLedger"]


class PartsLedger:
    """The product's parts loop on one row's database from ``eval_start``."""

    def __init__(self, eval_start: datetime, *, replenish: bool = True) -> None:
        self.eval_start = eval_start
        #: raise the replenishment rules' orders every day (False: only what a use lacks is
        #: bought, expedited)
        self.replenish = replenish
        self.shortages = 0
        self.by_transfer = 0
        self.stock = PolicyResult("product stock")
        self._samples = 0

    def at_hand(self, conn: psycopg.Connection, site_id: str, parts: dict[str, int],
                at: datetime, ticket_id: int | None = None) -> dict[str, int]:
        """Units of each of ``parts`` the site can give this use at ``at``: what the ticket
        has reserved (None: no ticket) plus the site's stock nobody has reserved. In the
        window, the use is counted: units asked, units found, part lines short."""
        names = sorted(parts)
        rows = conn.execute(
            "SELECT n.part_no, greatest(coalesce(a.available, 0), 0)"
            " + coalesce(r.reserved_qty, 0) FROM unnest(%s::text[]) AS n(part_no)"
            " LEFT JOIN v_stock_available a ON a.part_no = n.part_no AND a.site_id = %s"
            " LEFT JOIN stock_reservation r ON r.part_no = n.part_no AND r.ticket_id = %s"
            " AND r.state = 'active'", (names, site_id, ticket_id)).fetchall()
        found = {str(p): int(q) for p, q in rows}
        if at >= self.eval_start:
            for part_no, qty in parts.items():
                self.stock.demanded += qty
                self.stock.filled += min(qty, found.get(part_no, 0))
                self.stock.stockouts += found.get(part_no, 0) < qty
        return found

    def sample(self, conn: psycopg.Connection) -> None:
        """Add today's on-hand value of the product's stock to the running average."""
        row = conn.execute("SELECT coalesce(sum(s.on_hand * p.unit_cost), 0),"
                           " coalesce(sum(s.on_hand), 0) FROM stock s JOIN part p"
                           " USING (part_no)").fetchone()
        value, units = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
        n = self._samples
        self.stock.inventory_value = (self.stock.inventory_value * n + value) / (n + 1)
        self.stock.inventory_units = (self.stock.inventory_units * n + units) / (n + 1)
        self._samples += 1

    def stock_result(self, conn: psycopg.Connection) -> PolicyResult:
        """The product stock's fill, stock-outs, orders and average value in the window."""
        orders, units = conn.execute(
            "SELECT count(*), coalesce(sum(qty), 0) FROM replenishment_order"
            " WHERE created_at >= %s", (self.eval_start,)).fetchone() or (0, 0)
        self.stock.orders, self.stock.units_ordered = int(orders), int(units)
        return self.stock

    def day(self, conn: psycopg.Connection, t: datetime) -> None:
        """Deliveries due, returns, then the replenishment rules (orders approved at once)."""
        for (order_id,) in conn.execute(
                "SELECT order_id FROM replenishment_order WHERE state = 'ordered'"
                " AND due_at <= %s ORDER BY due_at, order_id", (t,)).fetchall():
            receive_order(conn, order_id, at=t)
        process_returns(conn, at=t)
        if self.replenish:
            evaluate_replenishment(conn, at=t, auto_approve=True)

    def before_visit(self, conn: psycopg.Connection, ticket_id: int, site_id: str,
                     parts: dict[str, int], at: datetime) -> None:
        """Make ``parts`` (what the repair takes) available to the ticket at ``at``."""
        for how in cover_shortage(conn, ticket_id, at=at).values():
            self._count(how.startswith("transfer"), at)
        own = dict(conn.execute(
            "SELECT part_no, reserved_qty FROM stock_reservation WHERE ticket_id = %s"
            " AND state = 'active'", (ticket_id,)).fetchall())
        extra = {p: q - int(own.get(p, 0)) for p, q in parts.items() if q > own.get(p, 0)}
        self._supply(conn, site_id, extra, at, ticket_id)

    def take(self, conn: psycopg.Connection, site_id: str, parts: dict[str, int],
             at: datetime) -> None:
        """A breakdown or planned maintenance takes ``parts`` from the shelf."""
        self._supply(conn, site_id, parts, at, None)
        for part_no, qty in sorted(parts.items()):
            move_stock(conn, part_no, site_id, -qty, "consumption", at=at,
                       reference="bench: breakdown or maintenance")

    def figures(self, conn: psycopg.Connection, naive_units: int) -> dict[str, Any]:
        start = self.eval_start
        opened, available = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM ticket_history h"
            " WHERE h.ticket_id = t.ticket_id AND h.change = 'parts_short'"
            " AND h.at = t.opened_at)) FROM service_ticket t WHERE t.opened_by = 'auto'"
            " AND t.kind = 'equipment' AND t.opened_at >= %s"
            " AND jsonb_array_length(t.kit) > 0", (start,)).fetchone() or (0, 0)
        bought = conn.execute("SELECT coalesce(sum(qty), 0) FROM replenishment_order"
                              " WHERE created_at >= %s", (start,)).fetchone()
        used, repaired = conn.execute(
            "SELECT coalesce(-sum(m.qty) FILTER (WHERE m.kind = 'consumption'), 0),"
            " coalesce(sum(m.qty) FILTER (WHERE m.kind = 'repair_return'), 0)"
            " FROM stock_movement m JOIN part p USING (part_no)"
            " WHERE p.repairable AND m.at >= %s", (start,)).fetchone() or (0, 0)
        return {
            "parts_available_at_open": available / opened if opened else None,
            "shortages_at_use": self.shortages,
            "shortages_by_transfer": self.by_transfer,
            "units_bought": int(bought[0]) if bought else 0,
            "naive_units_bought": naive_units,
            "repairable_from_repair": min(1.0, repaired / used) if used else None,
        }

    def _supply(self, conn: psycopg.Connection, site_id: str, parts: dict[str, int],
                at: datetime, ticket_id: int | None) -> None:
        """What the site lacks of ``parts`` beyond its available stock: by transfer from the
        site with the most available, else expedited."""
        for part_no, qty in sorted(parts.items()):
            for _ in range(20):   # a delivery may first serve the site's short tickets
                if not self._supply_one(conn, site_id, part_no, qty, at, ticket_id):
                    break
            else:
                raise RuntimeError(f"{part_no} at {site_id}: supply does not converge")

    def _supply_one(self, conn: psycopg.Connection, site_id: str, part_no: str, qty: int,
                    at: datetime, ticket_id: int | None) -> bool:
        """Bring what is missing of ``qty`` once; False when nothing was missing."""
        row = conn.execute("SELECT coalesce((SELECT available FROM v_stock_available"
                           " WHERE part_no = %s AND site_id = %s), 0)",
                           (part_no, site_id)).fetchone()
        missing = qty - max(int(row[0]) if row else 0, 0)
        if missing <= 0:
            return False
        source = conn.execute(
            "SELECT site_id FROM v_stock_available WHERE part_no = %s AND site_id <> %s"
            " AND available >= %s ORDER BY available DESC, site_id LIMIT 1",
            (part_no, site_id, missing)).fetchone()
        if source is not None:
            transfer_stock(conn, part_no, source[0], site_id, missing, at=at)
        else:
            order_id = place_order(conn, part_no, site_id, missing, kind="expedite",
                                   at=at, ordered=True, ticket_id=ticket_id,
                                   reason="bench: needed at a visit")
            receive_order(conn, order_id, at=at)
        self._count(source is not None, at)
        return True

    def _count(self, by_transfer: bool, at: datetime) -> None:
        if at >= self.eval_start:
            self.shortages += 1
            self.by_transfer += by_transfer
