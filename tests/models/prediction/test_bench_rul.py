"""The C-MAPSS harness on a tiny made-up data set (the real one is not needed by tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assetwatch.bench.rul import nasa_score, run_rul_benchmark
from assetwatch.models.prediction.errors import PredictionError


def _write_engines(path: Path, lives: list[int], rng: np.random.Generator,
                   cut: list[int] | None = None) -> None:
    lines = []
    for unit, life in enumerate(lives, start=1):
        for cycle in range(1, (cut[unit - 1] if cut else life) + 1):
            wear = cycle / life
            sensors = [100 + 5 * wear ** 2 + rng.normal(0, 0.2) for _ in range(21)]
            lines.append(" ".join(map(str, [unit, cycle, 0.0, 0.0, 100.0, *sensors])))
    path.write_text("\n".join(lines) + "\n")


def test_nasa_score_punishes_late_predictions_more() -> None:
    assert nasa_score(np.array([10.0]), np.array([10.0])) == 0.0
    late, early = nasa_score(np.array([20.0]), np.array([10.0])), nasa_score(
        np.array([0.0]), np.array([10.0]))
    assert late == pytest.approx(np.e - 1) and early == pytest.approx(np.exp(10 / 13) - 1)
    assert late > early


def test_benchmark_runs_on_made_up_engines(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _write_engines(tmp_path / "train_FD001.txt", [150, 180, 200, 170, 160, 190], rng)
    full = [160, 175, 185]
    cut = [100, 120, 90]
    _write_engines(tmp_path / "test_FD001.txt", full, rng, cut)
    (tmp_path / "RUL_FD001.txt").write_text("\n".join(
        str(f - c) for f, c in zip(full, cut, strict=True)) + "\n")
    result = run_rul_benchmark(tmp_path, seeds=1)
    assert result.engines == 3 and result.train_rows == 1050
    assert np.isfinite(result.rmse) and result.rmse < 30


def test_missing_files_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PredictionError, match="C-MAPSS files not found"):
        run_rul_benchmark(tmp_path)
