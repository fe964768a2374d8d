"""One asset's pending telemetry as samples: binary arrays from the database, pivoted by time.

The detection service reads each asset's new readings as three arrays in PostgreSQL's binary
array format (``array_send``): reading times, sensor ids and values, in time order (and, within
one time, by descending sensor id: the order of a backward scan of the telemetry index). This
module turns them into *samples*, all readings of the asset at one timestamp, with numpy
instead of one Python object per reading:

* a sample is a run of equal times; its sensors are listed in ascending sensor id;
* where every sample carries the same sensors (the common case), the values are one reshape;
  otherwise each sample is sliced on its own;
* when the read hit its row limit, the newest time may be cut off part-way, so that sample is
  left for the next read (unless it is the only one: a sample with more readings than the
  limit is cut to the limit).

:func:`pivot` is checked against a plain Python pivot of the same readings in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import numpy as np

__all__ = ["SampleBlock", "decode_array", "pivot"]

#: PostgreSQL's timestamp epoch (binary timestamps count microseconds from it)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_ELEMENT = {"int8": ">i8", "int4": ">i4", "float8": ">f8"}


@dataclass
class SampleBlock:
    """Samples of one asset, oldest first: ``times[k]`` has sensors ``sensor_ids[k]`` with
    ``values[k]`` (same order). ``truncated`` is true when more readings may follow."""

    times: list[datetime]
    sensor_ids: list[tuple[int, ...]]
    values: list[list[float]]
    truncated: bool

    def __len__(self) -> int:
        return len(self.times)


def decode_array(payload: bytes, element: str) -> np.ndarray:
    """The elements of a one-dimensional PostgreSQL binary array without nulls.

    ``element`` is ``"int8"`` (also timestamps: microseconds since 2000-01-01), ``"int4"`` or
    ``"float8"``. Raises ``ValueError`` on a null element or another shape.
    """
    view = memoryview(payload)
    ndim, has_null = np.frombuffer(view[:8], dtype=">i4")
    if ndim == 0:
        return np.empty(0, dtype=_ELEMENT[element][1:])
    if ndim != 1 or has_null:
        raise ValueError("expected a one-dimensional array without nulls")
    layout = np.dtype([("length", ">i4"), ("value", _ELEMENT[element])])
    cells = np.frombuffer(view[20:], dtype=layout)
    return cells["value"].astype(_ELEMENT[element][1:])


def pivot(times_us: np.ndarray, sensor_ids: np.ndarray, values: np.ndarray,
          truncated: bool) -> SampleBlock:
    """Group readings (time ascending, sensor id descending within a time) into samples.

    ``times_us`` are microseconds since 2000-01-01 (PostgreSQL's binary timestamps);
    ``truncated`` says the read stopped at its row limit, so the newest time may be partial.
    """
    n = len(times_us)
    if n == 0:
        return SampleBlock([], [], [], False)
    if n > 1 and not _in_order(times_us, sensor_ids):  # the query's order, should it change
        order = np.lexsort((-sensor_ids.astype(np.int64), times_us))
        times_us, sensor_ids, values = times_us[order], sensor_ids[order], values[order]
    starts = np.flatnonzero(np.concatenate(([True], times_us[1:] != times_us[:-1])))
    if truncated and len(starts) > 1:  # the newest sample may be cut off: read it next time
        n = int(starts[-1])
        starts = starts[:-1]
        times_us, sensor_ids, values = times_us[:n], sensor_ids[:n], values[:n]
    stamps = _datetimes(times_us[starts])
    width = n // len(starts)
    if width * len(starts) == n and bool(np.all(np.diff(starts) == width)):
        ids = sensor_ids.reshape(-1, width)
        if bool(np.all(ids == ids[0])):  # every sample has the same sensors
            pattern = tuple(ids[0, ::-1].tolist())
            rows = values.reshape(-1, width)[:, ::-1].tolist()
            return SampleBlock(stamps, [pattern] * len(rows), rows, truncated)
    bounds = np.append(starts, n).tolist()
    patterns: list[tuple[int, ...]] = []
    rows = []
    for a, b in pairwise(bounds):
        patterns.append(tuple(sensor_ids[a:b][::-1].tolist()))
        rows.append(values[a:b][::-1].tolist())
    return SampleBlock(stamps, patterns, rows, truncated)


def _in_order(times_us: np.ndarray, sensor_ids: np.ndarray) -> bool:
    """True when readings are by time ascending and, within a time, sensor id descending."""
    later = times_us[1:] > times_us[:-1]
    same = times_us[1:] == times_us[:-1]
    return bool(np.all(later | (same & (sensor_ids[1:] < sensor_ids[:-1]))))


def _datetimes(times_us: np.ndarray) -> list[datetime]:
    """Timezone-aware UTC datetimes of PostgreSQL binary timestamps (microseconds, exact)."""
    epoch, span = _PG_EPOCH, timedelta
    return [epoch + span(0, 0, us) for us in times_us.tolist()]
