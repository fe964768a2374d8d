"""Small hand-made fleets for the prediction tests: registry rows, telemetry, events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import psycopg

from assetwatch.core.registry import AssetSpec, register_fleet


def add_assets(conn: psycopg.Connection, tags: Iterable[str], *, model_id: str = "TP-1",
               sensors: tuple[str, ...] = ("temp",),
               commissioned_on: date = date(2024, 1, 1),
               components: tuple[str, ...] = ("bearing",)) -> dict[str, int]:
    """Register assets of one model with the given sensors and components (BOM rows)."""
    ids = register_fleet(
        conn, [("S1", "Site one", None, 48)], [(model_id, "test_pump", None)],
        [AssetSpec(tag, "S1", model_id, [(s, "u") for s in sensors],
                   commissioned_on=commissioned_on) for tag in tags],
    )
    for component in components:
        conn.execute("INSERT INTO component_type (component_type) VALUES (%s)"
                     " ON CONFLICT DO NOTHING", (component,))
        conn.execute("INSERT INTO part (part_no, description, unit_cost) VALUES (%s, %s, 1)"
                     " ON CONFLICT DO NOTHING", (f"P-{component}", component))
        conn.execute("INSERT INTO bom_item (model_id, component_type, part_no, qty)"
                     " VALUES (%s, %s, %s, 1) ON CONFLICT DO NOTHING",
                     (model_id, component, f"P-{component}"))
    return ids


def add_readings(conn: psycopg.Connection, asset_id: int, sensor: str,
                 readings: Iterable[tuple[datetime, float]]) -> None:
    """Write readings of one sensor by binary COPY."""
    row = conn.execute("SELECT sensor_id FROM sensor WHERE asset_id = %s AND name = %s",
                       (asset_id, sensor)).fetchone()
    assert row is not None
    with conn.cursor() as cur, cur.copy(
            "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(["timestamptz", "integer", "integer", "double precision"])
        for at, value in readings:
            cp.write_row((at, asset_id, row[0], value))


def add_event(conn: psycopg.Connection, asset_id: int, at: datetime, kind: str,
              component_type: str | None = None, code: str | None = None) -> None:
    conn.execute(
        "INSERT INTO asset_event (event_id, asset_id, time, kind, component_type, code)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (f"{asset_id}-{kind}-{at.isoformat()}-{component_type}-{code}", asset_id, at, kind,
         component_type, code),
    )
