"""Refreshing the hourly rollup (``telemetry_hourly``) over one time range, on either edition
of TimescaleDB: for a caller that knows which hours it has just written (a day of simulated
telemetry, a benchmark's bulk load by COPY), which the ingest ledger does not know.

With the Apache build the rollup is a table, recomputed here from the raw readings
(``refresh_telemetry_hourly_range``, migration 0017). With the Timescale licence it is a
real-time continuous aggregate: on a connection outside any transaction (autocommit) the range
is materialised (``refresh_continuous_aggregate``, a procedure that cannot run inside a
transaction block); inside a transaction nothing is done, and readings of hours that the
aggregate has not materialised yet show through its real-time part all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg import pq

from assetwatch.core.migrate import timescale_license

__all__ = ["refresh_rollup_range"]


def refresh_rollup_range(conn: psycopg.Connection, start: datetime, end: datetime,
                         assets: Sequence[int] | None = None) -> int:
    """Recompute the ``telemetry_hourly`` hours that ``[start, end)`` touches, of every asset
    (or of ``assets``), from the raw readings; return the rollup rows written (0 with a
    continuous aggregate). Unlike a full refresh, the cost follows the range, not the batches
    committed in the last minutes."""
    if timescale_license(conn) == "timescale":
        if conn.autocommit and conn.info.transaction_status == pq.TransactionStatus.IDLE:
            conn.execute("CALL refresh_continuous_aggregate('telemetry_hourly', %s, %s)",
                         (start, end))
        return 0
    row = conn.execute("SELECT refresh_telemetry_hourly_range(%s, %s, %s)",
                       (start, end, list(assets) if assets is not None else None)).fetchone()
    return int(row[0]) if row else 0
