"""Pivoting an asset's readings into samples: the numpy path agrees with a plain pivot."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from assetwatch.models.monitoring.readings import decode_array, pivot, ready

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _us(t: datetime) -> int:
    return (t - PG_EPOCH) // timedelta(microseconds=1)


def _readings(samples: list[tuple[datetime, dict[int, float]]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readings in the query's order: time ascending, sensor id descending within a time."""
    rows = sorted(((_us(t), sid, v) for t, sample in samples for sid, v in sample.items()),
                  key=lambda r: (r[0], -r[1]))
    return (np.array([r[0] for r in rows], dtype=np.int64),
            np.array([r[1] for r in rows], dtype=np.int32),
            np.array([r[2] for r in rows], dtype=np.float64))


def _plain(samples: list[tuple[datetime, dict[int, float]]]
           ) -> list[tuple[datetime, dict[int, float]]]:
    return [(t, dict(s)) for t, s in samples]


def _as_list(block) -> list[tuple[datetime, dict[int, float]]]:
    assert all(len(ids) == len(set(ids)) for ids in block.sensor_ids)
    return [(t, dict(zip(ids, values, strict=True)))
            for t, ids, values in zip(block.times, block.sensor_ids, block.values, strict=True)]


def test_uniform_samples_pivot_like_the_plain_pivot() -> None:
    rng = random.Random(1)
    samples = [(T0 + timedelta(seconds=i, microseconds=7),
                {sid: rng.gauss(0, 1) for sid in (3, 11, 5, 8)}) for i in range(50)]
    block = pivot(*_readings(samples), truncated=False)
    assert _as_list(block) == _plain(samples)
    assert all(t.tzinfo is not None for t in block.times)
    assert not block.truncated


def test_samples_with_missing_and_extra_sensors_pivot_one_by_one() -> None:
    rng = random.Random(2)
    samples = []
    for i in range(40):
        sensors = [1, 2, 3, 4] if i % 7 else [1, 3]  # every 7th sample lacks two sensors
        if i == 13:
            sensors = [1, 2, 3, 4, 9]
        samples.append((T0 + timedelta(seconds=i), {s: rng.gauss(0, 1) for s in sensors}))
    assert _as_list(pivot(*_readings(samples), truncated=False)) == _plain(samples)


def test_a_truncated_read_leaves_the_newest_sample_for_the_next_read() -> None:
    samples = [(T0 + timedelta(seconds=i), {1: float(i), 2: -float(i)}) for i in range(5)]
    times, sensors, values = _readings(samples)
    cut = len(times) - 1  # the row limit split the newest sample
    block = pivot(times[:cut], sensors[:cut], values[:cut], truncated=True)
    assert _as_list(block) == _plain(samples[:4])
    assert block.truncated
    only = pivot(times[:1], sensors[:1], values[:1], truncated=True)  # nothing else to take
    assert _as_list(only) == [(T0, {2: 0.0})]


def test_readings_out_of_order_are_put_in_order() -> None:
    samples = [(T0 + timedelta(seconds=i), {1: float(i), 4: 10.0 + i}) for i in range(6)]
    times, sensors, values = _readings(samples)
    order = np.random.default_rng(3).permutation(len(times))
    block = pivot(times[order], sensors[order], values[order], truncated=False)
    assert _as_list(block) == _plain(samples)


def test_no_readings_is_an_empty_block() -> None:
    empty = np.empty(0, dtype=np.int64)
    assert len(pivot(empty, empty.astype(np.int32), empty.astype(float), truncated=False)) == 0


def _pg_array(oid: int, fmt: str, values: list) -> bytes:
    """PostgreSQL's binary array format, as ``array_send`` writes it."""
    size = struct.calcsize(">" + fmt)
    head = struct.pack(">iiiii", 1, 0, oid, len(values), 1)
    return head + b"".join(struct.pack(">i" + fmt, size, v) for v in values)


def test_decode_array_reads_the_binary_array_format() -> None:
    assert decode_array(_pg_array(701, "d", [1.5, -2.0]), "float8").tolist() == [1.5, -2.0]
    assert decode_array(_pg_array(23, "i", [7, 9, 11]), "int4").tolist() == [7, 9, 11]
    assert decode_array(struct.pack(">iii", 0, 0, 20), "int8").tolist() == []
    with pytest.raises(ValueError, match="without nulls"):
        decode_array(struct.pack(">iiiii", 1, 1, 701, 1, 1) + struct.pack(">i", -1), "float8")


def test_a_recent_incomplete_sample_and_those_after_it_wait() -> None:
    samples = [(T0 + timedelta(seconds=i), {1: 1.0, 2: 2.0, 3: 3.0}) for i in range(6)]
    del samples[3][1][2]  # the fourth sample lacks a sensor so far
    block = pivot(*_readings(samples), truncated=True)
    waiting = ready(block, 3, horizon=T0 + timedelta(seconds=2.5))
    assert _as_list(waiting) == _plain(samples[:3]) and not waiting.truncated
    assert ready(block, 3, horizon=T0 + timedelta(seconds=3)) is block  # old enough: as is
    complete = pivot(*_readings(samples[4:]), truncated=False)
    assert ready(complete, 3, horizon=T0) is complete  # complete samples never wait
    assert len(ready(complete, None, horizon=T0)) == 0  # sensors unknown: recent ones wait


def test_sample_times_are_exact_to_the_microsecond_and_aware() -> None:
    rng = random.Random(11)
    stamps = [PG_EPOCH + timedelta(microseconds=rng.randrange(-10**15, 10**16))
              for _ in range(300)]
    stamps += [T0 + timedelta(microseconds=1), PG_EPOCH, PG_EPOCH - timedelta(microseconds=1)]
    stamps = sorted(set(stamps))
    block = pivot(*_readings([(t, {1: 0.5}) for t in stamps]), truncated=False)
    assert block.times == stamps
    assert all(t.tzinfo is UTC for t in block.times)
