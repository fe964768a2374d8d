"""Service tickets: dedup, flapping, priority, daily cap, lifecycle and what closing writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.service.errors import TicketError
from assetwatch.service.ticket_lifecycle import (
    close_ticket,
    open_ticket,
    schedule_ticket,
    start_ticket,
)
from assetwatch.service.tickets import TicketPolicy, priority_for, update_tickets

T0 = datetime(2026, 3, 1, tzinfo=UTC)
Fleet = tuple[psycopg.Connection, dict[str, int]]


#: one failure mode per component: these tests count the tickets a component's risk opens
FIRST_MODES = ("bearing_wear", "seal_leak", "impeller_erosion", "motor_winding", "valve_wear",
               "separator_clog")


@pytest.fixture
def fleet_db(fleet_db: Fleet) -> Fleet:
    """The small fleet with the first failure mode of each component only."""
    conn, _ = fleet_db
    conn.execute("DELETE FROM failure_mode WHERE failure_mode <> ALL(%s)", (list(FIRST_MODES),))
    return fleet_db


def _tickets(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT ticket_id, asset_id, failure_mode, status, risk, priority,"
                        " resolution_code FROM service_ticket ORDER BY ticket_id").fetchall()


def test_priority_orders_risk_criticality_and_sla() -> None:
    assert priority_for(0.9, 1, 24, 3) == 1
    assert priority_for(0.9, 3, 168, 30) < priority_for(0.3, 3, 168, 30)
    assert priority_for(0.5, 1, 24, 30) < priority_for(0.5, 3, 24, 30)


def test_predictions_open_one_ticket_and_update_it(fleet_db: Fleet,
                                                   predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    predict(conn, T0, {(pump, "bearing"): {30: 0.7}}, rul=(20.0, 10.0, 30.0))
    first = update_tickets(conn, as_of=T0)
    assert (first.opened, first.updated) == (1, 0)
    ticket = conn.execute("SELECT ticket_id, failure_mode, kit, evidence, due_at, priority"
                          " FROM service_ticket").fetchone()
    ticket_id, mode, kit, evidence, due, priority = ticket
    assert mode == "bearing_wear"
    assert {item["part_no"] for item in kit} == {"BRG-6309-C3", "ORING-52X3-FKM",
                                                 "GREASE-LGHP2-400"}
    assert evidence["prediction"]["failure_probability"] == pytest.approx(0.7)
    assert evidence["model_version_id"] is not None and "window" in evidence
    assert due == T0 + timedelta(days=10)
    assert priority in (1, 2)
    # a new prediction and an anomaly on the bearing sensors update, never duplicate
    later = T0 + timedelta(hours=6)
    predict(conn, later, {(pump, "bearing"): {30: 0.9}}, rul=(12.0, 6.0, 18.0))
    conn.execute("INSERT INTO anomaly_event (asset_id, detector, kind, started_at, peak_score,"
                 " sensors) VALUES (%s, 'hst', 'anomaly', %s, 0.95, '{vibration_rms}')",
                 (pump, later - timedelta(hours=1)))
    second = update_tickets(conn, as_of=later)
    assert (second.opened, second.updated) == (0, 1)
    rows = _tickets(conn)
    assert len(rows) == 1 and rows[0][4] > 0.9
    evidence = conn.execute("SELECT evidence FROM service_ticket").fetchone()[0]
    assert evidence["anomalies"][0]["sensors"] == ["vibration_rms"]
    assert update_tickets(conn, as_of=later).updated == 0      # nothing new: no churn
    history = [r[0] for r in conn.execute(
        "SELECT change FROM ticket_history WHERE ticket_id = %s ORDER BY at", (ticket_id,))]
    assert history == ["opened", "updated"]


def test_flapping_risk_does_not_open_and_close_repeatedly(
        fleet_db: Fleet, predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    for hour in range(0, 24 * 20, 12):        # risk alternates 0.55 / 0.1 twice a day
        at = T0 + timedelta(hours=hour)
        predict(conn, at, {(pump, "bearing"): {30: 0.55 if hour % 24 == 0 else 0.1}})
        update_tickets(conn, as_of=at)
    rows = _tickets(conn)
    assert len(rows) == 1 and rows[0][3] == "open"


def test_receding_risk_closes_after_quiet_days_and_cools_down(
        fleet_db: Fleet, predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    predict(conn, T0, {(pump, "bearing"): {30: 0.6}})
    update_tickets(conn, as_of=T0)
    for day in range(1, 10):
        at = T0 + timedelta(days=day)
        predict(conn, at, {(pump, "bearing"): {30: 0.05}})
        update_tickets(conn, as_of=at)
    assert _tickets(conn)[0][3] == "closed"
    assert _tickets(conn)[0][6] == "cancelled"
    at = T0 + timedelta(days=11)
    predict(conn, at, {(pump, "bearing"): {30: 0.6}})
    assert update_tickets(conn, as_of=at).opened == 0           # cool-down
    predict(conn, at + timedelta(hours=1), {(pump, "bearing"): {30: 0.85}})
    assert update_tickets(conn, as_of=at + timedelta(hours=1)).opened == 1


def test_a_no_fault_found_visit_cools_the_key_down(
        fleet_db: Fleet, predict: Callable[..., None]) -> None:
    """A technician found nothing: the same high risk does not send one again the next day."""
    conn, ids = fleet_db
    pump = ids["a01-00"]
    predict(conn, T0, {(pump, "bearing"): {30: 0.6}})
    update_tickets(conn, as_of=T0)
    (ticket,) = _tickets(conn)
    close_ticket(conn, ticket[0], resolution_code="no_fault_found", at=T0 + timedelta(hours=9))
    at = T0 + timedelta(days=1)
    predict(conn, at, {(pump, "bearing"): {30: 0.6}})
    assert update_tickets(conn, as_of=at).opened == 0           # cool-down
    predict(conn, at + timedelta(hours=1), {(pump, "bearing"): {30: 0.85}})
    assert update_tickets(conn, as_of=at + timedelta(hours=1)).opened == 1


def test_no_fault_found_on_a_high_risk_waits_for_new_evidence(
        fleet_db: Fleet, predict: Callable[..., None]) -> None:
    """The technician inspected a risk of 0.9 and found nothing: the same 0.9 (or a little
    more) does not send one again within the cool-down; a clearly higher risk does, and after
    the cool-down the usual opening threshold holds again."""
    conn, ids = fleet_db
    pump = ids["a01-00"]
    predict(conn, T0, {(pump, "bearing"): {30: 0.85}})
    update_tickets(conn, as_of=T0)
    (ticket,) = _tickets(conn)
    close_ticket(conn, ticket[0], resolution_code="no_fault_found", at=T0 + timedelta(hours=9))
    for day, p, opened in ((1, 0.85, 0), (2, 0.9, 0), (3, 0.97, 1)):
        at = T0 + timedelta(days=day)
        predict(conn, at, {(pump, "bearing"): {30: p}})
        assert update_tickets(conn, as_of=at).opened == opened, (day, p)
    (_, second) = sorted(_tickets(conn))
    close_ticket(conn, second[0], resolution_code="no_fault_found", at=T0 + timedelta(days=3,
                                                                                        hours=9))
    at = T0 + timedelta(days=18)
    predict(conn, at, {(pump, "bearing"): {30: 0.6}})
    assert update_tickets(conn, as_of=at).opened == 1            # the cool-down is over


def test_daily_cap_per_site_lists_the_overflow(fleet_db: Fleet,
                                               predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    site_01 = [ids[t] for t in ("a01-00", "a01-01", "a01-02")]
    risks = {(a, c): {30: 0.6 + 0.1 * i}
             for i, a in enumerate(site_01) for c in ("bearing", "motor")}
    predict(conn, T0, risks)
    summary = update_tickets(conn, as_of=T0, policy=TicketPolicy(daily_cap_per_site=2))
    assert (summary.opened, summary.overflow) == (2, 4)
    opened = {r[1] for r in _tickets(conn)}
    assert opened == {site_01[2]}                               # the riskiest first
    overflow = conn.execute("SELECT count(*), min(reason) FROM v_ticket_overflow").fetchone()
    assert overflow[0] == 4 and "daily cap of 2" in overflow[1]
    next_day = update_tickets(conn, as_of=T0 + timedelta(days=1),
                              policy=TicketPolicy(daily_cap_per_site=2))
    assert next_day.opened == 2


def test_lifecycle_and_closing_with_a_replacement(fleet_db: Fleet,
                                                  predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    conn.execute("INSERT INTO installed_component (asset_id, component_type, serial_no,"
                 " part_no, valid_from) VALUES (%s, 'bearing', 'B-OLD', 'BRG-6309-C3', %s)",
                 (pump, T0 - timedelta(days=400)))
    predict(conn, T0, {(pump, "bearing"): {30: 0.8}})
    update_tickets(conn, as_of=T0)
    ticket_id = _tickets(conn)[0][0]
    with pytest.raises(TicketError):
        close_ticket(conn, ticket_id, resolution_code="fixed_it")
    schedule_ticket(conn, ticket_id, scheduled_for=T0 + timedelta(days=2), at=T0)
    start_ticket(conn, ticket_id, at=T0 + timedelta(days=2))
    with pytest.raises(TicketError):
        schedule_ticket(conn, ticket_id, scheduled_for=T0, at=T0)
    stock_before = conn.execute("SELECT on_hand FROM stock WHERE part_no = 'BRG-6309-C3' AND"
                                " site_id = 'site-01'").fetchone()[0]
    done = T0 + timedelta(days=2, hours=3)
    close_ticket(conn, ticket_id, resolution_code="confirmed_failure", at=done,
                 serial_installed="B-NEW")
    events = conn.execute("SELECT kind, part_no, serial_removed, serial_installed, source"
                          " FROM asset_event ORDER BY event_id").fetchall()
    assert ("part_replaced", "BRG-6309-C3", "B-OLD", "B-NEW", "ticket") in events
    assert any(e[0] == "failure" for e in events)
    base = conn.execute("SELECT serial_no, valid_to, warranty_end FROM installed_component"
                        " WHERE asset_id = %s ORDER BY valid_from", (pump,)).fetchall()
    assert base[0][:2] == ("B-OLD", done) and base[1][0] == "B-NEW" and base[1][1] is None
    assert base[1][2] == (done + timedelta(days=365)).date()   # 12 months warranty
    label = conn.execute("SELECT component_type, failed, resolution_code, model_version_id"
                         " FROM v_failure_label").fetchone()
    assert label[:3] == ("bearing", True, "confirmed_failure") and label[3] is not None
    stock_after = conn.execute("SELECT on_hand FROM stock WHERE part_no = 'BRG-6309-C3' AND"
                               " site_id = 'site-01'").fetchone()[0]
    assert stock_after == stock_before - 1
    with pytest.raises(TicketError):
        close_ticket(conn, ticket_id, resolution_code="duplicate")
    # the key is free again; a hand-made duplicate of an open ticket is refused
    new_id = open_ticket(conn, pump, "bearing_wear", risk=0.4, at=done)
    with pytest.raises(TicketError):
        open_ticket(conn, pump, "bearing_wear", risk=0.4, at=done)
    close_ticket(conn, new_id, resolution_code="no_fault_found", at=done)
    assert conn.execute("SELECT failed FROM failure_label WHERE ticket_id = %s",
                        (new_id,)).fetchone() == (False,)


def test_anomaly_without_prediction_is_attributed_by_sensors(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    compressor = ids["a01-01"]    # SC-75
    conn.execute("INSERT INTO anomaly_event (asset_id, detector, kind, started_at, peak_score,"
                 " sensors) VALUES (%s, 'hst', 'anomaly', %s, 1.0, '{oil_pressure}')",
                 (compressor, T0 - timedelta(hours=2)))
    summary = update_tickets(conn, as_of=T0)
    assert summary.opened == 1
    assert _tickets(conn)[0][2] == "separator_clog"
