"""Retention and rollups, on either edition of TimescaleDB.

* Rollup: ``telemetry_hourly`` (asset, sensor, hour: avg/min/max/count), read through
  ``v_telemetry_hourly``. On the Apache build it is a table that
  ``refresh_telemetry_hourly()`` keeps current from the ingest ledger (migration 0011, apache
  variant); with the Timescale licence it is a continuous aggregate with a refresh policy, and
  older telemetry chunks are compressed by a policy (0011, timescale variant); housekeeping
  then refreshes the aggregate once more so it is current when it returns.
  :func:`refresh_rollup_range` (:mod:`assetwatch.core.rollup`) refreshes one time range
  only, on either build: for a caller that knows which hours it just loaded (a day of
  simulated telemetry, a benchmark's bulk load).
* Retention: ``drop_chunks`` removes whole telemetry chunks older than the retention age;
  ledger rows of batches that old and replayed dead letters that old are deleted too. The
  hourly rollup is kept (it is small): dashboards keep their long-range history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from assetwatch.core.db import connect
from assetwatch.core.migrate import timescale_license
from assetwatch.core.rollup import refresh_rollup_range
from assetwatch.core.settings import Settings
from assetwatch.ingest.errors import IngestError

__all__ = ["HousekeepingReport", "apply_retention", "refresh_rollup_range", "refresh_rollups",
           "run_housekeeping"]

#: The refresh window of the continuous aggregate (migration 0011, timescale variant).
CAGG_WINDOW = timedelta(days=30)


@dataclass(slots=True)
class HousekeepingReport:
    licence: str
    buckets_refreshed: int
    chunks_dropped: int
    ledger_rows_deleted: int
    dead_letters_deleted: int


def refresh_rollups(settings: Settings) -> int:
    """Bring ``telemetry_hourly`` up to date; return the (asset, hour) buckets recomputed
    (0 with a continuous aggregate, which Timescale refreshes itself)."""
    with connect(settings, autocommit=True) as conn:
        if timescale_license(conn) == "timescale":
            # the window of the refresh policy: refreshing hours whose raw chunks were
            # dropped would erase them from the aggregate
            conn.execute("CALL refresh_continuous_aggregate('telemetry_hourly',"
                         " now() - %s::interval, NULL)", (CAGG_WINDOW,))
            return 0
        row = conn.execute("SELECT refresh_telemetry_hourly()").fetchone()
        return int(row[0]) if row else 0


def apply_retention(settings: Settings, older_than: timedelta) -> tuple[int, int, int]:
    """Drop telemetry older than ``older_than``; return (chunks, ledger rows, dead letters).

    With a continuous aggregate the age must exceed its refresh window (30 days), so no
    refresh ever recomputes an hour whose raw data is gone.
    """
    with connect(settings) as conn:
        if timescale_license(conn) == "timescale" and older_than <= CAGG_WINDOW:
            raise IngestError(f"retention must be longer than the rollup's refresh window "
                              f"({CAGG_WINDOW.days} days) with continuous aggregates")
        chunks = conn.execute("SELECT count(*) FROM drop_chunks('telemetry', older_than => %s)",
                              (older_than,)).fetchone()
        ledger = conn.execute("DELETE FROM ingest_batch WHERE last_reading_at < now() - %s",
                              (older_than,))
        dead = conn.execute("DELETE FROM dead_letter WHERE replayed_at < now() - %s",
                            (older_than,))
        conn.commit()
        return (int(chunks[0]) if chunks else 0), ledger.rowcount, dead.rowcount


def run_housekeeping(settings: Settings, *, retention: timedelta | None) -> HousekeepingReport:
    """Refresh the rollup first (so nothing is dropped before it is rolled up), then apply
    retention when ``retention`` is given."""
    with connect(settings) as conn:
        licence = timescale_license(conn)
    buckets = refresh_rollups(settings)
    chunks = ledger = dead = 0
    if retention is not None:
        chunks, ledger, dead = apply_retention(settings, retention)
    return HousekeepingReport(licence, buckets, chunks, ledger, dead)
