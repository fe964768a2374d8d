"""Offline scoring of a CSV file with the same detector objects the service runs.

``score_csv`` feeds the rows to one detector in file order (score, then learn: no look-ahead)
and writes ``timestamp,score,event_start`` rows, one per input row, the timestamp as written in
the input. Warm-up rows score ``0``. ``event_start`` is 1 on the row where an alarm event
begins (its onset, see :class:`~assetwatch.models.monitoring.events.EventTracker`: the same
raise/clear levels, minimum duration and re-arm time as the service, on the rows' own
timestamps), else 0; an event is confirmed only after its minimum duration, so this column is
filled in once the file is scored (scores themselves never look ahead).

Unless ``warmup`` is given, it is the detector's default (400 rows) for files of 1,200
rows or more and a third of the rows for shorter files (at least 30), so that a short file is
still scored; only the row count is used for this, never a value ahead of the current row.
The output appears whole or not at all: it is written to a temporary file beside it and
renamed when every row has been scored.
"""

from __future__ import annotations

import csv
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assetwatch.models.detectors import DEFAULT_DETECTOR, make_detector
from assetwatch.models.monitoring.csvinput import read_rows
from assetwatch.models.monitoring.errors import CsvInputError
from assetwatch.models.monitoring.events import EventTracker

__all__ = ["OFFLINE_DETECTOR", "OfflineSummary", "score_csv"]


@dataclass(frozen=True)
class OfflineSummary:
    """What ``score_csv`` did: rows scored, of which warm-up rows, and the sensors seen."""

    rows: int
    warmup_rows: int
    sensors: tuple[str, ...]
    events: int = 0


#: offline scoring runs the service's default detector unless told otherwise
OFFLINE_DETECTOR = DEFAULT_DETECTOR


def score_csv(input_path: Path, output_path: Path, *, detector: str = OFFLINE_DETECTOR,
              timestamp_column: str | None = None, exclude: tuple[str, ...] = (),
              events: EventTracker | None = None, **params: Any) -> OfflineSummary:
    """Score every row of ``input_path`` into ``output_path`` (``timestamp,score,event_start``).

    ``events`` sets the alarm event rules (default: the service's, :class:`EventTracker`).

    ``params`` override the detector's parameters (for example ``warmup=200``). Raises
    :class:`CsvInputError` naming the line of the first bad row; nothing is written then.
    """
    if "warmup" not in params:
        default = make_detector(detector).warmup
        rows_in_file = sum(1 for _ in read_rows(Path(input_path), timestamp_column=timestamp_column,
                                                exclude=exclude))
        params = {**params, "warmup": max(30, min(default, rows_in_file // 3))}
    model = make_detector(detector, **params)
    output_path = Path(output_path)
    directory = output_path.parent if str(output_path.parent) else Path(".")
    if not directory.is_dir():
        raise CsvInputError(f"{output_path}: directory {directory} does not exist")
    tracker = events or EventTracker()
    scored: list[tuple[str, float, int]] = []  # (timestamp as written, score, event_start)
    onsets: dict[object, int] = {}  # onset time -> row index of the candidate's first row
    warm = 0
    sensors: set[str] = set()
    for row in read_rows(Path(input_path), timestamp_column=timestamp_column, exclude=exclude):
        score = model.score_learn_one(row.readings)
        if not model.is_warm or len(scored) < model.warmup:
            warm += 1
        sensors.update(row.readings)
        if score >= tracker.open_level and not tracker.is_active:
            onsets[row.timestamp] = len(scored)
        tracker.observe(row.timestamp, score, {})
        scored.append((row.timestamp_text, score, 0))
    count = 0
    for event in tracker.drain():
        index = onsets.get(event.started_at)
        if index is not None:
            text, score, _ = scored[index]
            scored[index] = (text, score, 1)
            count += 1
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output_path.name}.", suffix=".tmp",
                                    dir=directory)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["timestamp", "score", "event_start"])
            for text, score, start in scored:
                writer.writerow([text, f"{score:.6f}", start])
        os.replace(tmp_name, output_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    rows = len(scored)
    return OfflineSummary(rows=rows, warmup_rows=min(warm, rows), sensors=tuple(sorted(sensors)),
                          events=count)
