"""``bench rul`` through the product on a tiny made-up data set (the real one is not needed by
tests): trained by the train flow's code, scored by the score flow's, read back from the
database; the test labels are read once, at the end, after every prediction is stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest

from assetwatch.bench.protocol import ProtocolError, SealedLabels, grouped_folds
from assetwatch.bench.rul import nasa_score, run_rul_benchmark
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.errors import PredictionError

SMALL = {"small": {"max_iter": 20, "learning_rate": 0.2, "max_leaf_nodes": 7,
                   "min_samples_leaf": 10, "max_features": 0.5}}
WINDOWS = {"means 5": {"mean_windows": (5,), "slope_windows": (10,)},
           "means 5, 10": {"mean_windows": (5, 10), "slope_windows": (10,)}}
CAPS = (40, 60)
#: small classifiers and interval regressors, one ensemble member: a test-sized run
FAST = {"gbm": {"max_iter": 15, "learning_rate": 0.2, "max_leaf_nodes": 7,
                "min_samples_leaf": 10}, "rul_seeds": 1}


def _write_engines(path: Path, lives: list[int], rng: np.random.Generator,
                   cut: list[int] | None = None) -> None:
    lines = []
    for unit, life in enumerate(lives, start=1):
        for cycle in range(1, (cut[unit - 1] if cut else life) + 1):
            wear = cycle / life
            sensors = [100 + 5 * wear ** 2 + rng.normal(0, 0.2) for _ in range(21)]
            lines.append(" ".join(map(str, [unit, cycle, 0.0, 0.0, 100.0, *sensors])))
    path.write_text("\n".join(lines) + "\n")


def _data_set(folder: Path) -> list[int]:
    rng = np.random.default_rng(0)
    _write_engines(folder / "train_FD001.txt", [60, 75, 80, 70, 65, 78, 72, 68], rng)
    full, cut = [70, 75, 66], [40, 50, 30]
    _write_engines(folder / "test_FD001.txt", full, rng, cut)
    true = [f - c for f, c in zip(full, cut, strict=True)]
    (folder / "RUL_FD001.txt").write_text("\n".join(map(str, true)) + "\n")
    return true


def test_nasa_score_punishes_late_predictions_more() -> None:
    assert nasa_score(np.array([10.0]), np.array([10.0])) == 0.0
    late, early = nasa_score(np.array([20.0]), np.array([10.0])), nasa_score(
        np.array([0.0]), np.array([10.0]))
    assert late == pytest.approx(np.e - 1) and early == pytest.approx(np.exp(10 / 13) - 1)
    assert late > early


def test_labels_are_read_once_and_folds_never_share_a_unit() -> None:
    reads = []
    sealed = SealedLabels(lambda: reads.append(1) or [1.0])
    assert not sealed.revealed and reads == []
    assert sealed.reveal() == [1.0] and sealed.revealed
    with pytest.raises(ProtocolError):
        sealed.reveal()
    for fit, scored in grouped_folds([1, 1, 2, 3, 3, 4, 5], 3):
        assert not set(fit) & set(scored) and set(fit) | set(scored) == {1, 2, 3, 4, 5}


@pytest.mark.integration
def test_benchmark_runs_through_the_product_and_reads_the_test_labels_last(
        tmp_path: Path, make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    true = _data_set(tmp_path)
    # the labels are not in the folder: the run can reach them only through the seal, whose
    # one read finds every test engine's prediction already stored (the model fixed), so
    # other labels would change nothing before the final print
    (tmp_path / "RUL_FD001.txt").unlink()
    stored_at_read = []

    def read() -> list[int]:
        with psycopg.connect(settings.db_url) as conn:
            stored_at_read.append(conn.execute(
                "SELECT count(DISTINCT asset_id) FROM failure_prediction"
                " WHERE rul_days IS NOT NULL").fetchone()[0])
        return true

    result = run_rul_benchmark(settings, tmp_path, folds=2, windows=WINDOWS, caps=CAPS,
                               candidates=SMALL, train_options=FAST, labels=SealedLabels(read),
                               database=settings, progress=lambda _: None)
    assert stored_at_read == [3]
    assert result.engines == 3 and result.train_engines == 8
    assert result.train_rows == 60 + 75 + 80 + 70 + 65 + 78 + 72 + 68
    assert result.chosen == "small" and np.isfinite(result.rmse) and result.rmse < 25
    expected = np.sqrt(np.mean((np.array(result.predicted) - np.array(true)) ** 2))
    assert result.rmse == pytest.approx(expected)
    # the windows and the cap were chosen by cross-validation, each candidate's loss kept
    assert [s.name for s in result.stages] == ["feature windows", "remaining-life cap",
                                               "ensemble settings"]
    assert set(result.stages[0].losses) == set(WINDOWS)
    assert set(result.stages[1].losses) == {"40 cycles", "60 cycles"}


def test_missing_files_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PredictionError, match="C-MAPSS file not found"):
        run_rul_benchmark(None, tmp_path)
