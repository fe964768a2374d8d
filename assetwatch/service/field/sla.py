"""SLA clocks: each ticket's response and restore deadlines, and their breaches.

The deadlines are fixed when a ticket opens, from its site's contract (``response_hours``,
else ``sla_hours``; ``restore_hours``), by the database (trigger ``service_ticket_sla_clock``),
so every way of opening a ticket gets them. Response ends when work starts (status
``in_progress``) or, at the latest, when the ticket closes; restore ends when it closes.
One rule, in SQL (``sla_clock_state``), judges a clock: ``met`` or ``breached`` once it
stopped, else ``breached`` past the deadline, ``near_breach`` with less than a fifth of the
clock left, else ``running``. :func:`record_sla_events` keeps each breach and near-breach once
(``sla_event``, view ``v_sla_event``); ``v_ticket_sla`` shows every clock now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

__all__ = ["SlaSummary", "record_sla_events"]


@dataclass
class SlaSummary:
    """Events newly recorded by one run."""

    near_breaches: int = 0
    breaches: int = 0


def record_sla_events(conn: psycopg.Connection, at: datetime | None = None) -> SlaSummary:
    """Record every breach and near-breach of a ticket's clocks seen at ``at`` (default now),
    each (ticket, clock, state) once."""
    at = at or datetime.now(UTC)
    rows = conn.execute(
        """
        INSERT INTO sla_event (ticket_id, clock, state, deadline, recorded_at)
        SELECT ticket_id, clock, state, deadline, %(at)s FROM (
            SELECT t.ticket_id, c.clock, c.deadline,
                   sla_clock_state(t.opened_at, c.deadline, c.done, %(at)s) AS state
            FROM service_ticket t
            CROSS JOIN LATERAL (VALUES ('response', t.respond_by, t.responded_at),
                                       ('restore', t.restore_by, t.closed_at))
                AS c (clock, deadline, done)
            WHERE t.opened_at <= %(at)s AND c.deadline IS NOT NULL
              AND t.resolution_code IS DISTINCT FROM 'cancelled'
              AND t.resolution_code IS DISTINCT FROM 'duplicate') clocks
        WHERE state IN ('near_breach', 'breached')
        ON CONFLICT DO NOTHING
        RETURNING state
        """, {"at": at}).fetchall()
    return SlaSummary(near_breaches=sum(r[0] == "near_breach" for r in rows),
                      breaches=sum(r[0] == "breached" for r in rows))
