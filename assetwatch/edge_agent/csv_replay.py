"""CSV replay: a file of timestamped readings as a replayable source.

One row per line (quoted fields may not span lines). Two layouts, told apart by the header
(the delimiter ``,`` ``;`` or tab is detected):

* long: a timestamp column, ``sensor`` and ``value`` (and optionally ``asset``): one reading
  per row;
* wide: a timestamp column and one column per sensor (and optionally ``asset``): one sample
  per row; an empty cell means "no reading of that sensor in this row".

The timestamp column is ``timestamp``, ``ts``, ``time`` or ``datetime``: ISO 8601 (naive
times are UTC) or epoch numbers (milliseconds if above 10^11, else seconds). Rows without an
``asset`` column belong to the configured ``asset``. Original timestamps are kept; rows are
replayed as fast as possible or, with ``speed``, spaced by their timestamp gaps divided by
``speed``.

A row is parsed completely before any of its readings is handed out; a malformed row
(missing columns, unparsable timestamp or value, a non-finite value, an unknown asset) stops
the replay with :class:`~assetwatch.edge_agent.errors.CsvReplayError` naming the file and
line. The checkpoint is the byte offset of the next row, so a restarted agent resumes there.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from assetwatch.core.source import AssetIdentity, Sample, Source, SourceEvent
from assetwatch.edge_agent.errors import CsvReplayError

__all__ = ["CsvReplay"]

_TIME_COLUMNS = ("timestamp", "ts", "time", "datetime")


class CsvReplay(Source):
    """Replay readings from ``path`` for ``asset`` (at ``site_id``); see the module docstring.

    Parameters
    ----------
    path
        The CSV file.
    asset, site_id
        The asset the rows belong to (rows may name other assets in an ``asset`` column;
        those must be listed in ``assets`` as ``{asset_tag: site_id}``).
    speed
        Replay speed factor (``None``: as fast as possible).
    """

    def __init__(self, path: str | Path, asset: str, site_id: str,
                 speed: float | None = None, assets: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.asset = asset
        self.site_id = site_id
        self.speed = speed
        self._sites = {asset: site_id, **(assets or {})}
        self._offset = 0
        self._line = 0
        self._done = False
        self._last_ts: int | None = None
        self._wall: float | None = None
        self._clock = int(time.time() * 1000)
        try:
            self._file = self.path.open("rb")
        except OSError as e:
            raise CsvReplayError(f"{self.path}: cannot open ({e.strerror})") from None
        self._read_header()

    # -- Source -------------------------------------------------------------------------
    def assets(self) -> Sequence[AssetIdentity]:
        sensors = tuple(self._sensor_columns) if self._wide else ()
        return [AssetIdentity(tag, site, sensors) for tag, site in self._sites.items()]

    @property
    def exhausted(self) -> bool:
        return self._done

    def checkpoint(self) -> str | None:
        return json.dumps({"offset": self._offset, "line": self._line})

    def restore(self, checkpoint: str) -> None:
        state = json.loads(checkpoint)
        self._offset, self._line = int(state["offset"]), int(state["line"])
        self._file.seek(self._offset)
        self._done = False

    def clock_ms(self) -> int:
        return self._clock

    def close(self) -> None:
        self._file.close()

    def poll(self, max_readings: int, timeout_s: float) -> list[Sample | SourceEvent]:
        out: list[Sample | SourceEvent] = []
        budget = max_readings
        deadline = time.monotonic() + timeout_s
        while budget > 0 and not self._done:
            start = self._file.tell()
            raw = self._file.readline()
            if not raw:
                self._done = True
                break
            line_no = self._line + 1
            try:
                samples = self._parse(raw, line_no)
            except CsvReplayError:
                self._file.seek(start)
                if out:
                    break  # hand out the complete rows first; the next poll raises
                raise
            if samples and self.speed is not None and not self._wait(samples[0].ts_ms, deadline):
                self._file.seek(start)
                break
            self._line = line_no
            self._offset = self._file.tell()
            for s in samples:
                out.append(s)
                budget -= len(s.values)
                self._clock = s.ts_ms
        return out

    # -- parsing ------------------------------------------------------------------------
    def _read_header(self) -> None:
        raw = self._file.readline()
        self._line = 1
        self._offset = self._file.tell()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CsvReplayError(f"{self.path}:1: header is not UTF-8") from None
        if not text.strip():
            raise CsvReplayError(f"{self.path}:1: empty file, expected a header row")
        self._delimiter = max((",", ";", "\t"), key=text.count)
        header = [h.strip() for h in next(csv.reader([text], delimiter=self._delimiter))]
        lower = [h.lower() for h in header]
        time_col = next((c for c in _TIME_COLUMNS if c in lower), None)
        if time_col is None:
            raise CsvReplayError(f"{self.path}:1: missing a timestamp column (one of "
                                 f"{', '.join(_TIME_COLUMNS)})")
        self._width = len(header)
        self._time_idx = lower.index(time_col)
        self._asset_idx = lower.index("asset") if "asset" in lower else None
        self._wide = not ("sensor" in lower and "value" in lower)
        if self._wide:
            skip = {self._time_idx, self._asset_idx}
            self._sensor_columns = {header[i]: i for i in range(len(header)) if i not in skip}
            if not self._sensor_columns:
                raise CsvReplayError(f"{self.path}:1: no sensor columns (wide layout) and no "
                                     "sensor/value columns (long layout)")
        else:
            self._sensor_columns = {}
            self._sensor_idx = lower.index("sensor")
            self._value_idx = lower.index("value")

    def _parse(self, raw: bytes, line_no: int) -> list[Sample]:
        where = f"{self.path}:{line_no}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CsvReplayError(f"{where}: not UTF-8") from None
        if not text.strip():
            return []
        row = next(csv.reader([text], delimiter=self._delimiter))
        if len(row) != self._width:
            raise CsvReplayError(f"{where}: {len(row)} columns, the header has {self._width}")
        ts = _timestamp(row[self._time_idx].strip(), where)
        asset = self.asset
        if self._asset_idx is not None:
            asset = row[self._asset_idx].strip()
            if asset not in self._sites:
                raise CsvReplayError(f"{where}: unknown asset {asset!r}")
        if self._wide:
            values = []
            for name, i in self._sensor_columns.items():
                cell = row[i].strip()
                if cell:
                    values.append((name, _value(cell, f"{where}: column {name!r}")))
            return [Sample(asset, ts, values)] if values else []
        sensor = row[self._sensor_idx].strip()
        if not sensor:
            raise CsvReplayError(f"{where}: empty sensor name")
        return [Sample(asset, ts, [(sensor, _value(row[self._value_idx].strip(), where))])]

    def _wait(self, ts_ms: int, deadline: float) -> bool:
        """Pace the replay; False if the row is not due before ``deadline``."""
        now = time.monotonic()
        if self._last_ts is None or self._wall is None:
            self._last_ts, self._wall = ts_ms, now
            return True
        assert self.speed is not None
        due = self._wall + max(0, ts_ms - self._last_ts) / 1000 / self.speed
        if due > deadline:
            time.sleep(max(0.0, deadline - now))
            return False
        if due > now:
            time.sleep(due - now)
        self._last_ts, self._wall = ts_ms, due
        return True


def _timestamp(cell: str, where: str) -> int:
    if not cell:
        raise CsvReplayError(f"{where}: empty timestamp")
    try:
        number = float(cell)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise CsvReplayError(f"{where}: unparsable timestamp {cell!r}")
        return int(number if number > 1e11 else number * 1000)
    try:
        moment = datetime.fromisoformat(cell.replace("Z", "+00:00"))
    except ValueError:
        raise CsvReplayError(f"{where}: unparsable timestamp {cell!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _value(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise CsvReplayError(f"{where}: unparsable value {cell!r}") from None
    if not math.isfinite(value):
        raise CsvReplayError(f"{where}: value {cell!r} is not a finite number")
    return value
