"""The C-MAPSS loader on a few made-up engines: files checked line by line, engines become
assets with one reading per sensor and cycle, training engines fail after their last cycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from assetwatch.bench.cmapss import CmapssError, load_engines, read_engines, read_true_rul
from assetwatch.core.settings import Settings

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def _line(unit: int, cycle: int, base: float = 1.0) -> str:
    return " ".join(map(str, [unit, cycle, 0.0, 0.0, 100.0,
                              *[base + cycle * 0.01 + i for i in range(21)]]))


def _write(path: Path, lives: dict[int, int]) -> Path:
    path.write_text("\n".join(_line(u, c) for u, n in lives.items()
                              for c in range(1, n + 1)) + "\n")
    return path


def test_engines_are_read_in_unit_order(tmp_path: Path) -> None:
    engines = read_engines(_write(tmp_path / "train_FD001.txt", {2: 3, 1: 5}))
    assert [(e.unit, e.cycles) for e in engines] == [(1, 5), (2, 3)]
    assert engines[0].readings[0][:4] == (0.0, 0.0, 100.0, 1.01)


@pytest.mark.parametrize(("text", "message"), [
    (_line(1, 1) + "\n" + _line(1, 2) + " 7\n", "line 2: 27 values, expected 26"),
    (_line(1, 1) + "\n" + _line(1, 2).replace("100.0", "n/a") + "\n", "line 2: not a number"),
    (_line(1, 1) + "\n" + _line(1, 3) + "\n", "line 2: unit 1 cycle 3 follows cycle 1"),
    (_line(1, 1) + "\n" + _line(1, 2).replace("100.0", "nan") + "\n", "line 2: a value is"),
    ("\n\n", "no engine in the file"),
])
def test_a_bad_file_is_one_error_naming_file_and_line(tmp_path: Path, text: str,
                                                      message: str) -> None:
    path = tmp_path / "test_FD001.txt"
    path.write_text(text)
    with pytest.raises(CmapssError) as error:
        read_engines(path)
    assert str(error.value).startswith(str(path)) and message in str(error.value)


def test_true_remaining_lives_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "RUL_FD001.txt"
    path.write_text("12\n7\n")
    assert read_true_rul(path, 2) == [12.0, 7.0]
    with pytest.raises(CmapssError, match="2 remaining lives for 3 test engines"):
        read_true_rul(path, 3)
    path.write_text("12\nseven\n")
    with pytest.raises(CmapssError, match=r"RUL_FD001.txt line 2: 'seven'"):
        read_true_rul(path, 2)
    with pytest.raises(CmapssError, match="not found"):
        read_engines(tmp_path / "absent.txt")


@pytest.mark.integration
def test_engines_load_as_a_fleet(tmp_path: Path, make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    train = read_engines(_write(tmp_path / "train.txt", {1: 5, 2: 3}))
    test = read_engines(_write(tmp_path / "test.txt", {1: 2, 2: 4}))
    end = T0 + timedelta(days=100)
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        trained = load_engines(conn, train, subset="FD001", site="TRAIN", start=T0,
                               failed=True, regimes=1)
        tested = load_engines(conn, test, subset="FD001", site="TEST", end=end, failed=False)
        readings = dict(conn.execute(
            "SELECT asset_id, count(*) FROM telemetry GROUP BY 1").fetchall())
        assert readings[trained[1]] == 5 * 24 and readings[tested[2]] == 4 * 24
        failures = dict(conn.execute(
            "SELECT asset_id, time FROM asset_event WHERE kind = 'failure'").fetchall())
        # a training engine fails at the end of its last cycle (one cycle = one day)
        assert failures == {trained[1]: T0 + timedelta(days=5),
                            trained[2]: T0 + timedelta(days=3)}
        # test engines end together: their last cycle is the day before ``end``
        last = dict(conn.execute("SELECT asset_id, max(time) FROM telemetry GROUP BY 1"))
        assert last[tested[1]] == last[tested[2]] == end - timedelta(days=1)
        # and the hourly rollup has every cycle
        hours = conn.execute("SELECT count(DISTINCT (asset_id, bucket)) FROM telemetry_hourly"
                             ).fetchone()[0]
        assert hours == 5 + 3 + 2 + 4
        assert conn.execute("SELECT signals, regimes FROM asset_model_regime").fetchone() == (
            ["os1", "os2", "os3"], 1)
