"""``assetwatch bench rul``: remaining useful life on NASA C-MAPSS (FD001), scikit-learn only.

Protocol (the usual one): train on every cycle of the run-to-failure training engines with the
target RUL capped at 125 cycles, predict at each test engine's last cycle, compare with
``RUL_FD001.txt``; print RMSE and the asymmetric NASA score (late predictions cost more:
``exp(d/10) - 1`` for ``d > 0``, ``exp(-d/13) - 1`` for ``d < 0``).

Features per engine and cycle, all from the past only: the 14 informative sensors z-normalised
with the training statistics (FD001 has one operating condition, so this is the
operating-setting normalisation), plus a linear health index (ridge regression of the capped
RUL on the normalised sensors, fitted on the training engines); for each of those rolling means
over 5/10/20/30 cycles, the 10-cycle mean minus the engine's own first 15 cycles (its
baseline), least-squares slopes over 20 and 40 cycles, a 10-cycle standard deviation; and the
cycle number. The model is the mean of three histogram gradient-boosting regressors (seeds
0-2, half the features per split).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["PUBLISHED", "RulResult", "load_cmapss", "nasa_score", "register", "rul_features",
           "run_rul_benchmark"]

RUL_CAP = 125
SENSORS = ("s2", "s3", "s4", "s7", "s8", "s9", "s11", "s12", "s13", "s14", "s15", "s17",
           "s20", "s21")
_COLUMNS = ["unit", "cycle", "os1", "os2", "os3", *[f"s{i}" for i in range(1, 22)]]
#: published FD001 results: (method, RMSE, NASA score or None)
PUBLISHED: tuple[tuple[str, float, float | None], ...] = (
    ("best reported", 11.0, None),
    ("deep CNN", 12.6, 274.0),
    ("LSTM", 16.1, 338.0),
    ("1-D CNN", 17.0, None),
    ("plain gradient boosting on rolling means", 19.0, None),
)


@dataclass(frozen=True)
class RulResult:
    rmse: float
    nasa_score: float
    engines: int
    train_rows: int
    seconds: float


def load_cmapss(folder: Path, subset: str = "FD001"):  # -> tuple[DataFrame, DataFrame, ndarray]
    """``(train, test, true_rul)`` of one C-MAPSS subset; :class:`PredictionError` if absent."""
    import pandas as pd

    from assetwatch.models.prediction.errors import PredictionError

    paths = [folder / f"{kind}_{subset}.txt" for kind in ("train", "test", "RUL")]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise PredictionError(f"C-MAPSS files not found: {', '.join(missing)}")
    train, test = (pd.read_csv(p, sep=r"\s+", header=None, names=_COLUMNS) for p in paths[:2])
    true_rul = pd.read_csv(paths[2], sep=r"\s+", header=None).iloc[:, 0].to_numpy(float)
    return train, test, true_rul


def nasa_score(predicted: np.ndarray, true: np.ndarray) -> float:
    """The asymmetric PHM08 score (lower is better)."""
    d = np.asarray(predicted, float) - np.asarray(true, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1, np.exp(d / 10.0) - 1)))


def _slope(values, window: int):  # pandas Series -> Series
    import pandas as pd

    i = pd.Series(np.arange(len(values), dtype=float), index=values.index)

    def mean(z):
        return z.rolling(window, min_periods=3).mean()

    return (mean(values * i) - mean(values) * mean(i)) / (mean(i * i) - mean(i) ** 2)


def rul_features(frame, mean, std, health_index, *, baseline_cycles: int = 15):
    """Windowed features (see the module docstring) of every (unit, cycle) row."""
    import pandas as pd

    z = (frame[list(SENSORS)] - mean) / std
    z["hi"] = health_index.predict(z[list(SENSORS)].to_numpy())
    z["unit"] = frame["unit"].to_numpy()
    groups = z.groupby("unit")
    out = {"cycle": frame["cycle"].astype(float)}
    for sensor in [*SENSORS, "hi"]:
        series = groups[sensor]
        for w in (5, 10, 20, 30):
            out[f"{sensor}_m{w}"] = series.transform(
                lambda v, w=w: v.rolling(w, min_periods=1).mean())
        baseline = series.transform(lambda v: v.iloc[:baseline_cycles].mean())
        out[f"{sensor}_base"] = out[f"{sensor}_m10"] - baseline
        for w in (20, 40):
            out[f"{sensor}_sl{w}"] = series.transform(lambda v, w=w: _slope(v, w))
        out[f"{sensor}_sd10"] = series.transform(lambda v: v.rolling(10, min_periods=2).std())
    return pd.DataFrame(out)


def run_rul_benchmark(folder: Path, *, subset: str = "FD001", seeds: int = 3) -> RulResult:
    """Train on the training engines, predict each test engine's last cycle, score."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge

    started = time.perf_counter()
    train, test, true_rul = load_cmapss(folder, subset)
    target = (train.groupby("unit")["cycle"].transform("max") - train["cycle"]).clip(
        upper=RUL_CAP).to_numpy(float)
    mean, std = train[list(SENSORS)].mean(), train[list(SENSORS)].std().replace(0, 1)
    health_index = Ridge(alpha=1.0).fit(((train[list(SENSORS)] - mean) / std).to_numpy(),
                                        target)
    x_train = rul_features(train, mean, std, health_index)
    last = test.groupby("unit")["cycle"].idxmax().to_numpy()
    x_test = rul_features(test, mean, std, health_index).loc[last]
    predictions = []
    for seed in range(seeds):
        model = HistGradientBoostingRegressor(
            max_iter=400, learning_rate=0.03, max_leaf_nodes=15, min_samples_leaf=50,
            l2_regularization=1.0, max_features=0.5, random_state=seed)
        predictions.append(model.fit(x_train, target).predict(x_test))
    predicted = np.clip(np.mean(predictions, axis=0), 0, None)
    rmse = float(np.sqrt(np.mean((predicted - true_rul) ** 2)))
    return RulResult(rmse, nasa_score(predicted, true_rul), len(last), len(x_train),
                     time.perf_counter() - started)


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("rul", help="C-MAPSS FD001 remaining useful life: RMSE, score")
    parser.add_argument("--data", default="../shared/data/cmapss", type=Path,
                        help="folder with train_/test_/RUL_FD001.txt (default: %(default)s)")
    parser.add_argument("--subset", default="FD001", help="C-MAPSS subset (default: FD001)")
    parser.set_defaults(func=_run)


def _run(settings: object, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    result = run_rul_benchmark(args.data, subset=args.subset)
    table = Table(title=f"C-MAPSS {args.subset}: RUL at each test engine's last cycle "
                        f"(cap {RUL_CAP})")
    for column in ("method", "RMSE", "NASA score"):
        table.add_column(column, justify="left" if column == "method" else "right")
    table.add_row("assetwatch: gradient boosting on windowed features",
                  f"{result.rmse:.2f}", f"{result.nasa_score:.0f}", style="bold")
    for method, rmse, score in PUBLISHED:
        table.add_row(method, f"{rmse:.1f}", "-" if score is None else f"{score:.0f}")
    Console().print(table)
    print(f"{result.engines} test engines, {result.train_rows} training rows, "
          f"{result.seconds:.1f} s")
    return 0
