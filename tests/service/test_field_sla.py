"""SLA clocks: deadlines from the site's contract, breaches and near-breaches kept once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from assetwatch.service.field.sla import record_sla_events
from assetwatch.service.ticket_lifecycle import close_ticket, open_ticket, start_ticket

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def _clocks(conn: psycopg.Connection, ticket: int) -> tuple:
    return conn.execute("SELECT respond_by - opened_at, restore_by - opened_at FROM"
                        " service_ticket WHERE ticket_id = %s", (ticket,)).fetchone()


def test_deadlines_come_from_the_contract_when_the_ticket_opens(
        fleet_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = fleet_db
    conn.execute("UPDATE site SET response_hours = 4, restore_hours = 24"
                 " WHERE site_id = 'site-01'")
    contract = open_ticket(conn, ids["a01-00"], "bearing_wear", risk=0.9, at=T0)
    fallback = open_ticket(conn, ids["a02-00"], "bearing_wear", risk=0.9, at=T0)  # sla_hours 72
    conn.execute("UPDATE site SET response_hours = 1 WHERE site_id = 'site-01'")
    assert _clocks(conn, contract) == (timedelta(hours=4), timedelta(hours=24))
    assert _clocks(conn, fallback) == (timedelta(hours=72), None)


def test_breaches_and_near_breaches_are_recorded_once(
        fleet_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = fleet_db
    conn.execute("UPDATE site SET response_hours = 10, restore_hours = 20"
                 " WHERE site_id = 'site-01'")
    late = open_ticket(conn, ids["a01-00"], "bearing_wear", risk=0.9, at=T0)
    on_time = open_ticket(conn, ids["a01-01"], "separator_clog", risk=0.9, at=T0)
    start_ticket(conn, on_time, at=T0 + timedelta(hours=3))
    assert record_sla_events(conn, T0 + timedelta(hours=7)).near_breaches == 0
    summary = record_sla_events(conn, T0 + timedelta(hours=8, minutes=30))
    assert (summary.near_breaches, summary.breaches) == (1, 0)
    assert record_sla_events(conn, T0 + timedelta(hours=9)).near_breaches == 0  # kept once
    close_ticket(conn, on_time, resolution_code="no_fault_found", at=T0 + timedelta(hours=5))
    summary = record_sla_events(conn, T0 + timedelta(hours=11))
    assert (summary.near_breaches, summary.breaches) == (0, 1)
    events = conn.execute("SELECT ticket_id, clock, state FROM v_sla_event"
                          " ORDER BY recorded_at").fetchall()
    assert events == [(late, "response", "near_breach"), (late, "response", "breached")]
    states = dict(conn.execute("SELECT ticket_id, response_state || '/' || restore_state"
                               " FROM v_ticket_sla"))
    assert states[on_time] == "met/met"
    assert states[late] == "breached/breached"  # now() is long past the 2026 deadlines
