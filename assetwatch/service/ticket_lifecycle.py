"""Ticket lifecycle: open -> scheduled -> in progress -> closed, with a resolution code.

Closing with a replacement (``confirmed_failure`` or ``preventive_replacement``) writes, in the
same transaction, the ``part_replaced`` maintenance event (and a ``failure`` event for a
confirmed failure), the installed-base change (:func:`~assetwatch.service.configuration.
replace_component`), takes the parts used out of the site's stock (the ticket's reservation
first, :func:`~assetwatch.service.reservations.consume`; no stock is an error naming part, site
and ticket, and nothing is closed), registers the removed serial's return record
(:mod:`assetwatch.service.returns`), and records the resolution as a training label in
``failure_label`` (``failed`` true only for a confirmed failure). Closing without a replacement
releases the reservation. Opening a ticket with a kit reserves it
(:func:`~assetwatch.service.reservations.reserve_kit`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.configuration import replace_component
from assetwatch.service.errors import TicketError
from assetwatch.service.reservations import consume, release, reserve_kit
from assetwatch.service.returns import register_removals

__all__ = ["REPLACING_RESOLUTIONS", "RESOLUTION_CODES", "TICKET_KINDS", "close_ticket",
           "open_ticket", "schedule_ticket", "start_ticket"]

RESOLUTION_CODES = ("confirmed_failure", "no_fault_found", "preventive_replacement",
                    "duplicate", "cancelled", "data_restored")
TICKET_KINDS = ("equipment", "connectivity")
#: resolutions whose closing replaced the ticket's part
REPLACING_RESOLUTIONS = ("confirmed_failure", "preventive_replacement")
_LABELLED = ("confirmed_failure", "no_fault_found", "preventive_replacement")
_NEXT = {"open": {"scheduled", "in_progress", "closed"},
         "scheduled": {"scheduled", "in_progress", "closed"},
         "in_progress": {"closed"},
         "closed": set()}


def _ticket(conn: psycopg.Connection, ticket_id: int, to: str) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT t.status, t.asset_id, t.failure_mode, t.kit, t.model_version_id, a.site_id,"
        " f.component_type FROM service_ticket t JOIN asset a USING (asset_id)"
        " LEFT JOIN failure_mode f USING (failure_mode) WHERE t.ticket_id = %s FOR UPDATE OF t",
        (ticket_id,)).fetchone()
    if row is None:
        raise TicketError(f"no ticket {ticket_id}")
    if to not in _NEXT[row[0]]:
        raise TicketError(f"ticket {ticket_id} is {row[0]}; it cannot become {to}")
    return row


def _history(conn: psycopg.Connection, ticket_id: int, at: datetime, change: str,
             detail: dict[str, Any]) -> None:
    conn.execute("INSERT INTO ticket_history (ticket_id, at, change, detail)"
                 " VALUES (%s, %s, %s, %s)", (ticket_id, at, change, Jsonb(detail)))


def open_ticket(conn: psycopg.Connection, asset_id: int, failure_mode: str, *, risk: float,
                priority: int = 3, opened_by: str = "planner", at: datetime | None = None,
                kit: list[dict[str, object]] | None = None, kind: str = "equipment",
                evidence: dict[str, Any] | None = None, due_at: datetime | None = None) -> int:
    """Open a ticket (by hand, or for a silent asset with ``kind="connectivity"``); raises
    :class:`TicketError` if one is open for (asset, failure mode)."""
    if kind not in TICKET_KINDS:
        raise TicketError(f"unknown ticket kind {kind!r}; use one of {', '.join(TICKET_KINDS)}")
    at = at or datetime.now(UTC)
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO service_ticket (asset_id, failure_mode, priority, risk, opened_at,"
                " updated_at, opened_by, kit, kind, evidence, due_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING ticket_id",
                (asset_id, failure_mode, priority, risk, at, at, opened_by,
                 Jsonb(kit or []), kind, Jsonb(evidence or {}), due_at)).fetchone()
            assert row is not None
            _history(conn, row[0], at, "opened", {"by": opened_by})
            if kit:
                reserve_kit(conn, int(row[0]), at=at)
    except psycopg.errors.UniqueViolation:
        raise TicketError(f"asset {asset_id} already has an open {failure_mode} ticket") \
            from None
    return int(row[0])


def schedule_ticket(conn: psycopg.Connection, ticket_id: int, *, scheduled_for: datetime,
                    at: datetime | None = None) -> None:
    """Plan the visit: status ``scheduled``."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        _ticket(conn, ticket_id, "scheduled")
        conn.execute("UPDATE service_ticket SET status = 'scheduled', scheduled_for = %s,"
                     " updated_at = %s WHERE ticket_id = %s", (scheduled_for, at, ticket_id))
        _history(conn, ticket_id, at, "scheduled", {"for": scheduled_for.isoformat()})


def start_ticket(conn: psycopg.Connection, ticket_id: int, *, at: datetime | None = None) -> None:
    """The technician is on site: status ``in_progress``."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        _ticket(conn, ticket_id, "in_progress")
        conn.execute("UPDATE service_ticket SET status = 'in_progress', updated_at = %s"
                     " WHERE ticket_id = %s", (at, ticket_id))
        _history(conn, ticket_id, at, "in_progress", {})


def close_ticket(conn: psycopg.Connection, ticket_id: int, *, resolution_code: str,
                 at: datetime | None = None, part_no: str | None = None,
                 serial_installed: str | None = None, note: str | None = None,
                 parts_used: dict[str, int] | None = None) -> None:
    """Close with ``resolution_code``; a replacing code records the replacement (see module).

    ``part_no`` is the part fitted (default: the part of the installed component, else the
    most expensive part of the ticket's kit); ``serial_installed`` its serial (default: one
    derived from the ticket); ``parts_used`` the parts taken from stock (default: the kit).
    """
    if resolution_code not in RESOLUTION_CODES:
        raise TicketError(f"unknown resolution code {resolution_code!r}; use one of "
                          f"{', '.join(RESOLUTION_CODES)}")
    at = at or datetime.now(UTC)
    with conn.transaction():
        _, asset_id, failure_mode, kit, model_version_id, _, component_type = _ticket(
            conn, ticket_id, "closed")
        conn.execute("UPDATE service_ticket SET status = 'closed', closed_at = %s,"
                     " updated_at = %s, resolution_code = %s WHERE ticket_id = %s",
                     (at, at, resolution_code, ticket_id))
        detail: dict[str, Any] = {"resolution_code": resolution_code, "note": note}
        if resolution_code in REPLACING_RESOLUTIONS and component_type is not None:
            part_no = part_no or _fitted_part(conn, asset_id, component_type, kit or [])
            serial = serial_installed or f"T{ticket_id}-{component_type}"
            _replacement_events(conn, ticket_id, asset_id, component_type, part_no, serial,
                                resolution_code, at)
            replace_component(conn, asset_id, component_type, serial_installed=serial, at=at,
                              part_no=part_no)
            register_removals(conn, asset_id=asset_id)
            taken = consume(conn, ticket_id, parts_used, at=at)
            detail.update(part_no=part_no, serial_installed=serial, parts_used=taken)
        else:
            release(conn, ticket_id, at=at)
        if resolution_code in _LABELLED and component_type is not None:
            conn.execute(
                "INSERT INTO failure_label (asset_id, component_type, failure_mode, time,"
                " failed, resolution_code, ticket_id, model_version_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (ticket_id) DO NOTHING",
                (asset_id, component_type, failure_mode, at,
                 resolution_code == "confirmed_failure", resolution_code, ticket_id,
                 model_version_id))
        _history(conn, ticket_id, at, "closed", detail)


def _fitted_part(conn: psycopg.Connection, asset_id: int, component_type: str,
                 kit: list[dict[str, Any]]) -> str | None:
    row = conn.execute("SELECT part_no FROM installed_component WHERE asset_id = %s AND"
                       " component_type = %s AND valid_to IS NULL AND part_no IS NOT NULL",
                       (asset_id, component_type)).fetchone()
    if row:
        return str(row[0])
    parts = [item["part_no"] for item in kit]
    if not parts:
        return None
    priced = conn.execute("SELECT part_no FROM part WHERE part_no = ANY(%s)"
                          " ORDER BY unit_cost DESC, part_no LIMIT 1", (parts,)).fetchone()
    return str(priced[0]) if priced else None


def _replacement_events(conn: psycopg.Connection, ticket_id: int, asset_id: int,
                        component_type: str, part_no: str | None, serial: str,
                        resolution_code: str, at: datetime) -> None:
    removed = conn.execute("SELECT serial_no FROM installed_component WHERE asset_id = %s AND"
                           " component_type = %s AND valid_to IS NULL",
                           (asset_id, component_type)).fetchone()
    events = [(f"ticket-{ticket_id}-replaced", "part_replaced")]
    if resolution_code == "confirmed_failure":
        events.insert(0, (f"ticket-{ticket_id}-failure", "failure"))
    for event_id, kind in events:
        conn.execute(
            "INSERT INTO asset_event (event_id, asset_id, time, kind, component_type, part_no,"
            " serial_removed, serial_installed, code, detail, source)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'ticket')"
            " ON CONFLICT (event_id) DO NOTHING",
            (event_id, asset_id, at, kind, component_type, part_no,
             removed[0] if removed else None, serial if kind == "part_replaced" else None,
             resolution_code, Jsonb({"ticket_id": ticket_id})))
