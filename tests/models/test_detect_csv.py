"""Offline scoring of CSV files: same detectors, clear errors naming the line, whole output."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from assetwatch import cli
from assetwatch.models.detectors import make_detector
from assetwatch.models.monitoring.csvinput import parse_timestamp, read_rows
from assetwatch.models.monitoring.errors import CsvInputError
from assetwatch.models.monitoring.offline import score_csv


def _write(path: Path, rows: list[list[object]], delimiter: str = ",") -> Path:
    with path.open("w", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def _readings(n: int, fault_at: int | None = None) -> list[list[object]]:
    rng = random.Random(2)
    rows: list[list[object]] = [["timestamp", "flow", "pressure", "anomaly"]]
    for i in range(n):
        flow = 30 + rng.gauss(0, 1) + (8 if fault_at is not None and i >= fault_at else 0)
        rows.append([f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", round(flow, 4),
                     round(6 + rng.gauss(0, 0.1), 4), int(fault_at is not None and i >= fault_at)])
    return rows


def test_scores_every_row_with_the_same_detector_objects(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.csv", _readings(700, fault_at=600), delimiter=";")
    out = tmp_path / "scores.csv"
    summary = score_csv(source, out, detector="baseline", warmup=300)
    assert summary.rows == 700 and summary.warmup_rows == 300
    assert summary.sensors == ("flow", "pressure")  # the label column is never a sensor
    with out.open() as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp", "score", "event_start"] and len(rows) == 701
    assert rows[1][0] == "2026-01-01T00:00:00Z"
    scores = [float(r[1]) for r in rows[1:]]
    starts = [i for i, r in enumerate(rows[1:]) if r[2] == "1"]
    assert len(starts) == summary.events == 1 and 600 <= starts[0] < 640
    assert scores[starts[0]] >= 0.9 > max(scores[300:starts[0]])
    assert {r[2] for r in rows[1:]} == {"0", "1"}
    assert all(0.0 <= s <= 1.0 for s in scores) and all(s == 0.0 for s in scores[:300])
    assert max(scores[600:]) >= 0.9 > max(scores[300:600])
    # the same numbers as feeding the detector by hand
    det = make_detector("baseline", warmup=300)
    by_hand = [det.score_learn_one(r.readings) for r in read_rows(source)]
    assert scores == [float(f"{s:.6f}") for s in by_hand]


def test_bad_row_names_file_and_line_and_writes_nothing(tmp_path: Path) -> None:
    rows = _readings(50)
    rows[31][1] = "12,5x"
    source = _write(tmp_path / "bad.csv", rows)
    out = tmp_path / "out.csv"
    with pytest.raises(CsvInputError, match=r"bad\.csv:32: column 'flow': not a number"):
        score_csv(source, out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [source]  # no temporary file left behind


@pytest.mark.parametrize(("line", "expected"), [
    ("2026-01-01T00:00:00Z,1,2\nnot-a-time,1,2\n", r":3: bad timestamp 'not-a-time'"),
    ("2026-01-01T00:00:00Z,1,2\n2026-01-01T00:00:01Z,1\n", r":3: expected 3 fields, found 2"),
])
def test_malformed_rows(tmp_path: Path, line: str, expected: str) -> None:
    source = tmp_path / "x.csv"
    source.write_text("timestamp,a,b\n" + line)
    with pytest.raises(CsvInputError, match=expected):
        list(read_rows(source))


def test_header_problems(tmp_path: Path) -> None:
    no_ts = tmp_path / "no_ts.csv"
    no_ts.write_text("when,a\n1,2\n")
    with pytest.raises(CsvInputError, match=r"no_ts\.csv:1: no timestamp column"):
        list(read_rows(no_ts))
    only_ts = tmp_path / "only_ts.csv"
    only_ts.write_text("timestamp,anomaly\n1,0\n")
    with pytest.raises(CsvInputError, match="no sensor columns"):
        list(read_rows(only_ts))


def test_timestamps_and_missing_cells(tmp_path: Path) -> None:
    assert parse_timestamp("1700000000") == parse_timestamp("1700000000000")
    assert parse_timestamp("2023-11-14 22:13:20").isoformat() == "2023-11-14T22:13:20+00:00"
    source = tmp_path / "gaps.csv"
    source.write_text("timestamp;a;b\n1700000000;1.5;\n1700000001;nan;2\n\n1700000002;3;4\n")
    rows = list(read_rows(source))
    assert [r.readings for r in rows] == [{"a": 1.5}, {"b": 2.0}, {"a": 3.0, "b": 4.0}]
    assert [r.line for r in rows] == [2, 3, 5]
    assert not any(math.isnan(v) for r in rows for v in r.readings.values())


@pytest.fixture
def detect_cli(monkeypatch: pytest.MonkeyPatch):
    """The real command line, with only this stage's commands registered."""
    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("assetwatch.models.commands",))
    return cli.main


def test_command_line_prints_one_line_error(tmp_path: Path, detect_cli,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rows = _readings(20)
    rows[5][2] = "oops"
    source = _write(tmp_path / "in.csv", rows)
    code = detect_cli(["detect", "score-csv", "--input", str(source),
                       "--output", str(tmp_path / "out.csv")])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"assetwatch: error: {source}:6: column 'pressure': not a number: 'oops'"]


def test_command_line_writes_scores(tmp_path: Path, detect_cli) -> None:
    source = _write(tmp_path / "in.csv", _readings(120))
    out = tmp_path / "out.csv"
    code = detect_cli(["detect", "score-csv", "--input", str(source), "--output", str(out),
                       "--detector", "robust_z", "--warmup", "50"])
    assert code == 0
    assert len(out.read_text().splitlines()) == 121


def test_short_file_gets_a_shorter_default_warmup(tmp_path: Path) -> None:
    source = _write(tmp_path / "short.csv", _readings(150))
    summary = score_csv(source, tmp_path / "out.csv")
    assert summary.warmup_rows == 50  # a third of 150 rows, instead of 400


def test_european_and_other_common_layouts(tmp_path: Path) -> None:
    source = tmp_path / "eu.csv"
    source.write_text("timestamp;flow;temp\n31.12.2024 23:59:58;12,5;60\n"
                      "31/12/2024 23:59:59;12.75;60,25\n2024/12/31 23:59;13;61\n")
    rows = list(read_rows(source))
    assert [r.readings for r in rows] == [
        {"flow": 12.5, "temp": 60.0}, {"flow": 12.75, "temp": 60.25}, {"flow": 13.0,
                                                                        "temp": 61.0}]
    assert rows[0].timestamp.isoformat() == "2024-12-31T23:59:58+00:00"
    # in a comma-separated file a comma is a field separator, never a decimal mark
    comma = tmp_path / "comma.csv"
    comma.write_text('timestamp,flow\n2024-12-31T00:00:00,"12,5"\n')
    with pytest.raises(CsvInputError, match=r"comma\.csv:2: column 'flow': not a number"):
        list(read_rows(comma))
