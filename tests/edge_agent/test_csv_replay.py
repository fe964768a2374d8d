"""CSV replay: layouts, timestamps kept, bad rows stop the replay with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetwatch.core.source import Sample
from assetwatch.edge_agent.csv_replay import CsvReplay
from assetwatch.edge_agent.errors import CsvReplayError


def _write(tmp_path: Path, text: str, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _all(source: CsvReplay) -> list[Sample]:
    out = []
    while not source.exhausted:
        out.extend(source.poll(3, 0))
    return out


def test_wide_layout_with_semicolons_and_naive_iso_times(tmp_path) -> None:
    path = _write(tmp_path, "datetime;Accelerometer1RMS;Temperature\n"
                            "2020-03-09 10:14:33;0.027;89.8\n2020-03-09 10:14:34;;90.1\n")
    got = _all(CsvReplay(path, "P-1", "site-1"))
    assert got == [Sample("P-1", 1583748873000, [("Accelerometer1RMS", 0.027),
                                                 ("Temperature", 89.8)]),
                   Sample("P-1", 1583748874000, [("Temperature", 90.1)])]


def test_long_layout_with_assets_and_epoch_times_resumes(tmp_path) -> None:
    path = _write(tmp_path, "ts,asset,sensor,value\n1700000000,A,flow,1\n"
                            "1700000000500,B,flow,2\n1700000001,A,flow,3\n")
    source = CsvReplay(path, "A", "s", assets={"B": "s"})
    first = source.poll(1, 0)
    assert first == [Sample("A", 1_700_000_000_000, [("flow", 1.0)])]
    resumed = CsvReplay(path, "A", "s", assets={"B": "s"})
    resumed.restore(source.checkpoint() or "")
    assert [s.ts_ms for s in _all(resumed)] == [1_700_000_000_500, 1_700_000_001_000]


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("when,flow\n1,2\n", 1, "missing a timestamp column"),
    ("ts,flow,temp\n1700000000,1,2\n1700000001,3\n", 3, "2 columns, the header has 3"),
    ("ts,flow\n1700000000,1\nyesterday,2\n", 3, "unparsable timestamp 'yesterday'"),
    ("ts,flow\n1700000000,1\n1700000001,abc\n", 3, "unparsable value 'abc'"),
    ("ts,flow\n1700000000,nan\n", 2, "not a finite number"),
    ("ts,asset,sensor,value\n1700000000,Z,flow,1\n", 2, "unknown asset 'Z'"),
])
def test_bad_rows_name_file_and_line(tmp_path, text: str, line: int, reason: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CsvReplayError) as caught:
        _all(CsvReplay(path, "A", "s"))
    assert f"{path}:{line}: " in str(caught.value)
    assert reason in str(caught.value)


def test_complete_rows_are_handed_out_before_the_error(tmp_path) -> None:
    path = _write(tmp_path, "ts,flow,temp\n1700000000,1,2\n1700000001,3,oops\n")
    source = CsvReplay(path, "A", "s")
    assert source.poll(100, 0) == [Sample("A", 1_700_000_000_000, [("flow", 1.0),
                                                                   ("temp", 2.0)])]
    with pytest.raises(CsvReplayError, match=":3: column 'temp': unparsable value"):
        source.poll(100, 0)


def test_speed_factor_spaces_rows_by_their_timestamps(tmp_path) -> None:
    import time

    rows = "".join(f"{1_700_000_000 + 10 * i},{i}\n" for i in range(6))
    source = CsvReplay(_write(tmp_path, "ts,flow\n" + rows), "A", "s", speed=200.0)
    t0 = time.monotonic()
    got = _all(source)
    elapsed = time.monotonic() - t0
    assert [s.ts_ms for s in got] == [1_700_000_000_000 + 10_000 * i for i in range(6)]
    assert 0.2 <= elapsed < 1.0  # 50 s of data at 200x
