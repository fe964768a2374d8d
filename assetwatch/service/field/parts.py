"""When a visit's kit can be at its site: the one place dispatch asks about parts.

A ticket's kit is reserved at its site when the ticket opens
(:mod:`assetwatch.service.reservations`): a fully reserved kit is ready now; a part short
waits for the quicker of its options (``v_ticket_parts``: a transfer from another site, else
an expedited order), and the kit for the slowest of its short parts. Kits without a
reservation (preventive work orders, tickets written without one) are served in deadline
order from the stock available at the site (on hand minus reservations, ``v_stock_available``);
a kit short of some part is ready after the longest lead time of the parts short
(``v_part_lead_time``). A visit is not planned before its kit is ready.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg

__all__ = ["Kit", "KitRequest", "kits_ready_at"]

#: ((part_no, qty), ...)
Kit = tuple[tuple[str, int], ...]
#: (site_id, kit without a reservation, tickets whose reserved kits it also needs)
KitRequest = tuple[str, Kit, tuple[int, ...]]


def kits_ready_at(conn: psycopg.Connection, requests: Sequence[KitRequest],
                  at: datetime) -> list[datetime]:
    """For each request, in the order given (most urgent first), when its parts can be at its
    site."""
    reserved = _reserved_tickets(conn, at)
    available: dict[tuple[str, str], int] = defaultdict(int)
    for part_no, site_id, free in conn.execute(
            "SELECT part_no, site_id, available FROM v_stock_available"):
        available[(part_no, site_id)] = free
    lead = {(part_no, site_id): float(days or 0) for part_no, site_id, days in conn.execute(
        "SELECT part_no, site_id, lead_time_days FROM v_part_lead_time")}
    out = []
    for site_id, kit, tickets in requests:
        ready = max((reserved[t] for t in tickets if t in reserved), default=at)
        short = [part_no for part_no, qty in kit if available[(part_no, site_id)] < qty]
        if short:
            days = max(lead.get((part_no, site_id), 0.0) for part_no in short)
            ready = max(ready, at + timedelta(days=days))
        else:
            for part_no, qty in kit:
                available[(part_no, site_id)] -= qty
        out.append(ready)
    return out


def _reserved_tickets(conn: psycopg.Connection, at: datetime) -> dict[int, datetime]:
    """Ticket -> when its reserved kit is complete, for tickets with a reservation."""
    ready: dict[int, datetime] = {}
    for ticket_id, short, transfer, expedite in conn.execute(
            "SELECT ticket_id, short_qty, transfer_lead_time_days, expedite_lead_time_days"
            " FROM v_ticket_parts"):
        days = 0.0
        if short > 0:
            options = [float(d) for d in (transfer, expedite) if d is not None]
            days = min(options) if options else 0.0
        ready[ticket_id] = max(ready.get(ticket_id, at), at + timedelta(days=days))
    return ready
