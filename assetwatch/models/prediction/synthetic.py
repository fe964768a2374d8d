"""A small synthetic fleet whose components fail after a visible sensor drift.

For tests and the scoring benchmark (they must not need the public data sets): assets of one
asset model with ``temp`` and ``vib`` sensors; each ``bearing`` runs 12-30 days, its ``temp``
rising over the last 6 days before it fails; a failure is followed at once by a
``part_replaced`` event and a new installed-base record.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import psycopg

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.rollup import refresh_rollup_range

__all__ = ["START", "add_assets", "add_event", "add_readings", "seed_fleet"]

START = datetime(2025, 1, 1, tzinfo=UTC)


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
    """Write readings of one sensor of one asset by binary COPY, and their hours into the
    hourly rollup."""
    row = conn.execute("SELECT sensor_id FROM sensor WHERE asset_id = %s AND name = %s",
                       (asset_id, sensor)).fetchone()
    if row is None:
        raise ValueError(f"asset {asset_id} has no sensor {sensor!r}")
    with conn.cursor() as cur, cur.copy(
            "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(["timestamptz", "integer", "integer", "double precision"])
        times = []
        for at, value in readings:
            cp.write_row((at, asset_id, row[0], value))
            times.append(at)
    if times:   # not through ingest: the hourly rollup learns of them here
        refresh_rollup_range(conn, min(times), max(times) + timedelta(hours=1), [asset_id])


def add_event(conn: psycopg.Connection, asset_id: int, at: datetime, kind: str,
              component_type: str | None = None, code: str | None = None) -> None:
    """Record one asset event (its id is derived from its content)."""
    conn.execute(
        "INSERT INTO asset_event (event_id, asset_id, time, kind, component_type, code)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (f"{asset_id}-{kind}-{at.isoformat()}-{component_type}-{code}", asset_id, at, kind,
         component_type, code),
    )


def seed_fleet(conn: psycopg.Connection, *, assets: int = 12, days: int = 60, seed: int = 7,
               failures: bool = True, prefix: str = "F",
               step: timedelta = timedelta(hours=1)) -> dict[str, int]:
    """Register ``assets`` assets and write ``days`` days of readings every ``step`` from
    :data:`START`, with failures (unless ``failures`` is false); return tag -> asset_id."""
    rng = random.Random(seed)
    ids = add_assets(conn, [f"{prefix}{i:05d}" for i in range(assets)],
                     sensors=("temp", "vib"), commissioned_on=date(2024, 6, 1))
    end = START + timedelta(days=days)
    for tag, asset_id in ids.items():
        installed = START - timedelta(days=rng.uniform(0, 20))
        serial = 0
        conn.execute("INSERT INTO installed_component (asset_id, component_type, serial_no,"
                     " valid_from) VALUES (%s, 'bearing', %s, %s)",
                     (asset_id, f"{tag}-{serial}", installed))
        fail_at = installed + timedelta(days=rng.uniform(12, 30) if failures else 9999)
        temp, vib = [], []
        t = START
        while t < end:
            if t >= fail_at:
                add_event(conn, asset_id, fail_at, "failure", "bearing")
                add_event(conn, asset_id, fail_at, "part_replaced", "bearing")
                serial += 1
                conn.execute("UPDATE installed_component SET valid_to = %s WHERE asset_id = %s"
                             " AND valid_to IS NULL", (fail_at, asset_id))
                conn.execute("INSERT INTO installed_component (asset_id, component_type,"
                             " serial_no, valid_from) VALUES (%s, 'bearing', %s, %s)",
                             (asset_id, f"{tag}-{serial}", fail_at))
                fail_at = fail_at + timedelta(days=rng.uniform(12, 30))
            days_left = (fail_at - t) / timedelta(days=1)
            wear = max(0.0, 6.0 - days_left)
            temp.append((t, 50.0 + 2.0 * wear + rng.gauss(0, 0.5)))
            vib.append((t, 2.0 + rng.gauss(0, 0.1)))
            t += step
        add_readings(conn, asset_id, "temp", temp)
        add_readings(conn, asset_id, "vib", vib)
    return ids
