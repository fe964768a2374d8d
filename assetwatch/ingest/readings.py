"""Storing readings exactly once: ``(asset, time, sensor)`` is the key of a reading.

The unique index ``telemetry_reading (asset_id, time DESC, sensor_id)`` makes a second copy
of a reading impossible; :func:`store_readings` makes a repeated reading harmless and counts
it. Which value wins: **the first one**. A reading already stored is kept; among readings
written together, the one of the batch with the lower ``seq`` (batches are applied in
``(asset, seq)`` order), and within a batch the earlier one.

How, cheapest first:

1. Repeats inside the group are dropped with numpy before anything is sent. A batch whose
   sensors repeat in the same order every tick with rising timestamps (what devices send)
   is proven free of repeats by two comparisons; batches of one asset whose time spans do
   not overlap cannot share a reading. Only what is left is sorted to find repeats.
2. The readings go to ``telemetry`` with one binary ``COPY`` inside a savepoint: the fast
   path, taken whenever nothing was stored before.
3. Only if that COPY hits the unique index (a device re-sending readings under a new seq, or
   two workers writing the same readings at once) the savepoint is rolled back and the group
   goes through a temporary staging table and ``INSERT ... ON CONFLICT DO NOTHING``, which
   skips the stored readings and counts them per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import psycopg

from assetwatch.ingest.rows import (
    COPY_STAGING,
    COPY_TELEMETRY,
    staging_rows,
    telemetry_rows,
    write_rows,
)

__all__ = ["NewBatch", "first_of_each", "store_readings"]

_STAGING = ("CREATE TEMPORARY TABLE IF NOT EXISTS ingest_staging (time timestamptz NOT NULL,"
            " asset_id integer NOT NULL, sensor_id integer NOT NULL,"
            " value double precision NOT NULL, batch integer NOT NULL) ON COMMIT DELETE ROWS")


@dataclass(slots=True)
class NewBatch:
    """The readings of one new batch, as columns (``sensor_ids`` already mapped)."""

    asset_id: int
    seq: int
    ts_ms: np.ndarray  # int64
    sensor_ids: np.ndarray  # int32
    values: np.ndarray  # float64
    period: int = 0  # the sensors repeat in one order every ``period`` readings (0: unknown)
    span: tuple[int, int] | None = None  # (first, last) ``ts_ms`` when already known

    def time_span(self) -> tuple[int, int]:
        if self.span is None:
            self.span = (int(self.ts_ms.min()), int(self.ts_ms.max()))
        return self.span

    def __len__(self) -> int:
        return len(self.ts_ms)


def store_readings(cur: psycopg.Cursor, batches: Sequence[NewBatch]) -> list[int]:
    """Store the readings of ``batches`` (ordered by asset, then seq) once, in the caller's
    transaction; return per batch how many of its readings were already stored."""
    keep, repeated = _drop_repeats(batches)
    kept = [_take(b, mask) for b, mask in zip(batches, keep, strict=True)]
    columns = _columns(batches, kept)
    try:
        # a savepoint: when the fast path fails, only it is undone
        with cur.connection.transaction(), cur.copy(COPY_TELEMETRY) as copy:
            write_rows(copy, telemetry_rows(*columns))
    except psycopg.errors.UniqueViolation:
        stored = _insert_new(cur, columns, [len(k[0]) for k in kept])
        return [r + len(k[0]) - s for r, k, s in zip(repeated, kept, stored, strict=True)]
    return repeated


def first_of_each(ts_ms: np.ndarray, sensor_ids: np.ndarray) -> np.ndarray | None:
    """The mask of the first reading of each ``(time, sensor)``; None when all are distinct."""
    order = np.lexsort((sensor_ids, ts_ms))  # stable: equal keys keep their order
    ts, sensors = ts_ms[order], sensor_ids[order]
    repeat = (ts[1:] == ts[:-1]) & (sensors[1:] == sensors[:-1])
    if not repeat.any():
        return None
    keep = np.ones(len(ts_ms), dtype=bool)
    keep[order[1:][repeat]] = False
    return keep


def _surely_unique(batch: NewBatch) -> bool:
    """True when the batch cannot hold a repeat: its sensors repeat with period p (each
    sensor once per tick) and every reading is later than the one p places before it."""
    p = batch.period
    return p > 0 and (len(batch) <= p or bool((batch.ts_ms[p:] > batch.ts_ms[:-p]).all()))


def _drop_repeats(batches: Sequence[NewBatch]) -> tuple[list[np.ndarray | None], list[int]]:
    """Per batch the mask of readings to store (None: all) and how many were repeats."""
    keep: list[np.ndarray | None] = [None] * len(batches)
    repeated = [0] * len(batches)
    for k, batch in enumerate(batches):
        if not _surely_unique(batch):
            keep[k] = first_of_each(batch.ts_ms, batch.sensor_ids)
    by_asset: dict[int, list[int]] = {}
    for k, batch in enumerate(batches):
        by_asset.setdefault(batch.asset_id, []).append(k)
    for ks in by_asset.values():
        if len(ks) > 1 and _spans_overlap([batches[k].time_span() for k in ks]):
            _drop_repeats_across(batches, ks, keep)
    for k, mask in enumerate(keep):
        if mask is not None:
            repeated[k] = len(mask) - int(mask.sum())
    return keep, repeated


def _spans_overlap(spans: list[tuple[int, int]]) -> bool:
    """Whether any two of these time spans ``(first, last)`` meet."""
    latest = None
    for lo, hi in sorted(spans):
        if latest is not None and lo <= latest:
            return True
        latest = hi if latest is None else max(latest, hi)
    return False


def _drop_repeats_across(batches: Sequence[NewBatch], ks: list[int],
                         keep: list[np.ndarray | None]) -> None:
    """Repeats between the batches ``ks`` of one asset (in seq order): the first one wins."""
    masks = [keep[k] if keep[k] is not None else np.ones(len(batches[k]), dtype=bool)
             for k in ks]
    ts = np.concatenate([batches[k].ts_ms for k in ks])
    sensors = np.concatenate([batches[k].sensor_ids for k in ks])
    # only readings kept inside their own batch compete for being the first
    rank = np.flatnonzero(np.concatenate(masks))
    first = first_of_each(ts[rank], sensors[rank])
    if first is None:
        return
    combined = np.zeros(len(ts), dtype=bool)
    combined[rank[first]] = True
    bounds = np.cumsum([len(batches[k]) for k in ks])[:-1]
    for k, part in zip(ks, np.split(combined, bounds), strict=True):
        keep[k] = part


def _take(batch: NewBatch, mask: np.ndarray | None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if mask is None:
        return batch.ts_ms, batch.sensor_ids, batch.values
    return batch.ts_ms[mask], batch.sensor_ids[mask], batch.values[mask]


def _columns(batches: Sequence[NewBatch], kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    counts = [len(k[0]) for k in kept]
    asset_col = np.repeat(np.array([b.asset_id for b in batches], dtype=np.int32), counts)
    return (np.concatenate([k[0] for k in kept]), asset_col,
            np.concatenate([k[1] for k in kept]), np.concatenate([k[2] for k in kept]))


def _insert_new(cur: psycopg.Cursor, columns: tuple[np.ndarray, ...], counts: list[int]
                ) -> list[int]:
    """The slow path: stage the readings, insert those not stored yet; stored per batch."""
    batch_col = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    cur.execute(_STAGING)
    cur.execute("DELETE FROM ingest_staging")
    with cur.copy(COPY_STAGING) as copy:
        write_rows(copy, staging_rows(*columns, batch_col))
    stored = dict(cur.execute(
        "WITH inserted AS ("
        " INSERT INTO telemetry (time, asset_id, sensor_id, value)"
        " SELECT time, asset_id, sensor_id, value FROM ingest_staging ORDER BY batch"
        " ON CONFLICT DO NOTHING RETURNING asset_id, time, sensor_id)"
        " SELECT s.batch, count(*) FROM inserted JOIN ingest_staging s"
        " USING (asset_id, time, sensor_id) GROUP BY s.batch").fetchall())
    return [int(stored.get(k, 0)) for k in range(len(counts))]
