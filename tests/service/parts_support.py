"""What the parts-operations tests share: installing a serialised component with a warranty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def install(conn: psycopg.Connection, asset_id: int, component: str, serial: str,
            part_no: str, warranty_days: int) -> None:
    """Install ``serial`` 100 days before ``T0``, in warranty until ``warranty_days`` after it."""
    conn.execute("INSERT INTO installed_component (asset_id, component_type, serial_no,"
                 " part_no, valid_from, warranty_end) VALUES (%s, %s, %s, %s, %s, %s)",
                 (asset_id, component, serial, part_no, T0 - timedelta(days=100),
                  (T0 + timedelta(days=warranty_days)).date()))
