"""Planners' exports of the read model (``v_*`` views) as CSV or Parquet."""

from __future__ import annotations

import csv
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from assetwatch.service.errors import ServiceError

__all__ = ["EXPORT_FORMATS", "export_view"]

EXPORT_FORMATS = ("csv", "parquet")


def export_view(conn: psycopg.Connection, view: str, fmt: str, output: Path | None, *,
                filters: dict[str, str | None] | None = None,
                order_by: tuple[str, ...] = ()) -> int:
    """Write the rows of ``view`` (equality ``filters`` on its columns) to ``output`` (CSV
    may go to stdout when ``output`` is None); return the number of rows."""
    if fmt not in EXPORT_FORMATS:
        raise ServiceError(f"unknown export format {fmt!r}; use csv or parquet")
    if fmt == "parquet" and output is None:
        raise ServiceError("parquet export needs --output FILE")
    conditions = [sql.SQL("{} = %s").format(sql.Identifier(column))
                  for column, value in (filters or {}).items() if value is not None]
    query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(view))
    if conditions:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)
    if order_by:
        query += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(map(sql.Identifier, order_by))
    params = [v for v in (filters or {}).values() if v is not None]
    with conn.cursor() as cur:
        cur.execute(query, params)
        columns = [d.name for d in cur.description or []]
        rows = cur.fetchall()
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        _write_csv(columns, rows, output)
    else:
        assert output is not None
        _write_parquet(columns, rows, output)
    return len(rows)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def _write_csv(columns: list[str], rows: list[tuple[Any, ...]], output: Path | None) -> None:
    handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([v.isoformat() if isinstance(v, datetime | date) else _plain(v)
                             for v in row])
    finally:
        if output:
            handle.close()


def _write_parquet(columns: list[str], rows: list[tuple[Any, ...]], output: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {c: [_plain(row[i]) for row in rows] for i, c in enumerate(columns)}
    pq.write_table(pa.table(data), output)
