"""Telemetry rows in PostgreSQL's binary COPY format, encoded column-wise with numpy.

This produces byte for byte what psycopg writes for ``COPY telemetry (time, asset_id,
sensor_id, value) FROM STDIN (FORMAT BINARY)`` after ``copy.set_types(["timestamptz", "int4",
"int4", "float8"])`` and one ``write_row`` per reading (the tests check that), but encodes a
whole batch group in a few vectorised operations instead of a Python call per reading: the
constant parts of a row (field count and lengths) are copied from a template row, the four
values are written column by column, and the rows go to the server as one buffer, without
further copies.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

__all__ = ["COPY_STAGING", "COPY_TELEMETRY", "TELEMETRY_TYPES", "encode_telemetry",
           "staging_rows", "telemetry_rows", "write_rows"]

#: The statement the encoded rows are meant for.
COPY_TELEMETRY = "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN (FORMAT BINARY)"
#: The same readings with the index of their batch, into ingest's temporary staging table.
COPY_STAGING = ("COPY ingest_staging (time, asset_id, sensor_id, value, batch) FROM STDIN"
                " (FORMAT BINARY)")
#: The column types, as ``copy.set_types`` would name them.
TELEMETRY_TYPES = ("timestamptz", "int4", "int4", "float8")

_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_TRAILER = b"\xff\xff"
#: Milliseconds from the Unix epoch to PostgreSQL's epoch (2000-01-01 UTC).
_PG_EPOCH_MS = 946_684_800_000

_FIELDS = (("time", ">i8"), ("asset_id", ">i4"), ("sensor_id", ">i4"), ("value", ">f8"))


class _CopyIn(Protocol):
    def write(self, buffer: bytes | memoryview, /) -> None: ...


def _row_type(fields: tuple[tuple[str, str], ...]) -> tuple[np.dtype, np.ndarray]:
    """A binary COPY row (the field count, then each field's length and value) and a template
    row with the field count and lengths filled in."""
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    for name, kind in fields:
        layout += [(f"{name}_len", ">i4"), (name, kind)]
    row = np.dtype(layout)
    template = np.zeros(1, dtype=row)
    template["fields"] = len(fields)
    for name, _ in fields:
        template[f"{name}_len"] = row[name].itemsize
    return row, template


_ROW, _TEMPLATE = _row_type(_FIELDS)
_STAGED_ROW, _STAGED_TEMPLATE = _row_type((*_FIELDS, ("batch", ">i4")))


def telemetry_rows(ts_ms: np.ndarray, asset_id: np.ndarray, sensor_id: np.ndarray,
                   value: np.ndarray) -> np.ndarray:
    """The binary COPY rows (without header and trailer) of readings given as columns.

    ``ts_ms`` are integer milliseconds since the Unix epoch; they become ``timestamptz``.
    """
    rows = np.tile(_TEMPLATE, len(ts_ms))
    rows["time"] = (np.asarray(ts_ms, dtype=np.int64) - _PG_EPOCH_MS) * 1000
    rows["asset_id"] = asset_id
    rows["sensor_id"] = sensor_id
    rows["value"] = value
    return rows


def staging_rows(ts_ms: np.ndarray, asset_id: np.ndarray, sensor_id: np.ndarray,
                 value: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Like :func:`telemetry_rows`, for :data:`COPY_STAGING` (one more int4 column)."""
    rows = np.tile(_STAGED_TEMPLATE, len(ts_ms))
    rows["time"] = (np.asarray(ts_ms, dtype=np.int64) - _PG_EPOCH_MS) * 1000
    rows["asset_id"] = asset_id
    rows["sensor_id"] = sensor_id
    rows["value"] = value
    rows["batch"] = batch
    return rows


def write_rows(copy: _CopyIn, rows: np.ndarray) -> None:
    """Send ``rows`` as a complete binary COPY stream (header, rows, trailer) to ``copy``."""
    copy.write(_HEADER)
    copy.write(memoryview(rows.view(np.uint8)))
    copy.write(_TRAILER)


def encode_telemetry(ts_ms: np.ndarray, asset_id: np.ndarray, sensor_id: np.ndarray,
                     value: np.ndarray) -> bytes:
    """The whole binary COPY stream (header, rows, trailer) of readings, as bytes."""
    return _HEADER + telemetry_rows(ts_ms, asset_id, sensor_id, value).tobytes() + _TRAILER
