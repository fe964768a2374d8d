"""Visits under way: the technician arrives and the work's response clocks stop.

:func:`start_visits` starts every visit still planned to start before a moment, each at its
planned start (``starts_at``), in time order: the visit becomes ``started`` (``started_at``),
so a new dispatch plan no longer replaces it, and each of its tickets still open or
scheduled goes ``in_progress`` through the ticket lifecycle
(:func:`~assetwatch.service.ticket_lifecycle.start_ticket`), which stops the ticket's response
clock (``responded_at``, see :mod:`~assetwatch.service.field.sla`). A ticket closed or started
meanwhile is left as it is. The technician's close-out then closes the visit
(:func:`~assetwatch.service.field.closeout.close_visit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from assetwatch.service.ticket_lifecycle import start_ticket

__all__ = ["StartedVisit", "start_visits"]


@dataclass
class StartedVisit:
    """One visit started: who, where, when, and the tickets whose response it was."""

    visit_id: int
    technician_id: str
    site_id: str
    started_at: datetime
    ends_at: datetime
    tickets: list[int] = field(default_factory=list)


def start_visits(conn: psycopg.Connection, *, until: datetime) -> list[StartedVisit]:
    """Start the planned visits whose start is before ``until`` (see the module), in one
    transaction; return them in start order."""
    started = []
    with conn.transaction():
        visits = conn.execute(
            "UPDATE visit SET status = 'started', started_at = starts_at"
            " WHERE status = 'planned' AND starts_at < %s"
            " RETURNING visit_id, technician_id, site_id, starts_at, ends_at", (until,)
        ).fetchall()
        for visit_id, technician_id, site_id, starts_at, ends_at in sorted(
                visits, key=lambda v: (v[3], v[0])):
            visit = StartedVisit(int(visit_id), technician_id, site_id, starts_at, ends_at)
            for (ticket_id,) in conn.execute(
                    "SELECT t.ticket_id FROM visit_work w JOIN service_ticket t USING"
                    " (ticket_id) WHERE w.visit_id = %s AND t.status IN ('open', 'scheduled')"
                    " ORDER BY t.ticket_id", (visit_id,)).fetchall():
                start_ticket(conn, int(ticket_id), at=starts_at)
                visit.tickets.append(int(ticket_id))
            started.append(visit)
    return started
