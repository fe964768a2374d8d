"""Waiting for ingest to catch up, for demos, benchmarks and tests."""

from __future__ import annotations

import time

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.ingest.errors import IngestError

__all__ = ["ingest_counts", "wait_idle"]

_PROGRESS = ("SELECT (SELECT count(*) FROM ingest_batch), (SELECT count(*) FROM dead_letter),"
             " (SELECT count(*) FROM asset_event), (SELECT max(status_changed_at) FROM asset)")


def ingest_counts(settings: Settings) -> tuple[int, int]:
    """(committed batches, dead letters) in the database now."""
    with connect(settings, autocommit=True) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM ingest_batch),"
                           " (SELECT count(*) FROM dead_letter)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_idle(settings: Settings, *, expected_batches: int | None = None,
              expected_dead_letters: int = 0, quiet_s: float = 1.0,
              timeout: float = 60.0) -> tuple[int, int]:
    """Wait until ingest has caught up; return (batches, dead letters).

    With ``expected_batches``: until at least that many batches and ``expected_dead_letters``
    dead letters are committed. Without: until nothing changes for ``quiet_s`` (batches, dead
    letters, events, and the assets' latest status change).
    Raises :class:`IngestError` on ``timeout``.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    stable_since = time.monotonic()
    with connect(settings, autocommit=True) as conn:
        while True:
            row = conn.execute(_PROGRESS).fetchone()
            assert row is not None
            counts = (int(row[0]), int(row[1]))
            now = time.monotonic()
            if expected_batches is not None:
                if counts[0] >= expected_batches and counts[1] >= expected_dead_letters:
                    return counts
            elif row == last and now - stable_since >= quiet_s:
                return counts
            if row != last:
                last, stable_since = row, now
            if now > deadline:
                raise IngestError(f"ingest did not catch up within {timeout:.0f} s: "
                                  f"{counts[0]} batches, {counts[1]} dead letters committed")
            time.sleep(0.05)
