"""Replaying dead letters exactly once; rollups and retention on the Apache build."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from ingest_support import SITE, Fleet, batch_payload, register, telemetry_counts

from assetwatch.core.migrate import timescale_license
from assetwatch.core.settings import Settings
from assetwatch.core.wire import topic_for
from assetwatch.ingest.errors import IngestError
from assetwatch.ingest.housekeeping import (
    apply_retention,
    refresh_rollup_range,
    refresh_rollups,
    run_housekeeping,
)
from assetwatch.ingest.inbound import classify
from assetwatch.ingest.monitor import wait_idle
from assetwatch.ingest.replay import replay_dead_letters
from assetwatch.ingest.writer import BatchWriter

HOUR_MS = 3_600_000


def _write(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    with psycopg.connect(settings.db_url) as conn:
        BatchWriter(conn).write([
            classify(topic_for(settings.topic_prefix, SITE, asset, "telemetry"), payload,
                     settings.topic_prefix) for asset, payload in messages])


def test_replay_ingests_fixed_dead_letters_exactly_once(fleet: Fleet) -> None:
    s = fleet.settings
    _write(s, [("N-1", batch_payload("N-1", 0)), ("N-1", batch_payload("N-1", 1)),
               ("P-1", b"{broken")])
    assert telemetry_counts(s)[2] == 0
    first = replay_dead_letters(s)
    assert (first.examined, first.ingested, first.still_rejected) == (3, 0, 3)
    register(s, ["N-1"], broker=False)  # the fix: the asset is registered now
    second = replay_dead_letters(s)
    assert (second.examined, second.ingested, second.still_rejected) == (3, 2, 1)
    assert replay_dead_letters(s).ingested == 0  # a second replay changes nothing
    _write(s, [("N-1", batch_payload("N-1", 1))])  # and the same batch arriving live is a no-op
    assert telemetry_counts(s) == (8, 8, 2)
    with psycopg.connect(s.db_url) as conn:
        rows = conn.execute("SELECT replay_result, replayed_at IS NOT NULL FROM v_dead_letter"
                            " ORDER BY dead_letter_id").fetchall()
    assert rows[:2] == [("ingested", True), ("ingested", True)]
    assert rows[2][0].startswith("still rejected: payload: not JSON") and rows[2][1] is False


def test_replay_command_prints_its_counts(fleet: Fleet) -> None:
    s = fleet.settings
    _write(s, [("P-1", b"[]")])
    done = subprocess.run(
        [sys.executable, "-m", "assetwatch.cli", "ingest", "replay-dead-letters"],
        env={"ASSETWATCH_DB_URL": s.db_url, "ASSETWATCH_TOPIC_PREFIX": s.topic_prefix,
             "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    assert "examined: 1, ingested: 0, already ingested: 0, still rejected: 1" in done.stdout


def test_hourly_rollup_is_kept_current_and_retention_drops_old_chunks(fleet: Fleet) -> None:
    s = fleet.settings
    now_ms = int(time.time() * 1000)
    hour = now_ms - now_ms % HOUR_MS - 2 * HOUR_MS
    old = now_ms - 40 * 86_400_000
    mk = lambda seq, ts, values: json.dumps({  # noqa: E731
        "asset": "P-1", "seq": seq,
        "readings": [[ts + i, "vibration_rms", v] for i, v in enumerate(values)]}).encode()
    _write(s, [("P-1", mk(0, hour, [1.0, 3.0])), ("P-1", mk(1, old, [9.0]))])
    assert refresh_rollups(s) == 2
    _write(s, [("P-1", mk(2, hour + 5, [5.0]))])  # late data for an hour already rolled up
    refresh_rollups(s)
    with psycopg.connect(s.db_url) as conn:
        rows = conn.execute("SELECT asset_tag, sensor, unit, avg, min, max, n FROM"
                            " v_telemetry_hourly ORDER BY bucket").fetchall()
    assert rows == [("P-1", "vibration_rms", "mm/s", 9.0, 9.0, 9.0, 1),
                    ("P-1", "vibration_rms", "mm/s", 3.0, 1.0, 5.0, 3)]
    chunks, ledger, _ = apply_retention(s, timedelta(days=30))
    assert chunks >= 1 and ledger == 1
    assert telemetry_counts(s) == (3, 3, 2)
    report = run_housekeeping(s, retention=timedelta(days=30))
    assert report.licence in ("apache", "timescale") and report.chunks_dropped == 0
    with psycopg.connect(s.db_url) as conn:  # the rollup keeps the long-range history
        assert conn.execute("SELECT count(*) FROM v_telemetry_hourly").fetchone() == (2,)


def test_range_refresh_rolls_up_only_the_hours_it_is_given(fleet: Fleet) -> None:
    s = fleet.settings
    day = datetime(2025, 3, 1, tzinfo=UTC)
    first = int(day.timestamp() * 1000)
    mk = lambda seq, ts, values: json.dumps({  # noqa: E731
        "asset": "P-1", "seq": seq,
        "readings": [[ts + i, "vibration_rms", v] for i, v in enumerate(values)]}).encode()
    _write(s, [("P-1", mk(0, first + HOUR_MS, [2.0, 4.0])),
               ("P-1", mk(1, first + 86_400_000 + HOUR_MS, [7.0]))])
    with psycopg.connect(s.db_url, autocommit=True) as conn:
        written = refresh_rollup_range(conn, day, day + timedelta(days=1))
        rows = conn.execute("SELECT bucket, avg, n FROM v_telemetry_hourly"
                            " ORDER BY bucket").fetchall()
        licence = timescale_license(conn)
    if licence == "apache":     # the day after stays out until it is refreshed
        assert written == 1 and rows == [(day + timedelta(hours=1), 3.0, 2)]
    else:                       # a real-time continuous aggregate shows every hour
        assert written == 0 and (day + timedelta(hours=1), 3.0, 2) in rows


def test_range_refresh_inside_a_transaction_rolls_up_only_the_assets_it_is_given(
        fleet: Fleet) -> None:
    """What the bulk loaders (C-MAPSS, Azure, the simulated fleet) call before they commit."""
    s = fleet.settings
    day = datetime(2025, 3, 1, tzinfo=UTC)
    ts = int(day.timestamp() * 1000) + HOUR_MS
    _write(s, [("P-1", json.dumps({"asset": "P-1", "seq": 0,
                                   "readings": [[ts, "vibration_rms", 5.0]]}).encode())])
    with psycopg.connect(s.db_url) as conn:     # a transaction is open from the first query
        asset_id = conn.execute("SELECT asset_id FROM asset WHERE asset_tag = 'P-1'").fetchone()
        licence = timescale_license(conn)
        other = refresh_rollup_range(conn, day, day + timedelta(days=1), [-1])
        own = refresh_rollup_range(conn, day, day + timedelta(days=1), [asset_id[0]])
        rows = conn.execute("SELECT bucket, avg, n FROM v_telemetry_hourly").fetchall()
    if licence == "apache":
        assert (other, own) == (0, 1) and rows == [(day + timedelta(hours=1), 5.0, 1)]
    else:                       # nothing materialised inside a transaction; shown real-time
        assert (other, own) == (0, 0) and (day + timedelta(hours=1), 5.0, 1) in rows


def test_wait_idle_returns_when_quiet_and_raises_on_timeout(fleet: Fleet) -> None:
    s = fleet.settings
    _write(s, [("P-1", batch_payload("P-1", 0)), ("P-1", b"{")])
    assert wait_idle(s, quiet_s=0.2, timeout=5) == (1, 1)
    with pytest.raises(IngestError, match="did not catch up"):
        wait_idle(s, expected_batches=5, timeout=0.3)
