"""``bench rul`` through the product on a tiny made-up data set (the real one is not needed by
tests): trained by the train flow's code, scored by the score flow's, read back from the
database; the test labels are read once, at the end, and change nothing before it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assetwatch.bench.protocol import ProtocolError, SealedLabels, grouped_folds
from assetwatch.bench.rul import nasa_score, run_rul_benchmark
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.errors import PredictionError

SMALL = {"small": {"max_iter": 60, "learning_rate": 0.1, "max_leaf_nodes": 7,
                   "min_samples_leaf": 10, "max_features": 0.5}}


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
@pytest.mark.timeout(900)   # two whole benchmark runs (train, validate, register, score)
def test_benchmark_runs_through_the_product_and_test_labels_change_nothing(
        tmp_path: Path, make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    true = _data_set(tmp_path)
    result = run_rul_benchmark(settings, tmp_path, folds=2, candidates=SMALL,
                               progress=lambda _: None)
    assert result.engines == 3 and result.train_engines == 8
    assert result.train_rows == 60 + 75 + 80 + 70 + 65 + 78 + 72 + 68
    assert result.chosen == "small" and np.isfinite(result.rmse) and result.rmse < 25
    expected = np.sqrt(np.mean((np.array(result.predicted) - np.array(true)) ** 2))
    assert result.rmse == pytest.approx(expected)
    # other test labels: the same predictions, only the printed figure changes
    (tmp_path / "RUL_FD001.txt").write_text("\n".join(map(str, true[::-1])) + "\n")
    shuffled = run_rul_benchmark(settings, tmp_path, folds=2, candidates=SMALL,
                                 progress=lambda _: None)
    assert shuffled.predicted == result.predicted
    assert shuffled.cv_losses == result.cv_losses
    assert shuffled.rmse != result.rmse


def test_missing_files_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PredictionError, match="C-MAPSS file not found"):
        run_rul_benchmark(None, tmp_path)
