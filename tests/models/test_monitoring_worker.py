"""The detection service against the real TimescaleDB: warm-up, checkpoints, ownership, events."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.models.detectors import DEFAULT_DETECTOR
from assetwatch.models.monitoring import store
from assetwatch.models.monitoring.worker import DetectionWorker, ScoringSummary, score_pending

pytestmark = pytest.mark.integration

SENSORS = [("flow", "m3/h"), ("pressure", "bar"), ("temp", "degC"), ("current", "A")]
WARMUP = 50
PARAMS = {"detector_params": {"warmup": WARMUP}, "settle_s": 0.0, "rearm_s": 10.0}


def _fleet(settings: Settings, tags: list[str]) -> dict[str, int]:
    with psycopg.connect(settings.db_url) as conn:
        return register_fleet(
            conn, [("S1", "Site one", None, 24)], [("CP-T", "centrifugal_pump", None)],
            [AssetSpec(tag, "S1", "CP-T", SENSORS) for tag in tags])


def _sample(rng: random.Random, fault: float = 0.0) -> dict[str, float]:
    return {"flow": 30 + rng.gauss(0, 1) - fault, "pressure": 6 + rng.gauss(0, 0.05),
            "temp": 60 + rng.gauss(0, 0.3), "current": 40 + rng.gauss(0, 0.4)}


def _insert(settings: Settings, asset_id: int, start: datetime,
            samples: list[dict[str, float]]) -> None:
    with psycopg.connect(settings.db_url) as conn:
        ids = dict(conn.execute("SELECT name, sensor_id FROM sensor WHERE asset_id = %s",
                                (asset_id,)).fetchall())
        with conn.cursor().copy(
                "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN") as copy:
            for i, sample in enumerate(samples):
                for name, value in sample.items():
                    copy.write_row((start + timedelta(seconds=i), asset_id, ids[name], value))


def _scores(settings: Settings, asset_id: int) -> list[tuple[datetime, float]]:
    with psycopg.connect(settings.db_url) as conn:
        return conn.execute("SELECT time, score FROM anomaly_score WHERE asset_id = %s"
                            " ORDER BY time", (asset_id,)).fetchall()


def test_warmup_writes_no_scores_then_scores_every_sample(fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["P-1"])
    rng = random.Random(1)
    start = datetime.now(UTC) - timedelta(hours=1)
    _insert(fresh_settings, ids["P-1"], start, [_sample(rng) for _ in range(WARMUP - 1)])
    first = score_pending(fresh_settings, **PARAMS)
    assert (first.samples, first.scores) == (WARMUP - 1, 0)
    with psycopg.connect(fresh_settings.db_url) as conn:
        assert conn.execute("SELECT samples, warm FROM v_detector_status").fetchone() == (
            WARMUP - 1, False)
    _insert(fresh_settings, ids["P-1"], start + timedelta(seconds=WARMUP - 1),
            [_sample(rng) for _ in range(31)])
    second = score_pending(fresh_settings, **PARAMS)
    assert (second.samples, second.scores) == (31, 30)  # the 50th sample ends warm-up
    assert score_pending(fresh_settings, **PARAMS).samples == 0  # nothing twice
    assert len(_scores(fresh_settings, ids["P-1"])) == 30


def test_checkpoint_restore_gives_identical_scores(fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["A", "B"])
    rng = random.Random(9)
    samples = [_sample(rng, fault=6.0 if 150 <= i < 180 else 0.0) for i in range(240)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _insert(fresh_settings, ids["A"], start, samples)  # A: scored in one go
    _insert(fresh_settings, ids["B"], start, samples[:WARMUP + 37])  # B: in three restarts
    score_pending(fresh_settings, **PARAMS)
    _insert(fresh_settings, ids["B"], start + timedelta(seconds=WARMUP + 37),
            samples[WARMUP + 37:160])
    score_pending(fresh_settings, **PARAMS)
    _insert(fresh_settings, ids["B"], start + timedelta(seconds=160), samples[160:])
    score_pending(fresh_settings, **PARAMS)
    a, b = _scores(fresh_settings, ids["A"]), _scores(fresh_settings, ids["B"])
    assert len(a) == 240 - WARMUP
    assert a == b
    assert max(s for _, s in a) >= 0.9
    with psycopg.connect(fresh_settings.db_url) as conn:
        events = conn.execute(
            "SELECT asset_id, kind, started_at, ended_at, peak_score, sensors FROM anomaly_event"
            " WHERE kind = 'anomaly' ORDER BY asset_id").fetchall()
    assert len(events) == 2
    (_, kind_a, *rest_a), (_, kind_b, *rest_b) = events
    assert kind_a == kind_b == "anomaly" and rest_a == rest_b
    started, ended, _, sensors = rest_a
    assert start + timedelta(seconds=150) <= started < start + timedelta(seconds=170)
    assert ended is not None and sensors[0] == "flow"


def test_partitioned_workers_split_the_fleet(fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, [f"P-{i}" for i in range(6)])
    rng = random.Random(4)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for asset_id in ids.values():
        _insert(fresh_settings, asset_id, start, [_sample(rng) for _ in range(WARMUP + 10)])
    even = score_pending(fresh_settings, worker=0, workers=2, **PARAMS)
    odd = score_pending(fresh_settings, worker=1, workers=2, **PARAMS)
    assert even.assets == odd.assets == 3
    with psycopg.connect(fresh_settings.db_url) as conn:
        rows = conn.execute("SELECT asset_id % 2, count(DISTINCT asset_id), count(*)"
                            " FROM anomaly_score GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [(0, 3, 30), (1, 3, 30)]


def test_an_asset_locked_by_another_worker_is_skipped(fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["L-1", "L-2"])
    rng = random.Random(5)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for asset_id in ids.values():
        _insert(fresh_settings, asset_id, start, [_sample(rng) for _ in range(WARMUP + 5)])
    with psycopg.connect(fresh_settings.db_url) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                      (store.lock_class(DEFAULT_DETECTOR), ids["L-1"]))
        summary = score_pending(fresh_settings, **PARAMS)
        assert summary.assets_locked_elsewhere == 1 and summary.assets == 1
    assert score_pending(fresh_settings, **PARAMS).assets == 1  # released: its turn now
    assert len(_scores(fresh_settings, ids["L-1"])) == 5


def test_misconfigured_concurrent_workers_never_score_the_same_sample(
        fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, [f"C-{i}" for i in range(12)])
    rng = random.Random(6)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    total = 0
    for asset_id in ids.values():
        _insert(fresh_settings, asset_id, start, [_sample(rng) for _ in range(WARMUP + 40)])
        total += WARMUP + 40
    summaries: list[ScoringSummary] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        # both think they are worker 0 of 1: only the locks keep them apart
        with DetectionWorker(fresh_settings, chunk_assets=1, max_samples=30, **PARAMS) as w:
            barrier.wait()
            got = ScoringSummary()
            for _ in range(10):
                got += w.score_pending()
            summaries.append(got)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sum(s.samples for s in summaries) == total  # each sample learned exactly once
    with psycopg.connect(fresh_settings.db_url) as conn:
        assert conn.execute("SELECT count(*), sum(samples) FROM detector_checkpoint"
                            ).fetchone() == (12, total)
        assert conn.execute("SELECT count(*) FROM anomaly_score").fetchone() == (12 * 40,)


def test_silent_asset_gets_a_stale_event_closed_by_its_next_reading(
        fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["Q-1"])
    rng = random.Random(8)
    old = datetime.now(UTC) - timedelta(minutes=10)
    _insert(fresh_settings, ids["Q-1"], old, [_sample(rng) for _ in range(WARMUP + 5)])
    first = score_pending(fresh_settings, stale_after_s=60, **PARAMS)
    assert first.stale_opened == 1
    assert score_pending(fresh_settings, stale_after_s=60, **PARAMS).stale_opened == 0
    resumed = datetime.now(UTC) - timedelta(seconds=5)
    _insert(fresh_settings, ids["Q-1"], resumed, [_sample(rng) for _ in range(3)])
    score_pending(fresh_settings, stale_after_s=60, **PARAMS)
    with psycopg.connect(fresh_settings.db_url) as conn:
        kind, started, ended = conn.execute(
            "SELECT kind, started_at, ended_at FROM anomaly_event").fetchone()
    assert kind == "stale"
    assert started == old + timedelta(seconds=WARMUP + 4)
    assert ended == resumed


def test_staleness_follows_each_assets_own_reporting_interval(fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["SLOW-1"])
    rng = random.Random(10)
    n = WARMUP + 5
    start = datetime.now(UTC) - timedelta(minutes=30) - timedelta(minutes=15) * (n - 1)
    with psycopg.connect(fresh_settings.db_url) as conn:
        ids_by_name = dict(conn.execute("SELECT name, sensor_id FROM sensor WHERE asset_id = %s",
                                        (ids["SLOW-1"],)).fetchall())
        with conn.cursor().copy("COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN"
                                ) as copy:
            for i in range(n):
                for name, value in _sample(rng).items():
                    copy.write_row((start + timedelta(minutes=15) * i, ids["SLOW-1"],
                                    ids_by_name[name], value))
    # silent for 30 minutes: two of its 15-minute intervals, not ten
    assert score_pending(fresh_settings, stale_after_s=60, **PARAMS).stale_opened == 0
    with psycopg.connect(fresh_settings.db_url) as conn:
        interval = conn.execute("SELECT sample_interval_s FROM detector_checkpoint").fetchone()
    assert interval == (pytest.approx(900.0),)


def test_worker_reloads_a_state_another_worker_advanced(fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["X", "TWIN"])
    rng = random.Random(12)
    samples = [_sample(rng, fault=5.0 if 120 <= i < 140 else 0.0) for i in range(200)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _insert(fresh_settings, ids["TWIN"], start, samples)
    with DetectionWorker(fresh_settings, **PARAMS) as first, \
            DetectionWorker(fresh_settings, **PARAMS) as second:
        for lo, hi, worker in ((0, 80, first), (80, 130, second), (130, 200, first)):
            _insert(fresh_settings, ids["X"], start + timedelta(seconds=lo), samples[lo:hi])
            worker.score_pending()  # `first` holds a cached state that `second` made stale
    assert _scores(fresh_settings, ids["X"]) == _scores(fresh_settings, ids["TWIN"])


def test_status_command_summarises_detectors(fresh_settings: Settings, monkeypatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from assetwatch import cli

    ids = _fleet(fresh_settings, ["ST-1", "ST-2"])
    rng = random.Random(13)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _insert(fresh_settings, ids["ST-1"], start, [_sample(rng) for _ in range(WARMUP + 3)])
    _insert(fresh_settings, ids["ST-2"], start, [_sample(rng) for _ in range(10)])
    score_pending(fresh_settings, **PARAMS)
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("assetwatch.models.commands",))
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["detect", "status"]) == 0
    out = capsys.readouterr().out
    assert DEFAULT_DETECTOR in out and "learning" in out
    line = next(row for row in out.splitlines() if DEFAULT_DETECTOR in row)
    assert [cell.strip() for cell in line.split("│") if cell.strip()][:4] == [
        DEFAULT_DETECTOR, "2", "1", "1"]


def test_catch_up_runs_as_many_transactions_as_the_backlog_needs(
        fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["BIG", "SMALL"])
    rng = random.Random(14)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _insert(fresh_settings, ids["BIG"], start, [_sample(rng) for _ in range(420)])
    _insert(fresh_settings, ids["SMALL"], start, [_sample(rng) for _ in range(60)])
    summary = score_pending(fresh_settings, max_samples=100, **PARAMS)  # 50 per asset a go
    assert summary.samples == 480
    assert len(_scores(fresh_settings, ids["BIG"])) == 420 - WARMUP


def test_a_database_without_the_detection_schema_is_one_clear_error(
        make_database, base_settings: Settings) -> None:
    from assetwatch.models.monitoring.errors import DetectionError

    fresh = make_database()
    with psycopg.connect(fresh.db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 21")
    with pytest.raises(DetectionError, match=r"lacks schema migration\(s\) 0021; run "
                                             r"'assetwatch db migrate'"):
        score_pending(fresh)


def test_scores_carry_the_operating_state_and_a_stop_raises_nothing(
        fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["ST-STOP"])
    rng = random.Random(15)
    running = [_sample(rng) for _ in range(WARMUP + 30)]
    stopped = [{"flow": 0.0, "pressure": 1.0, "temp": 25.0, "current": 0.0} for _ in range(40)]
    again = [_sample(rng) for _ in range(40)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _insert(fresh_settings, ids["ST-STOP"], start, running + stopped + again)
    score_pending(fresh_settings, transient_s=10.0, **PARAMS)
    with psycopg.connect(fresh_settings.db_url) as conn:
        periods = conn.execute(
            "SELECT state, count(*), max(score) FROM v_anomaly_score GROUP BY state"
            " ORDER BY state").fetchall()
        events = conn.execute("SELECT count(*) FROM anomaly_event WHERE kind = 'anomaly'"
                              ).fetchone()
    by_state = {state: (count, peak) for state, count, peak in periods}
    assert set(by_state) == {"running", "stopping", "stopped", "starting"}
    assert by_state["stopping"][0] == 10 and by_state["starting"][0] == 10
    assert by_state["stopped"] == (30, 0.0)
    assert events == (0,)
    # without operating states the same stream alarms
    ids = _fleet(fresh_settings, ["ST-PLAIN"])
    _insert(fresh_settings, ids["ST-PLAIN"], start, running + stopped + again)
    score_pending(fresh_settings, operating_states=False, **PARAMS)
    with psycopg.connect(fresh_settings.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM anomaly_event WHERE kind = 'anomaly'"
                            " AND asset_id = %s", (ids["ST-PLAIN"],)).fetchone()[0] >= 1


def test_scores_already_stored_are_skipped_not_an_error(fresh_settings: Settings) -> None:
    ids = _fleet(fresh_settings, ["DUP"])
    t = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [(t + timedelta(seconds=i), ids["DUP"], 0.5, "running", 0) for i in range(3)]
    with psycopg.connect(fresh_settings.db_url) as conn:
        assert store.insert_scores(conn, "baseline", rows[:2]) == 2  # binary COPY
        assert store.insert_scores(conn, "baseline", rows) == 1  # one new: falls back
        conn.commit()
        assert conn.execute("SELECT count(*), count(*) FILTER (WHERE state = 'running')"
                            " FROM anomaly_score").fetchone() == (3, 3)


def _replaced_part_day(settings: Settings, tag: str, with_event: bool,
                       fault_after: bool = False) -> int:
    """Runs, stops for a part replacement that lowers the flow for good, runs again; return
    the anomaly events opened after the restart (a flow drop only with ``fault_after``)."""
    ids = _fleet(settings, [tag])
    rng = random.Random(16)
    before = [_sample(rng) for _ in range(WARMUP + 60)]
    stopped = [{"flow": 0.0, "pressure": 1.0, "temp": 25.0, "current": 0.0} for _ in range(30)]
    after = [_sample(rng, fault=2.5) for _ in range(80)]  # the new impeller: 2.5 less flow
    if fault_after:
        after += [_sample(rng, fault=9.0) for _ in range(40)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    _insert(settings, ids[tag], start, before + stopped + after)
    if with_event:
        with psycopg.connect(settings.db_url) as conn:
            conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind,"
                         " component_type) VALUES (%s, %s, %s, 'part_replaced', 'impeller')",
                         (f"{tag}-E1", ids[tag], start + timedelta(seconds=WARMUP + 75)))
    score_pending(settings, transient_s=5.0, slow_settle_s=0.0, **PARAMS)
    with psycopg.connect(settings.db_url) as conn:
        return conn.execute("SELECT count(*) FROM anomaly_event WHERE kind = 'anomaly'"
                            " AND asset_id = %s AND started_at > %s",
                            (ids[tag], start + timedelta(seconds=len(before)))).fetchone()[0]


def test_a_replaced_part_is_the_new_normal_and_a_later_fault_still_alarms(
        fresh_settings: Settings) -> None:
    assert _replaced_part_day(fresh_settings, "RP-NO-EVENT", with_event=False) >= 1
    assert _replaced_part_day(fresh_settings, "RP-EVENT", with_event=True) == 0
    assert _replaced_part_day(fresh_settings, "RP-FAULT", with_event=True, fault_after=True) >= 1


def test_worker_scores_as_the_per_sample_path_does_in_memory(fresh_settings: Settings) -> None:
    """Read in blocks, pivoted by numpy, over several rounds: the same scores, states and
    events as feeding the same samples one by one to a fresh asset state."""
    ids = _fleet(fresh_settings, ["EQ-1"])
    rng = random.Random(17)
    samples = []
    for i in range(300):
        sample = _sample(rng, fault=7.0 if 180 <= i < 215 else 0.0)
        if i % 9 == 4:
            del sample["temp"]  # a sensor missing now and then
        if i == 120:
            sample = {"flow": sample["flow"], "current": sample["current"]}
        samples.append(sample)
    start = datetime(2026, 3, 1, 0, 0, 0, 250_000, tzinfo=UTC)
    _insert(fresh_settings, ids["EQ-1"], start, samples)
    with DetectionWorker(fresh_settings, max_samples=60, record_commits=True,
                         **PARAMS) as worker:
        summary = worker.score_pending()  # at most 60 samples a transaction
        reference = worker.new_state()
    assert summary.samples == 300 and len(summary.score_commits) >= 5
    expected = []
    for i, sample in enumerate(samples):
        scored = reference.observe(start + timedelta(seconds=i), sample)
        if scored is not None:
            expected.append((start + timedelta(seconds=i), np.float32(scored[0]), *scored[1:]))
    events = [(e.started_at, e.ended_at, e.peak_at, e.sensors)
              for e in reference.events.drain()]
    with psycopg.connect(fresh_settings.db_url) as conn:
        stored = conn.execute("SELECT time, score, state, regime FROM anomaly_score"
                              " ORDER BY time").fetchall()
        stored_events = conn.execute(
            "SELECT started_at, ended_at, peak_at, sensors FROM anomaly_event"
            " WHERE kind = 'anomaly' ORDER BY started_at").fetchall()
    assert [(t, np.float32(score), *rest) for t, score, *rest in stored] == expected
    assert len(events) >= 1 and stored_events == events


def test_events_of_several_assets_are_written_together_each_with_its_id(
        fresh_settings: Settings) -> None:
    from assetwatch.core.db import connect
    from assetwatch.models.monitoring.events import EventRecord

    ids = _fleet(fresh_settings, ["P-1", "P-2"])
    a, b = ids["P-1"], ids["P-2"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [(a, EventRecord(start, 0.95, sensor_weights={"flow": 2.0, "amps": 1.0})),
              (b, EventRecord(start + timedelta(seconds=5), 0.91, state="running")),
              (a, EventRecord(start + timedelta(seconds=9), 0.99, ended_at=start
                              + timedelta(seconds=20), sensor_weights={"amps": 1.0}))]
    with connect(fresh_settings) as conn:
        assert store.write_events(conn, "ensemble", events) == 3
        stored = {r[0]: r[1:] for r in conn.execute(
            "SELECT anomaly_event_id, asset_id, started_at, ended_at, peak_score, sensors,"
            " state FROM anomaly_event").fetchall()}
        assert len({e.event_id for _, e in events}) == 3
        for asset_id, event in events:
            assert stored[event.event_id] == (asset_id, event.started_at, event.ended_at,
                                              pytest.approx(event.peak_score), event.sensors,
                                              event.state)
        first = events[0][1]
        first.ended_at, first.peak_score = start + timedelta(seconds=3), 0.97
        first.sensor_weights["amps"] = 5.0
        assert store.write_events(conn, "ensemble", events[:1]) == 0
        row = conn.execute("SELECT ended_at, peak_score, sensors FROM anomaly_event"
                           " WHERE anomaly_event_id = %s", (first.event_id,)).fetchone()
        assert row == (first.ended_at, pytest.approx(0.97), ["amps", "flow"])
        assert conn.execute("SELECT count(*) FROM anomaly_event").fetchone() == (3,)
