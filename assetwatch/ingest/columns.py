"""Telemetry decoded straight into columns: the ingest hot path of the wire format.

:func:`decode_columns` accepts exactly the payloads :func:`assetwatch.core.wire.decode_batch`
accepts and yields the same readings, as numpy columns ready for binary COPY. It parses with
orjson and checks whole columns at once; whenever anything is off it hands the payload to
``wire.decode_batch``, which then either raises :class:`~assetwatch.core.wire.WireError` with
the precise reason or (for the few inputs the fast path declines, such as integers beyond
64 bits) accepts it. So the rules live in one place, ``wire.py``, and the tests check that
both decoders agree on thousands of generated payloads.

Sensor names are dictionary-encoded on the way: a batch repeats the same few names every
tick, so each distinct name is kept once and every reading gets its index (``codes``).
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
    """One telemetry batch, ``(asset, seq)``, as columns of equal length.

    Sensors are dictionary-encoded: ``names`` holds each distinct name once (in order of
    first appearance) and ``codes`` the index into ``names`` of every reading.
    """

    asset: str
    seq: int
    ts_ms: np.ndarray  # int64, milliseconds since the Unix epoch
    names: Sequence[str]
    codes: np.ndarray  # int32, index into ``names``
    values: np.ndarray  # float64, finite
    period: int = 0  # names repeat in this order every ``period`` readings (0: not known to)

    def __len__(self) -> int:
        return len(self.codes)

    @classmethod
    def from_readings(cls, asset: str, seq: int, ts: Sequence[int], sensors: Sequence[str],
                      values: Sequence[float] | np.ndarray) -> ColumnBatch:
        names, codes, period = _encode_names(sensors)
        return cls(asset, seq, np.array(ts, dtype=np.int64), names, codes,
                   np.asarray(values, dtype=np.float64), period)

    @classmethod
    def from_batch(cls, batch: wire.TelemetryBatch) -> ColumnBatch:
        ts, sensors, values = zip(*batch.readings, strict=True)
        return cls.from_readings(batch.asset, batch.seq, ts, sensors, values)

    @property
    def sensors(self) -> list[str]:
        """The sensor name of every reading."""
        names = self.names
        return [names[c] for c in self.codes.tolist()]

    def sensor_ids(self, ids: dict[str, int]) -> np.ndarray:
        """The sensor of every reading mapped through ``ids`` (name -> sensor_id), as int32."""
        return np.array([ids[name] for name in self.names], dtype=np.int32)[self.codes]

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
    # Every reading has three items: a shorter one makes _THIRD raise (IndexError), so with
    # the sum right none is longer. A reading that is not a list but has three items (a
    # string, an object) leaves a non-integer in ``ts`` or raises (KeyError): declined below.
    if sum(map(len, raw)) != 3 * len(raw):
        return None
    ts = list(map(_FIRST, raw))
    sensors = list(map(_SECOND, raw))
    values = list(map(_THIRD, raw))
    ts_ms = np.array(ts)  # int64 only if every item is an int (or a bool: 0/1, too early)
    if ts_ms.dtype != np.int64 or ts_ms.min() < wire.MIN_TS_MS or ts_ms.max() > latest:
        return None
    if not set(map(type, values)) <= {int, float}:
        return None
    value_col = np.array(values, dtype=np.float64)
    if not np.isfinite(value_col).all():
        return None
    names, codes, period = _encode_names(sensors)
    if not all(map(_good_name, names)):
        return None
    return ColumnBatch(asset, seq, ts_ms, names, codes, value_col, period)


def _encode_names(sensors: Sequence[str]) -> tuple[list[str], np.ndarray, int]:
    """``(names, codes, period)`` of a sensor column: the distinct names in order of first
    appearance, each reading's index into them, and the number of names when they repeat in
    one order (the usual pattern, recognised with one comparison and no set of the whole
    column), else 0."""
    sensors = sensors if isinstance(sensors, list) else list(sensors)
    n = len(sensors)
    try:
        p = sensors.index(sensors[0], 1)
    except ValueError:
        p = n
    head = sensors[:p]
    if head * (n // p) + head[:n % p] == sensors and len(set(head)) == p:
        return head, np.arange(n, dtype=np.int32) % np.int32(p), p
    index = {name: i for i, name in enumerate(dict.fromkeys(sensors))}
    codes = np.fromiter(map(index.__getitem__, sensors), dtype=np.int32, count=n)
    return list(index), codes, 0
