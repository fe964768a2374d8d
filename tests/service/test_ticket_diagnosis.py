"""A component with several failure modes: its predicted risk opens one ticket, the diagnosis."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from assetwatch.service.tickets import update_tickets

T0 = datetime(2026, 3, 1, tzinfo=UTC)
Fleet = tuple[psycopg.Connection, dict[str, int]]


def _open_modes(conn: psycopg.Connection, asset_id: int) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT failure_mode FROM service_ticket WHERE asset_id = %s AND status <> 'closed'"
        " ORDER BY ticket_id", (asset_id,))]


def test_a_prediction_opens_one_ticket_under_the_likeliest_mode(
        fleet_db: Fleet, predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    modes = [r[0] for r in conn.execute("SELECT failure_mode FROM failure_mode"
                                        " WHERE component_type = 'bearing' ORDER BY 1")]
    assert modes == ["bearing_lubrication", "bearing_wear"]   # two modes, one component
    predict(conn, T0, {(pump, "bearing"): {30: 0.8}})
    assert update_tickets(conn, as_of=T0).opened == 1
    assert _open_modes(conn, pump) == ["bearing_wear"]          # the master data's share, 0.7
    # the open ticket keeps its diagnosis while the risk is updated
    predict(conn, T0 + timedelta(hours=6), {(pump, "bearing"): {30: 0.9}})
    summary = update_tickets(conn, as_of=T0 + timedelta(hours=6))
    assert (summary.opened, summary.updated) == (0, 1)
    assert _open_modes(conn, pump) == ["bearing_wear"]


def test_anomaly_sensors_and_failure_history_steer_the_diagnosis(
        fleet_db: Fleet, predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    first, second = ids["a01-00"], ids["a02-00"]
    # an anomaly on the lubrication sensors: the bearing's risk is ticketed as lubrication loss
    conn.execute("INSERT INTO anomaly_event (asset_id, detector, kind, started_at, peak_score,"
                 " sensors) VALUES (%s, 'hst', 'anomaly', %s, 0.6, '{oil_pressure,bearing_temp}')",
                 (first, T0 - timedelta(hours=2)))
    # the fleet's confirmed failures outweigh the master data's share
    conn.execute("INSERT INTO failure_label (asset_id, component_type, failure_mode, time,"
                 " failed, resolution_code) SELECT %s, 'impeller', 'wear_ring_clearance',"
                 " %s - make_interval(days => d), true, 'confirmed_failure'"
                 " FROM generate_series(10, 12) d", (ids["a01-02"], T0))
    predict(conn, T0, {(first, "bearing"): {30: 0.7}, (second, "impeller"): {30: 0.7}})
    update_tickets(conn, as_of=T0)
    assert _open_modes(conn, first) == ["bearing_lubrication"]
    assert _open_modes(conn, second) == ["wear_ring_clearance"]
