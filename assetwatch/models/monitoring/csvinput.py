"""Reading timestamped readings from a CSV file, with errors that name the line.

The file has a header row with a timestamp column (``timestamp``; else ``datetime``, ``time``,
``date`` or ``ts``) and one or more numeric columns, one per sensor. The delimiter is ``,``, ``;``
or a tab, taken from the header; in a ``;`` or tab separated file a decimal comma (``12,5``) is
read as a decimal point. Timestamps are ISO 8601 (naive means UTC), epoch seconds (epoch
milliseconds when larger than 1e11) or one of a few common day/month layouts. An empty
cell, ``nan``, ``NA`` or ``null`` is a missing reading (detectors tolerate it). Label
columns (``anomaly``, ``changepoint``, ``label``, ``labels``, ``is_anomaly``) are never used
as sensors, so a labelled file cannot leak its answers into the scores.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assetwatch.models.monitoring.errors import CsvInputError

__all__ = ["LABEL_COLUMNS", "CsvRow", "parse_timestamp", "read_rows"]

LABEL_COLUMNS = frozenset({"anomaly", "changepoint", "label", "labels", "is_anomaly"})
_TIMESTAMP_COLUMNS = ("timestamp", "datetime", "time", "date", "ts")
_MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})


@dataclass(frozen=True)
class CsvRow:
    """One data row: its line number, timestamp as written and parsed, and its readings."""

    line: int
    timestamp_text: str
    timestamp: datetime
    readings: dict[str, float]


_OTHER_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
)


def parse_timestamp(text: str) -> datetime:
    """An aware datetime from ISO 8601 or epoch seconds / milliseconds; ``ValueError`` if not.

    A few common day-first and month-first layouts (``31/12/2024 23:59:59``,
    ``12/31/2024 23:59``, ``31.12.2024 23:59``, ``2024/12/31 23:59``) are accepted too; when a
    date reads both ways the day-first reading wins (offline scoring only echoes timestamps).
    """
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = _other_layouts(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if not math.isfinite(number):
        raise ValueError(f"not a timestamp: {text!r}")
    if abs(number) > 1e11:
        number /= 1000.0
    return datetime.fromtimestamp(number, tz=UTC)


def _other_layouts(text: str) -> datetime:
    for layout in _OTHER_FORMATS:
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    raise ValueError(f"not a timestamp: {text!r}")


def _number(cell: str, decimal_comma: bool) -> float:
    try:
        return float(cell)
    except ValueError:
        if decimal_comma and cell.count(",") == 1:
            return float(cell.replace(",", "."))
        raise


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(path: Path, *, timestamp_column: str | None = None,
              exclude: Sequence[str] = ()) -> Iterator[CsvRow]:
    """Yield the rows of ``path`` in file order; raise :class:`CsvInputError` at a bad one.

    Blank lines are skipped. A row with the wrong number of fields, an unparseable timestamp
    or a non-numeric reading stops reading with ``FILE:LINE: reason``.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise CsvInputError(f"{path}: cannot read ({e.strerror})") from None
    with handle:
        header_line = handle.readline()
        if not header_line.strip():
            raise CsvInputError(f"{path}:1: empty file, expected a header row")
        delimiter = _delimiter(header_line)
        header = [h.strip() for h in next(csv.reader([header_line], delimiter=delimiter))]
        ts_index = _timestamp_index(path, header, timestamp_column)
        skip = {c.lower() for c in exclude} | LABEL_COLUMNS
        sensors = [(i, name) for i, name in enumerate(header)
                   if i != ts_index and name.lower() not in skip]
        if not sensors:
            raise CsvInputError(f"{path}:1: no sensor columns besides {header[ts_index]!r}")
        decimal_comma = delimiter != ","  # '12,5' in a ';' or tab separated file
        reader = csv.reader(handle, delimiter=delimiter)
        for fields in reader:
            line = reader.line_num + 1  # the header, read apart, is line 1
            if not fields or all(not f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise CsvInputError(
                    f"{path}:{line}: expected {len(header)} fields, found {len(fields)}")
            text = fields[ts_index].strip()
            try:
                timestamp = parse_timestamp(text)
            except (ValueError, OverflowError, OSError):
                raise CsvInputError(f"{path}:{line}: bad timestamp {text!r}") from None
            readings: dict[str, float] = {}
            for i, name in sensors:
                cell = fields[i].strip()
                if cell.lower() in _MISSING:
                    continue
                try:
                    value = _number(cell, decimal_comma)
                except ValueError:
                    raise CsvInputError(
                        f"{path}:{line}: column {name!r}: not a number: {cell!r}") from None
                if math.isfinite(value):
                    readings[name] = value
            yield CsvRow(line, text, timestamp, readings)


def _timestamp_index(path: Path, header: list[str], wanted: str | None) -> int:
    lowered = [h.lower() for h in header]
    candidates = (wanted,) if wanted else _TIMESTAMP_COLUMNS
    for name in candidates:
        if name and name.lower() in lowered:
            return lowered.index(name.lower())
    raise CsvInputError(
        f"{path}:1: no timestamp column (looked for {', '.join(repr(c) for c in candidates)})")
