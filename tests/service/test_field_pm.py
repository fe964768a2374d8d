"""Preventive maintenance as work: due by days, run hours or starts; one work order each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from assetwatch.service.field.pm import PmPolicy, open_pm_work_orders, pm_schedule

AS_OF = datetime(2026, 3, 2, 6, tzinfo=UTC)


def _speed(conn: psycopg.Connection, asset_id: int, pattern: list[tuple[float, float]],
           start: datetime) -> None:
    """Speed readings every 10 minutes: ``pattern`` is [(hours, rpm)] in sequence."""
    sensor = conn.execute("INSERT INTO sensor (asset_id, name, unit) VALUES (%s, 'speed', 'rpm')"
                          " ON CONFLICT (asset_id, name) DO UPDATE SET unit = 'rpm'"
                          " RETURNING sensor_id", (asset_id,)).fetchone()[0]
    rows, t = [], start
    for hours, rpm in pattern:
        for _ in range(int(hours * 6)):
            rows.append((t, asset_id, sensor, rpm))
            t += timedelta(minutes=10)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO telemetry (time, asset_id, sensor_id, value)"
                        " VALUES (%s, %s, %s, %s)", rows)


def test_usage_counts_run_hours_and_starts_from_the_operating_state(
        fleet_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = fleet_db
    conn.execute("INSERT INTO maintenance_plan (model_id, task, interval_run_hours,"
                 " interval_starts, part_no, qty) VALUES"
                 " ('CP-200', 'seal_check', 20, 5, 'GREASE-LGHP2-400', 1)")
    pump = ids["a01-00"]
    conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, code) VALUES"
                 " ('m1', %s, %s, 'maintenance', 'seal_check')",
                 (pump, AS_OF - timedelta(days=2)))
    _speed(conn, pump, [(12, 1450.0), (2, 0.0), (10.5, 1460.0), (23.5, 0.0)],
           AS_OF - timedelta(days=2))
    due = {d.task: d for d in pm_schedule(conn, AS_OF) if d.asset_id == pump}["seal_check"]
    assert (due.basis, due.due_at, due.starts) == ("run_hours", AS_OF, 2)
    assert due.run_hours == round((71 + 62) / 6, 2)  # running intervals of 10 minutes
    assert due.kit == (("GREASE-LGHP2-400", 1),)
    # a machine that stood still has used nothing: only the starts project, far out
    idle = {d.task: d for d in pm_schedule(conn, AS_OF, PmPolicy(running_above=5000))
            if d.asset_id == pump}
    assert "seal_check" not in idle


def test_work_orders_open_once_for_tasks_due_within_the_horizon(
        fleet_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = fleet_db
    conn.execute("UPDATE asset SET commissioned_on = %s WHERE asset_id = %s",
                 ((AS_OF - timedelta(days=80)).date(), ids["a01-00"]))
    conn.execute("UPDATE asset SET commissioned_on = %s WHERE asset_id = %s",
                 ((AS_OF - timedelta(days=10)).date(), ids["a01-02"]))
    assert open_pm_work_orders(conn, AS_OF).opened == 1
    assert open_pm_work_orders(conn, AS_OF).opened == 0
    orders = conn.execute("SELECT asset_tag, task, basis, due_at, kit, status"
                          " FROM v_pm_work_order").fetchall()
    assert orders == [("a01-00", "relubrication", "days", AS_OF.replace(hour=0)
                       + timedelta(days=10), [{"part_no": "GREASE-LGHP2-400", "qty": 1}],
                       "open")]
