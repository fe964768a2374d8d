"""``assetwatch bench rul``: remaining useful life on NASA C-MAPSS, through the product.

The engines become a fleet in a scratch database (:mod:`.cmapss`: engine = asset, cycle = one
day, operating settings = the model's operating signals, regimes as the data set describes
them: one in FD001, six in FD002). Then, as on any fleet:

1. the training engines' window is read by the train flow's own read
   (:func:`~assetwatch.models.prediction.training.load_training_set`: features from the hourly
   rollup, sensors normalised per operating regime, windowed means and trends);
2. the model settings are chosen by cross-validation grouped by engine over the training
   engines only (:mod:`.protocol`; loss: RMSE of the capped remaining life on the held-out
   engines' cycles);
3. the model is trained and registered by
   :func:`~assetwatch.models.prediction.training.train_models` (what the ``train`` flow runs);
4. the test engines are loaded, each ending at the same moment, and scored by
   :func:`~assetwatch.models.prediction.scoring.score_assets` (what the ``score`` flow runs);
5. the predicted remaining life of each test engine is read back from ``failure_prediction``,
   and only then are the true remaining cycles read (once), to print RMSE and the asymmetric
   NASA score (late predictions cost more: ``exp(d/10) - 1`` for ``d > 0``,
   ``exp(-d/13) - 1`` for ``d < 0``).

The remaining-life cap (125 cycles) is the literature's convention for these subsets, so that
the figures compare with the published ones; it is not tuned.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CANDIDATES", "PUBLISHED", "REGIMES", "RulResult", "nasa_score", "register",
           "rul_options", "run_rul_benchmark"]

RUL_CAP = 125
#: operating regimes per subset, as the data set's description gives them
REGIMES = {"FD001": 1, "FD002": 6, "FD003": 1, "FD004": 6}
#: published results per subset: (method, RMSE, NASA score or None)
PUBLISHED: dict[str, tuple[tuple[str, float, float | None], ...]] = {
    "FD001": (("best reported", 11.0, None), ("deep CNN", 12.6, 274.0),
              ("LSTM", 16.1, 338.0), ("1-D CNN", 17.0, None),
              ("plain gradient boosting on rolling means", 19.0, None)),
    "FD002": (("FFVE (whole set)", 12.6, None),
              ("LightGBM with operating-condition normalisation (whole set)", 13.4, None),
              ("MTSTAN (whole set)", 16.8, None)),
}
#: the model settings cross-validation chooses from (remaining-life ensemble)
CANDIDATES: dict[str, dict[str, Any]] = {
    "fast": {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 15,
             "min_samples_leaf": 20, "l2_regularization": 1.0, "max_features": 0.5},
    "slow, larger leaves": {"max_iter": 400, "learning_rate": 0.03, "max_leaf_nodes": 15,
                            "min_samples_leaf": 50, "l2_regularization": 1.0,
                            "max_features": 0.5},
}
_T0 = datetime(2020, 1, 1, tzinfo=UTC)
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class RulResult:
    subset: str
    rmse: float
    nasa_score: float
    engines: int
    train_engines: int
    train_rows: int
    chosen: str
    cv_losses: dict[str, float]
    seconds: float
    predicted: list[float]


def nasa_score(predicted: np.ndarray, true: np.ndarray) -> float:
    """The asymmetric PHM08 score (lower is better)."""
    d = np.asarray(predicted, float) - np.asarray(true, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1, np.exp(d / 10.0) - 1)))


def rul_options(history: timedelta, rul_gbm: dict[str, Any]) -> Any:
    """Training options for engines (one cycle a day): daily buckets, 5- and 30-cycle
    windows with 10- and 20-cycle means and 20- and 40-cycle trends; no fleet ratios (test
    engines are not at the same age as training engines at the same time)."""
    from assetwatch.models.prediction.features import FeatureSpec
    from assetwatch.models.prediction.training import TrainOptions

    spec = FeatureSpec(bucket=_DAY, short_window=5 * _DAY, long_window=30 * _DAY,
                       event_window=_DAY, snapshot_every=_DAY,
                       mean_windows=(10 * _DAY, 20 * _DAY),
                       slope_windows=(20 * _DAY, 40 * _DAY), fleet_ratios=False)
    return TrainOptions(spec=spec, history=history, rul_cap_days=RUL_CAP,
                        rul_gbm=dict(rul_gbm))


def run_rul_benchmark(settings: Any, folder: Path, *, subset: str = "FD001", folds: int = 5,
                      candidates: dict[str, dict[str, Any]] | None = None,
                      progress: Any = print) -> RulResult:
    """The protocol of the module docstring on one subset."""
    import psycopg

    from assetwatch.bench.cmapss import COMPONENT, load_engines, read_engines, read_true_rul
    from assetwatch.bench.protocol import SealedLabels
    from assetwatch.core.scratch import fresh_database
    from assetwatch.models.prediction.scoring import score_assets
    from assetwatch.models.prediction.training import load_training_set, train_models

    started = time.perf_counter()
    train_engines = read_engines(folder / f"train_{subset}.txt")
    test_engines = read_engines(folder / f"test_{subset}.txt")
    truth = SealedLabels(lambda: read_true_rul(folder / f"RUL_{subset}.txt",
                                               len(test_engines)))
    scratch = fresh_database(settings, f"bench_rul_{subset.lower()}")
    longest = max(e.cycles for e in train_engines)
    as_of = _T0 + (longest + 1) * _DAY
    with psycopg.connect(scratch.db_url) as conn:
        load_engines(conn, train_engines, subset=subset, site="TRAIN", start=_T0, failed=True,
                     regimes=REGIMES.get(subset, 1))
        conn.commit()
    progress(f"{len(train_engines)} training engines loaded")
    history = (longest + 1) * _DAY
    options = rul_options(history, next(iter((candidates or CANDIDATES).values())))
    window = load_training_set(scratch, as_of=as_of, options=options)
    progress(f"training window read: {len(window.frame)} rows")
    cv = _choose_settings(window, options, candidates or CANDIDATES, folds)
    progress(f"cross-validation over training engines chose {cv.chosen!r} "
             f"({', '.join(f'{k}: {v:.2f}' for k, v in cv.losses.items())})")
    train_models(scratch, as_of=as_of, horizons=options.horizons,
                 options=replace(options, rul_gbm=dict(cv.candidate)))
    end = as_of + 400 * _DAY
    with psycopg.connect(scratch.db_url) as conn:
        test_ids = load_engines(conn, test_engines, subset=subset, site="TEST", end=end,
                                failed=False)
        conn.commit()
    score_assets(scratch, as_of=end, assets=list(test_ids.values()))
    with psycopg.connect(scratch.db_url) as conn:
        stored = dict(conn.execute(
            "SELECT DISTINCT ON (asset_id) asset_id, rul_days FROM failure_prediction"
            " WHERE predicted_at = %s AND component_type = %s AND asset_id = ANY(%s)"
            " ORDER BY asset_id, horizon_days", (end, COMPONENT, list(test_ids.values()))))
    predicted = np.array([stored.get(test_ids[e.unit], np.nan) for e in test_engines],
                         dtype=float)
    true = np.asarray(truth.reveal(), dtype=float)
    rmse = float(np.sqrt(np.mean((predicted - true) ** 2)))
    return RulResult(subset, rmse, nasa_score(predicted, true), len(test_engines),
                     len(train_engines), len(window.frame), cv.chosen, cv.losses,
                     time.perf_counter() - started, predicted.tolist())


def _choose_settings(window: Any, options: Any, candidates: dict[str, dict[str, Any]],
                     folds: int) -> Any:
    """Grouped cross-validation (by engine) of the remaining-life ensemble's settings."""
    from assetwatch.bench.protocol import grouped_cv
    from assetwatch.models.prediction.training import fit_failure_model, fleet_prior
    from assetwatch.models.prediction.validation import rul_target

    frame = window.frame
    cv_options = replace(options, horizons=(), rul_interval=False,
                         spec=window.spec or options.spec)
    prior = fleet_prior("engine", frame, cv_options)

    def loss(rul_gbm: dict[str, Any], fit: Any, scored: Any) -> float:
        fold_options = replace(cv_options, rul_gbm=dict(rul_gbm))
        model = fit_failure_model(fit, window.as_of, prior, fold_options)
        target = rul_target(scored, window.as_of, options.rul_cap_days).to_numpy()
        predicted = model.predict(scored)["rul_days"].to_numpy()
        return float(np.sqrt(np.nanmean((predicted - target) ** 2)))

    return grouped_cv(frame, "asset_id", candidates, loss, folds=folds)


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("rul", help="C-MAPSS remaining useful life through the product:"
                                            " RMSE, NASA score")
    parser.add_argument("--data", default="../shared/data/cmapss", type=Path,
                        help="folder with train_/test_/RUL_<subset>.txt (default: %(default)s)")
    parser.add_argument("--subset", default="FD001", help="C-MAPSS subset (default: FD001)")
    parser.add_argument("--folds", type=int, default=5,
                        help="cross-validation folds over training engines (default: 5)")
    parser.set_defaults(func=_run)


def _run(settings: Any, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.models.prediction.errors import PredictionError

    if args.folds < 2:
        raise SystemExit(f"--folds must be at least 2, not {args.folds}")
    try:
        result = run_rul_benchmark(settings, args.data, subset=args.subset, folds=args.folds)
    except PredictionError as e:
        raise SystemExit(str(e)) from None
    table = Table(title=f"C-MAPSS {result.subset}: remaining cycles at each test engine's last "
                        f"cycle (cap {RUL_CAP})")
    for column in ("method", "RMSE", "NASA score"):
        table.add_column(column, justify="left" if column == "method" else "right")
    table.add_row("assetwatch: train and score flows, per-regime normalisation, health index, "
                  "ensemble", f"{result.rmse:.2f}", f"{result.nasa_score:.0f}", style="bold")
    published = PUBLISHED.get(result.subset, ())
    for method, rmse, score in published:
        table.add_row(f"published: {method}", f"{rmse:.1f}",
                      "-" if score is None else f"{score:.0f}")
    Console(width=120).print(table)
    if not published:
        print(f"no published figures recorded for {result.subset}")
    print(f"{result.engines} test engines, {result.train_engines} training engines "
          f"({result.train_rows} training rows); settings chosen by grouped cross-validation "
          f"over training engines: {result.chosen!r}; {result.seconds:.0f} s")
    return 0
