"""The column-wise binary COPY encoder writes what psycopg's ``set_types``/``write_row`` do."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import psycopg
from psycopg.copy import Copy, FileWriter

from assetwatch.core.settings import Settings
from assetwatch.ingest.rows import COPY_TELEMETRY, TELEMETRY_TYPES, encode_telemetry

ROWS = [(1_764_000_000_123, 1, 2, 3.5), (946_684_800_000, 7, 8, -0.0),
        (1_764_000_000_999, 2**31 - 1, 1, 1e308), (1_000, 1, 1, 5e-324)]


def _columns() -> tuple[np.ndarray, ...]:
    ts, asset, sensor, value = zip(*ROWS, strict=True)
    return (np.array(ts, dtype=np.int64), np.array(asset, dtype=np.int32),
            np.array(sensor, dtype=np.int32), np.array(value))


def test_same_bytes_as_psycopg_set_types_and_write_row(settings: Settings) -> None:
    out = io.BytesIO()
    with (psycopg.connect(settings.db_url) as conn, conn.cursor() as cur,
          Copy(cur, binary=True, writer=FileWriter(out)) as copy):
        copy.set_types(list(TELEMETRY_TYPES))
        for ts, asset, sensor, value in ROWS:
            copy.write_row((datetime.fromtimestamp(ts / 1000, UTC), asset, sensor, value))
    assert encode_telemetry(*_columns()) == out.getvalue()


def test_rows_load_into_postgres(settings: Settings) -> None:
    with psycopg.connect(settings.db_url) as conn:
        conn.execute("CREATE TEMP TABLE telemetry (time timestamptz, asset_id int4,"
                     " sensor_id int4, value float8)")
        with conn.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
            copy.write(encode_telemetry(*_columns()))
        got = conn.execute("SELECT time, asset_id, sensor_id, value FROM telemetry"
                           " ORDER BY ctid").fetchall()
    assert got == [(datetime.fromtimestamp(ts / 1000, UTC), a, s, v) for ts, a, s, v in ROWS]
