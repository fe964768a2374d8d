"""A tiny synthetic fleet whose bearings fail after a visible temperature rise."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import psycopg

from .seed import add_assets, add_event, add_readings

START = datetime(2025, 1, 1, tzinfo=UTC)


def seed_fleet(conn: psycopg.Connection, *, assets: int = 12, days: int = 60,
               seed: int = 7, failures: bool = True, prefix: str = "F") -> dict[str, int]:
    """Hourly ``temp`` readings; each bearing runs 12-30 days, its temperature rising over
    the last 6 days before a failure, then is replaced (event + installed-base record)."""
    rng = random.Random(seed)
    ids = add_assets(conn, [f"{prefix}{i:03d}" for i in range(assets)],
                     sensors=("temp", "vib"), commissioned_on=date(2024, 6, 1))
    end = START + timedelta(days=days)
    for tag, asset_id in ids.items():
        installed = START - timedelta(days=rng.uniform(0, 20))
        serial = 0
        conn.execute("INSERT INTO installed_component (asset_id, component_type, serial_no,"
                     " valid_from) VALUES (%s, 'bearing', %s, %s)",
                     (asset_id, f"{tag}-{serial}", installed))
        life = timedelta(days=rng.uniform(12, 30) if failures else 999)
        fail_at = installed + life
        temp, vib = [], []
        t = START
        while t < end:
            if failures and t >= fail_at:
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
            wear = max(0.0, 6.0 - days_left) if failures else 0.0
            temp.append((t, 50.0 + 2.0 * wear + rng.gauss(0, 0.5)))
            vib.append((t, 2.0 + rng.gauss(0, 0.1)))
            t += timedelta(hours=1)
        add_readings(conn, asset_id, "temp", temp)
        add_readings(conn, asset_id, "vib", vib)
    return ids
