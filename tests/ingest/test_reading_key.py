"""Exactly once per reading: (asset, time, sensor) is stored once, the first value wins."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_support import SITE, Fleet, register, telemetry_counts
from session_databases import install_migrations

from assetwatch.core.migrate import migrate
from assetwatch.core.settings import Settings
from assetwatch.core.wire import topic_for
from assetwatch.ingest.inbound import classify
from assetwatch.ingest.readings import NewBatch, _drop_repeats, first_of_each
from assetwatch.ingest.writer import STORED, BatchWriter

T0 = int(time.time() * 1000) - 5 * 86_400_000
VIB, TEMP = "vibration_rms", "bearing_temp"


def _message(settings: Settings, seq: int, readings: list, asset: str = "P-1"):
    payload = json.dumps({"asset": asset, "seq": seq, "readings": readings}).encode()
    return classify(topic_for(settings.topic_prefix, SITE, asset, "telemetry"), payload,
                    settings.topic_prefix)


def _stored(settings: Settings, asset: str = "P-1") -> list[tuple[int, str, float]]:
    with psycopg.connect(settings.db_url) as conn:
        return [(int(r[0].timestamp() * 1000 + 0.5), r[1], r[2]) for r in conn.execute(
            "SELECT time, sensor, value FROM v_telemetry WHERE asset_tag = %s"
            " ORDER BY time, sensor", (asset,))]


def _ledger(settings: Settings) -> dict[int, tuple[int, int]]:
    with psycopg.connect(settings.db_url) as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT seq, readings, duplicate_readings FROM ingest_batch ORDER BY seq")}


@pytest.fixture
def fleet(fresh_settings: Settings) -> Fleet:
    return register(fresh_settings, ["P-1", "P-2"], broker=False)


@pytest.fixture
def writer(fleet: Fleet):
    with psycopg.connect(fleet.settings.db_url) as conn:
        yield BatchWriter(conn)


def test_a_reading_repeated_inside_a_batch_is_stored_once_first_value_wins(
        fleet: Fleet, writer: BatchWriter) -> None:
    s = fleet.settings
    readings = [[T0, VIB, 1.0], [T0, TEMP, 2.0], [T0, VIB, 9.0],  # VIB at T0 again
                [T0 + 1, VIB, 3.0], [T0 + 1, VIB, 9.5], [T0 + 1, TEMP, 4.0]]
    result = writer.write([_message(s, 1, readings)])
    assert result.outcomes == [STORED]
    assert (result.readings, result.duplicate_readings) == (4, 2)
    assert _stored(s) == [(T0, TEMP, 2.0), (T0, VIB, 1.0), (T0 + 1, TEMP, 4.0),
                          (T0 + 1, VIB, 3.0)]
    assert _ledger(s) == {1: (6, 2)}


def test_readings_resent_under_a_new_seq_are_skipped_and_counted(
        fleet: Fleet, writer: BatchWriter) -> None:
    s = fleet.settings
    first = [[T0 + k, VIB, float(k)] for k in range(10)]
    writer.write([_message(s, 1, first)])
    # a buggy device re-sends the last 4 readings (other values) with 3 new ones, as seq 2
    resent = [[T0 + k, VIB, 100.0 + k] for k in range(6, 13)]
    result = writer.write([_message(s, 2, resent)])
    assert (result.batches, result.readings, result.duplicate_readings) == (1, 3, 4)
    assert _stored(s) == [(T0 + k, VIB, float(k)) for k in range(10)] + [
        (T0 + k, VIB, 100.0 + k) for k in range(10, 13)]
    assert _ledger(s) == {1: (10, 0), 2: (7, 4)}
    assert telemetry_counts(s) == (13, 13, 2)


def test_overlapping_batches_in_one_group_lower_seq_wins(fleet: Fleet,
                                                         writer: BatchWriter) -> None:
    s = fleet.settings
    group = [_message(s, 5, [[T0 + k, TEMP, 50.0 + k] for k in range(3, 8)]),
             _message(s, 4, [[T0 + k, TEMP, 40.0 + k] for k in range(0, 5)]),
             _message(s, 1, [[T0, TEMP, 1.0]], asset="P-2")]
    result = writer.write(group)
    assert result.outcomes == [STORED] * 3
    assert (result.readings, result.duplicate_readings) == (9, 2)
    assert [v for _, _, v in _stored(s)] == [40.0, 41.0, 42.0, 43.0, 44.0, 55.0, 56.0, 57.0]
    assert _ledger(s)[5] == (5, 2) and _ledger(s)[4] == (5, 0)


def test_repeats_are_counted_in_the_ingest_health_view(fleet: Fleet, writer: BatchWriter
                                                       ) -> None:
    s = fleet.settings
    writer.write([_message(s, 1, [[T0, VIB, 1.0], [T0, VIB, 2.0]])])
    writer.write([_message(s, 2, [[T0, VIB, 3.0], [T0 + 1, VIB, 4.0]])])
    with psycopg.connect(s.db_url) as conn:
        row = conn.execute("SELECT sum(readings), sum(duplicate_readings), sum(stored_readings),"
                           " sum(batches_with_duplicates) FROM v_ingest_rate").fetchone()
    assert row == (4, 2, 2, 2)


def test_two_writers_racing_on_the_same_readings_store_them_once(fleet: Fleet) -> None:
    s = fleet.settings
    readings = [[T0 + k // 2, (VIB, TEMP)[k % 2], float(k)] for k in range(4000)]
    results = []

    def write(seq: int) -> None:
        with psycopg.connect(s.db_url) as conn:
            results.append(BatchWriter(conn).write([_message(s, seq, readings)]))

    threads = [threading.Thread(target=write, args=(seq,)) for seq in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted((r.readings, r.duplicate_readings) for r in results) == [(0, 4000), (4000, 0)]
    assert telemetry_counts(s) == (4000, 4000, 2)


def test_the_unique_index_is_what_refuses_a_second_copy(fleet: Fleet,
                                                        writer: BatchWriter) -> None:
    """Without the index the same writes store a reading twice: the tests above can fail."""
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        conn.execute("DROP INDEX telemetry_reading")
    writer.write([_message(s, 1, [[T0, VIB, 1.0]])])
    writer.write([_message(s, 2, [[T0, VIB, 2.0]])])
    assert telemetry_counts(s)[:2] == (2, 1)


def test_the_key_index_serves_the_queries_that_read_telemetry_by_asset(fleet: Fleet,
                                                                      writer: BatchWriter
                                                                      ) -> None:
    s = fleet.settings
    writer.write([_message(s, seq, [[T0 + seq * 100 + k, VIB, 1.0] for k in range(100)])
                  for seq in range(50)])
    queries = [
        "SELECT max(t.time) FROM telemetry t WHERE t.asset_id = 1",
        "SELECT * FROM v_telemetry WHERE asset_id = 1 AND time >= now() - INTERVAL '6 days'"
        " ORDER BY time DESC LIMIT 10",
        "SELECT t.time, array_agg(t.sensor_id) FROM telemetry t WHERE t.asset_id = 1"
        " AND t.time > '2000-01-01' GROUP BY t.time ORDER BY t.time LIMIT 5",
        "SELECT 1 FROM telemetry t WHERE t.asset_id = 1 AND t.time > now() - INTERVAL '6 days'",
    ]
    with psycopg.connect(s.db_url) as conn:
        conn.execute("ANALYZE telemetry")
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask whether an index *can*
        for sql in queries:
            plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}"))
            assert "telemetry_reading" in plan, (sql, plan)


def test_migration_keeps_the_first_copy_of_readings_stored_twice(
        empty_settings: Settings) -> None:
    """A database migrated before the key existed, holding repeats, migrates cleanly."""
    install_migrations(empty_settings, lambda m: m.version < 13)
    with psycopg.connect(empty_settings.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO telemetry (time, asset_id, sensor_id, value) VALUES"
                     " ('2026-01-01T00:00Z', 1, 1, 1.0), ('2026-01-01T00:00Z', 1, 1, 2.0),"
                     " ('2026-01-01T00:00Z', 1, 2, 3.0), ('2026-01-05T00:00Z', 1, 1, 4.0),"
                     " ('2026-01-05T00:00Z', 1, 1, 5.0), ('2026-01-05T00:00Z', 1, 1, 6.0)")
    migrate(empty_settings)
    with psycopg.connect(empty_settings.db_url) as conn:
        assert conn.execute("SELECT value FROM telemetry ORDER BY time, sensor_id"
                            ).fetchall() == [(1.0,), (3.0,), (4.0,)]
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO telemetry VALUES ('2026-01-01T00:00Z', 1, 1, 9.0)")


# -- the numpy part, against a plain Python reference ----------------------------------------

def _reference(batches: list[NewBatch]) -> list[list[bool]]:
    seen: set[tuple[int, int, int]] = set()
    out = []
    for b in batches:
        keep = []
        for t, sensor in zip(b.ts_ms.tolist(), b.sensor_ids.tolist(), strict=True):
            key = (b.asset_id, t, sensor)
            keep.append(key not in seen)
            seen.add(key)
        out.append(keep)
    return out


_batch = st.tuples(st.integers(1, 2), st.lists(st.tuples(st.integers(0, 6), st.integers(1, 3)),
                                               min_size=1, max_size=12))


@settings(max_examples=400, deadline=None)
@given(st.lists(_batch, min_size=1, max_size=5))
def test_drop_repeats_keeps_exactly_the_first_of_each_reading(raw: list) -> None:
    raw = sorted(raw, key=lambda b: b[0])  # the writer hands batches over by asset, then seq
    batches = [NewBatch(asset, seq, np.array([t for t, _ in rows], dtype=np.int64),
                        np.array([s for _, s in rows], dtype=np.int32),
                        np.zeros(len(rows)))
               for seq, (asset, rows) in enumerate(raw)]
    keep, repeated = _drop_repeats(batches)
    got = [list(m) if m is not None else [True] * len(b) for m, b in zip(keep, batches,
                                                                         strict=True)]
    assert got == _reference(batches)
    assert repeated == [k.count(False) for k in _reference(batches)]


def test_periodic_batches_are_proven_unique_without_sorting() -> None:
    ts = np.repeat(np.arange(100, dtype=np.int64), 8)
    sensors = np.tile(np.arange(8, dtype=np.int32), 100)
    clean = NewBatch(1, 1, ts, sensors, np.zeros(800), period=8)
    assert _drop_repeats([clean]) == ([None], [0])
    ts[8:16] = 0  # the second tick repeats the first one's time: a repeat per sensor
    keep, repeated = _drop_repeats([NewBatch(1, 1, ts, sensors, np.zeros(800), period=8)])
    assert repeated == [8] and keep[0] is not None and not keep[0][8:16].any()
    assert first_of_each(np.array([5, 5, 5]), np.array([1, 2, 1])).tolist() == [True, True,
                                                                                  False]
