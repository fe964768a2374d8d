"""Replaying dead letters: re-validate stored messages and ingest the ones that now pass.

A dead letter becomes ingestible when what it lacked is fixed (an asset registered, a site
corrected) or when the rules were relaxed. Each dead letter is replayed in its own transaction
together with the update of its row (``replayed_at``, ``replay_result``), and batches go
through the same ledger as live traffic, so replaying twice, or replaying a batch that also
arrived live, stores its readings exactly once. Messages that still fail keep ``replayed_at``
NULL (they stay replayable) and get the new reason in ``replay_result``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.ingest.inbound import Inbound, classify
from assetwatch.ingest.writer import (
    DEAD,
    DUPLICATE,
    BatchWriter,
    GroupResult,
    WithinTransaction,
)

__all__ = ["ReplayReport", "replay_dead_letters"]


@dataclass(slots=True)
class ReplayReport:
    """How many dead letters were looked at, ingested, already present, and still bad."""

    examined: int = 0
    ingested: int = 0
    duplicates: int = 0
    still_rejected: int = 0


def replay_dead_letters(settings: Settings, *, since: datetime | None = None,
                        limit: int | None = None) -> ReplayReport:
    """Replay every dead letter not yet replayed (received at or after ``since``)."""
    report = ReplayReport()
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT dead_letter_id, topic, payload FROM dead_letter"
            " WHERE replayed_at IS NULL AND (%s::timestamptz IS NULL OR received_at >= %s)"
            " ORDER BY dead_letter_id LIMIT %s",
            (since, since, limit),
        ).fetchall()
        conn.commit()
        writer = BatchWriter(conn, keep_dead_letters=False)
        for dead_letter_id, topic, payload in rows:
            message = classify(topic, bytes(payload), settings.topic_prefix,
                               received_at=time.time())
            outcome = writer.write([message], _mark(dead_letter_id))
            report.examined += 1
            if outcome.outcomes[0] == DEAD:
                report.still_rejected += 1
            elif outcome.outcomes[0] == DUPLICATE:
                report.duplicates += 1
            else:
                report.ingested += 1
    return report


def _mark(dead_letter_id: int) -> WithinTransaction:
    def within(cur: psycopg.Cursor, group: Sequence[Inbound], result: GroupResult) -> None:
        outcome, reason = result.outcomes[0], result.reasons[0]
        if outcome == DEAD:
            cur.execute("UPDATE dead_letter SET replay_result = %s WHERE dead_letter_id = %s",
                        (f"still rejected: {reason}", dead_letter_id))
        else:
            cur.execute("UPDATE dead_letter SET replayed_at = now(), replay_result = %s"
                        " WHERE dead_letter_id = %s AND replayed_at IS NULL",
                        ("ingested" if outcome != DUPLICATE else "already ingested",
                         dead_letter_id))
    return within
