"""When a visit's kit can be at its site: the one place dispatch asks about parts.

Work is served in deadline order from each site's stock on hand; a kit the stock covers in
full is ready now, and the stock it takes is no longer there for later work. A kit short of
some part is ready after the longest lead time of the parts short (``v_part_lead_time``),
so its visit is not planned before then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg

__all__ = ["Kit", "kits_ready_at"]

#: ((part_no, qty), ...)
Kit = tuple[tuple[str, int], ...]


def kits_ready_at(conn: psycopg.Connection, requests: Sequence[tuple[str, Kit]],
                  at: datetime) -> list[datetime]:
    """For each ``(site_id, kit)``, in the order given (most urgent first), when it can be
    at the site."""
    stock: dict[tuple[str, str], int] = defaultdict(int)
    for part_no, site_id, on_hand in conn.execute(
            "SELECT part_no, site_id, on_hand FROM v_stock_level"):
        stock[(part_no, site_id)] = on_hand
    lead = {(part_no, site_id): float(days or 0) for part_no, site_id, days in conn.execute(
        "SELECT part_no, site_id, lead_time_days FROM v_part_lead_time")}
    out = []
    for site_id, kit in requests:
        short = [part_no for part_no, qty in kit if stock[(part_no, site_id)] < qty]
        if short:
            days = max(lead.get((part_no, site_id), 0.0) for part_no in short)
            out.append(at + timedelta(days=days))
        else:
            for part_no, qty in kit:
                stock[(part_no, site_id)] -= qty
            out.append(at)
    return out
