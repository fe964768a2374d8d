"""A technician's planned visits as a day sheet: when, where, what, with which parts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import psycopg

__all__ = ["PlannedVisit", "planned_visits"]


@dataclass(frozen=True)
class PlannedVisit:
    visit_id: int
    technician_id: str
    technician_name: str
    site_id: str
    site_name: str
    starts_at: datetime
    ends_at: datetime
    travel_minutes: float
    work: tuple[str, ...]            # "asset: failure mode (ticket N)" / "asset: task (PM N)"
    kit: tuple[tuple[str, int], ...]


def planned_visits(conn: psycopg.Connection, *, technician: str | None = None,
                   day: date | None = None) -> list[PlannedVisit]:
    """Planned visits in time order, of one technician and one day if given (UTC days)."""
    rows = conn.execute(
        "SELECT v.visit_id, v.technician_id, v.technician_name, v.site_id, v.site_name,"
        " v.starts_at, v.ends_at, v.travel_minutes, v.kit,"
        " array_agg(w.asset_tag || ': ' || w.work || CASE WHEN w.ticket_id IS NOT NULL"
        " THEN ' (ticket ' || w.ticket_id || ')' ELSE ' (PM ' || w.work_order_id || ')' END"
        " ORDER BY w.asset_tag, w.work)"
        " FROM v_visit v JOIN v_visit_work w USING (visit_id)"
        " WHERE v.status IN ('planned', 'started')"
        " AND (%(t)s::text IS NULL OR v.technician_id = %(t)s)"
        " AND (%(d)s::date IS NULL OR (v.starts_at AT TIME ZONE 'UTC')::date = %(d)s)"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9 ORDER BY v.technician_id, v.starts_at",
        {"t": technician, "d": day}).fetchall()
    return [PlannedVisit(*r[:8], tuple(r[9]),
                         tuple((str(i["part_no"]), int(i["qty"])) for i in r[8]))
            for r in rows]
