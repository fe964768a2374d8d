"""Telemetry decoded straight into columns: the ingest hot path of the wire format.

:func:`decode_columns` accepts exactly the payloads :func:`assetwatch.core.wire.decode_batch`
accepts and yields the same readings, as numpy columns ready for binary COPY. It parses with
orjson and checks whole columns at once; whenever anything is off it hands the payload to
``wire.decode_batch``, which then either raises :class:`~assetwatch.core.wire.WireError` with
the precise reason or (for the few inputs the fast path declines, such as integers beyond
64 bits) accepts it. So the rules live in one place, ``wire.py``, and the tests check that
both decoders agree on thousands of generated payloads.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np
import orjson

from assetwatch.core import wire

__all__ = ["ColumnBatch", "decode_columns"]

_FIRST, _SECOND, _THIRD = itemgetter(0), itemgetter(1), itemgetter(2)


@dataclass(slots=True, eq=False)
class ColumnBatch:
    """One telemetry batch, ``(asset, seq)``, as columns of equal length."""

    asset: str
    seq: int
    ts_ms: np.ndarray  # int64, milliseconds since the Unix epoch
    sensors: Sequence[str]
    values: np.ndarray  # float64, finite
    distinct_sensors: int = 0  # how many different names ``sensors`` holds (0: not counted)

    def __len__(self) -> int:
        return len(self.sensors)

    @classmethod
    def from_batch(cls, batch: wire.TelemetryBatch) -> ColumnBatch:
        ts, sensors, values = zip(*batch.readings, strict=True)
        return cls(batch.asset, batch.seq, np.array(ts, dtype=np.int64), sensors,
                   np.array(values, dtype=np.float64), len(set(sensors)))

    def sensor_ids(self, ids: dict[str, int]) -> np.ndarray:
        """The ``sensors`` column mapped through ``ids`` (name -> sensor_id), as int32.

        Batches usually repeat the same sensors in the same order every tick; that pattern is
        mapped once and tiled, anything else name by name.
        """
        n, period = len(self.sensors), self.distinct_sensors
        if period and n > period:
            reps = -(-n // period)
            head = list(self.sensors[:period])
            if (head * reps)[:n] == list(self.sensors):
                pattern = np.array([ids[s] for s in head], dtype=np.int32)
                return np.tile(pattern, reps)[:n]
        return np.fromiter(map(ids.__getitem__, self.sensors), dtype=np.int32, count=n)

    def readings(self) -> list[wire.Reading]:
        """The readings as ``wire`` represents them."""
        return list(zip(self.ts_ms.tolist(), self.sensors, self.values.tolist(), strict=True))


def decode_columns(payload: bytes, now_ms: int | None = None) -> ColumnBatch:
    """Validate a telemetry payload like ``wire.decode_batch``; raise its ``WireError``."""
    latest = (now_ms if now_ms is not None else int(time.time() * 1000)) + wire.MAX_FUTURE_MS
    try:
        batch = _fast(payload, latest)
    except (ValueError, TypeError, OverflowError, LookupError):
        batch = None
    if batch is None:
        return ColumnBatch.from_batch(wire.decode_batch(payload, now_ms))
    return batch


def _good_name(value: object) -> bool:
    return (type(value) is str and 0 < len(value) <= wire.MAX_NAME_CHARS
            and value.isprintable())


def _fast(payload: bytes, latest: int) -> ColumnBatch | None:
    """The common case in a few passes over the readings; ``None`` (or a ValueError or
    TypeError, caught by the caller) hands the payload to ``wire.decode_batch``."""
    if len(payload) > wire.MAX_PAYLOAD_BYTES:
        return None
    doc = orjson.loads(payload)
    if type(doc) is not dict:
        return None
    asset, seq, raw = doc.get("asset"), doc.get("seq"), doc.get("readings")
    if not _good_name(asset) or type(seq) is not int or not 0 <= seq < 2**63:
        return None
    if type(raw) is not list or not 0 < len(raw) <= wire.MAX_READINGS_PER_BATCH:
        return None
    if set(map(len, raw)) != {3}:
        return None
    # A reading that is not a list but has three items (a string, an object) leaves a
    # non-integer in ``ts`` or raises (KeyError), so it is declined below.
    ts = list(map(_FIRST, raw))
    sensors = list(map(_SECOND, raw))
    values = list(map(_THIRD, raw))
    ts_ms = np.array(ts)  # int64 only if every item is an int (or a bool: 0/1, too early)
    if ts_ms.dtype != np.int64 or ts_ms.min() < wire.MIN_TS_MS or ts_ms.max() > latest:
        return None
    names = set(sensors)
    if not all(map(_good_name, names)):
        return None
    if not set(map(type, values)) <= {int, float}:
        return None
    value_col = np.array(values, dtype=np.float64)
    if not np.isfinite(value_col).all():
        return None
    return ColumnBatch(asset, seq, ts_ms, sensors, value_col, len(names))  # type: ignore[arg-type]
