"""``assetwatch bench rul``: remaining useful life on NASA C-MAPSS, through the product.

The engines become a fleet in a scratch database (:mod:`.cmapss`: engine = asset, cycle = one
day, operating settings = the model's operating signals, regimes as the data set describes
them: one in FD001, six in FD002). Then, as on any fleet:

1. the training engines' window is read by the train flow's own read
   (:func:`~assetwatch.models.prediction.training.load_training_set`: features from the hourly
   rollup, sensors normalised per operating regime, windowed means and trends);
2. the feature windows, the remaining-life cap and the ensemble's settings are chosen, in that
   order, by cross-validation grouped by engine over the training engines only
   (:mod:`assetwatch.models.prediction.selection`; loss: each held-out engine cut at random
   cycles, as the test engines were cut (at a random cycle before failure), anywhere from
   its first cycle (test engines have histories from 21 cycles on) and at most
   :data:`HORIZON` cycles before its failure, RMSE of the
   prediction at the cut against the true remaining cycles, the same cuts and target for
   every candidate; the window candidates are columns of one frame read with all of them);
3. the model is trained and registered by
   :func:`~assetwatch.models.prediction.training.train_models` (what the ``train`` flow runs);
4. the test engines are loaded, each ending at the same moment, and scored by
   :func:`~assetwatch.models.prediction.scoring.score_assets` (what the ``score`` flow runs);
5. the predicted remaining life of each test engine is read back from ``failure_prediction``,
   and only then are the true remaining cycles read (once), to print RMSE and the asymmetric
   NASA score (late predictions cost more: ``exp(d/10) - 1`` for ``d > 0``,
   ``exp(-d/13) - 1`` for ``d < 0``).

The candidates (:data:`WINDOWS`, :data:`CAPS`, :data:`CANDIDATES`) are constants of this
module; which of them is used is the cross-validation's choice, printed with every
candidate's loss.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CANDIDATES", "CAPS", "HORIZON", "PUBLISHED", "REGIMES", "WINDOWS", "RulResult",
           "nasa_score", "register", "rul_options", "rul_stages", "run_rul_benchmark"]

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
#: the feature windows cross-validation chooses from: rolling means and trends, in cycles
#: (the grid is widened while the cross-validation chooses its longest candidate: the three
#: longest were added one at a time after runs that chose the longest of the others; the last
#: one's 400 cycles cover every engine's whole history, so no wider candidate is different)
WINDOWS: dict[str, dict[str, tuple[int, ...]]] = {
    "means 10, 20; trends 20, 40": {"mean_windows": (10, 20), "slope_windows": (20, 40)},
    "means 5, 10, 20; trends 10, 20": {"mean_windows": (5, 10, 20),
                                       "slope_windows": (10, 20)},
    "means 10, 20, 40; trends 20, 40, 80": {"mean_windows": (10, 20, 40),
                                            "slope_windows": (20, 40, 80)},
    "means 20, 40, 80; trends 40, 80, 120": {"mean_windows": (20, 40, 80),
                                             "slope_windows": (40, 80, 120)},
    "means 40, 80, 160; trends 80, 120, 160": {"mean_windows": (40, 80, 160),
                                               "slope_windows": (80, 120, 160)},
    "means 80, 160, 400; trends 160, 240, 400": {"mean_windows": (80, 160, 400),
                                                 "slope_windows": (160, 240, 400)},
}
#: remaining-life caps (cycles) of the training target cross-validation chooses from; the
#: first (the literature's convention for these subsets) is held while the windows are chosen
CAPS = (125, 80, 100, 150, 175)
#: the longest remaining life (cycles) at which the cross-validation cuts a held-out engine: a
#: constant of the protocol, not chosen by it (the published work on these subsets trains with
#: caps of 125-150 cycles, i.e. asks about engines within that range of failure); fixed
#: before any test figure with this loss was read
HORIZON = 150
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
    stages: tuple[Any, ...] = ()


def nasa_score(predicted: np.ndarray, true: np.ndarray) -> float:
    """The asymmetric PHM08 score (lower is better)."""
    d = np.asarray(predicted, float) - np.asarray(true, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1, np.exp(d / 10.0) - 1)))


def rul_options(history: timedelta, windows: Mapping[str, Sequence[int]] | None = None
                ) -> Any:
    """Training options for engines (one cycle a day): daily buckets, 5- and 30-cycle short
    and long windows, the rolling means and trends of ``windows`` (default: every window of
    :data:`WINDOWS`, the frame the cross-validation cuts its candidates from); no fleet
    ratios (test engines are not at the same age as training engines at the same time)."""
    from assetwatch.models.prediction.features import FeatureSpec
    from assetwatch.models.prediction.training import TrainOptions

    if windows is None:
        windows = {key: sorted({w for c in WINDOWS.values() for w in c[key]})
                   for key in ("mean_windows", "slope_windows")}
    spec = FeatureSpec(bucket=_DAY, short_window=5 * _DAY, long_window=30 * _DAY,
                       event_window=_DAY, snapshot_every=_DAY,
                       mean_windows=tuple(w * _DAY for w in windows["mean_windows"]),
                       slope_windows=tuple(w * _DAY for w in windows["slope_windows"]),
                       fleet_ratios=False)
    first = next(iter(CANDIDATES.values()))
    return TrainOptions(spec=spec, history=history, rul_cap_days=float(CAPS[0]),
                        rul_gbm=dict(first))


def rul_stages(windows: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
               caps: Sequence[int] | None = None,
               candidates: Mapping[str, Mapping[str, Any]] | None = None) -> list[Any]:
    """The settings cross-validation chooses, in order: feature windows, the remaining-life
    cap, the ensemble's settings."""
    from assetwatch.models.prediction.selection import Stage

    windows = WINDOWS if windows is None else windows
    return [
        Stage("feature windows", {
            name: {key: tuple(w * _DAY for w in spans) for key, spans in choice.items()}
            for name, choice in windows.items()}),
        Stage("remaining-life cap", {
            f"{cap} cycles": {"rul_cap_days": float(cap)} for cap in (caps or CAPS)}),
        Stage("ensemble settings", {
            name: {"rul_gbm": dict(params)}
            for name, params in (candidates or CANDIDATES).items()}),
    ]


def run_rul_benchmark(settings: Any, folder: Path, *, subset: str = "FD001", folds: int = 5,
                      windows: Mapping[str, Mapping[str, Sequence[int]]] | None = None,
                      caps: Sequence[int] | None = None,
                      candidates: Mapping[str, Mapping[str, Any]] | None = None,
                      train_options: Mapping[str, Any] | None = None,
                      labels: Any = None, database: Any = None, horizon: int = HORIZON,
                      progress: Any = print) -> RulResult:
    """The protocol of the module docstring on one subset.

    ``windows``, ``caps`` and ``candidates`` replace the module's candidates and
    ``train_options`` updates the other training options (smaller models for tests);
    ``labels`` (a :class:`~.protocol.SealedLabels`) replaces the sealed ``RUL_<subset>.txt``;
    ``database`` (settings of an empty, migrated database) replaces the scratch database;
    ``horizon`` replaces :data:`HORIZON`.
    """
    import psycopg

    from assetwatch.bench.cmapss import COMPONENT, load_engines, read_engines, read_true_rul
    from assetwatch.bench.protocol import SealedLabels
    from assetwatch.core.scratch import fresh_database
    from assetwatch.models.prediction.scoring import score_assets
    from assetwatch.models.prediction.selection import (
        CutPoints,
        select_settings,
        with_updates,
    )
    from assetwatch.models.prediction.training import load_training_set, train_models

    started = time.perf_counter()
    train_engines = read_engines(folder / f"train_{subset}.txt")
    test_engines = read_engines(folder / f"test_{subset}.txt")
    truth = labels or SealedLabels(lambda: read_true_rul(folder / f"RUL_{subset}.txt",
                                                         len(test_engines)))
    scratch = database or fresh_database(settings, f"bench_rul_{subset.lower()}")
    longest = max(e.cycles for e in train_engines)
    as_of = _T0 + (longest + 1) * _DAY
    with psycopg.connect(scratch.db_url) as conn:
        load_engines(conn, train_engines, subset=subset, site="TRAIN", start=_T0, failed=True,
                     regimes=REGIMES.get(subset, 1))
        conn.commit()
    progress(f"{len(train_engines)} training engines loaded")
    history = (longest + 1) * _DAY
    window_candidates = WINDOWS if windows is None else windows
    every = {key: sorted({w for c in window_candidates.values() for w in c[key]})
             for key in ("mean_windows", "slope_windows")}
    options = with_updates(rul_options(history, every), train_options or {})
    window = load_training_set(scratch, as_of=as_of, options=options)
    progress(f"training window read: {len(window.frame)} rows")
    stages = rul_stages(window_candidates, caps, candidates)
    selection = select_settings(window.frame, window.as_of,
                                replace(options, spec=window.spec or options.spec), stages,
                                folds=folds, cuts=CutPoints(horizon_days=float(horizon)))
    for stage in selection.stages:
        progress(f"cross-validation over training engines chose {stage.name}: "
                 f"{stage.chosen!r} ({_losses(stage.losses)})")
    chosen = replace(selection.options, spec=replace(selection.options.spec, regimes=None))
    train_models(scratch, as_of=as_of, horizons=chosen.horizons, options=chosen)
    end = as_of + 400 * _DAY
    with psycopg.connect(scratch.db_url) as conn:
        test_ids = load_engines(conn, test_engines, subset=subset, site="TEST", end=end,
                                failed=False)
        conn.commit()
    score_assets(scratch, as_of=end, assets=list(test_ids.values()))
    with psycopg.connect(scratch.db_url) as conn:
        stored: dict[int, float | None] = dict(conn.execute(
            "SELECT DISTINCT ON (asset_id) asset_id, rul_days FROM failure_prediction"
            " WHERE predicted_at = %s AND component_type = %s AND asset_id = ANY(%s)"
            " ORDER BY asset_id, horizon_days", (end, COMPONENT, list(test_ids.values()))))
    predicted = np.asarray([_or_nan(stored.get(test_ids[e.unit])) for e in test_engines],
                           dtype=float)
    true = np.asarray(truth.reveal(), dtype=float)
    rmse = float(np.sqrt(np.mean((predicted - true) ** 2)))
    last = selection.stages[-1]
    return RulResult(subset, rmse, nasa_score(predicted, true), len(test_engines),
                     len(train_engines), len(window.frame), last.chosen, last.losses,
                     time.perf_counter() - started, predicted.tolist(), selection.stages)


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _losses(losses: Mapping[str, float]) -> str:
    return ", ".join(f"{name}: {loss:.2f}" for name, loss in losses.items())


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("rul", help="C-MAPSS remaining useful life through the product:"
                                            " RMSE, NASA score")
    parser.add_argument("--data", default="../shared/data/cmapss", type=Path,
                        help="folder with train_/test_/RUL_<subset>.txt (default: %(default)s)")
    parser.add_argument("--subset", default="FD001", help="C-MAPSS subset (default: FD001)")
    parser.add_argument("--folds", type=int, default=5,
                        help="cross-validation folds over training engines (default: 5)")
    parser.add_argument("--horizon", type=int, default=HORIZON,
                        help="longest remaining life (cycles) at which cross-validation cuts a"
                             " held-out engine (default: %(default)s)")
    parser.set_defaults(func=_run)


def _run(settings: Any, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.models.prediction.errors import PredictionError

    if args.folds < 2:
        raise SystemExit(f"--folds must be at least 2, not {args.folds}")
    if args.horizon < 1:
        raise SystemExit(f"--horizon must be at least 1 cycle, not {args.horizon}")
    try:
        result = run_rul_benchmark(settings, args.data, subset=args.subset, folds=args.folds,
                                   horizon=args.horizon)
    except PredictionError as e:
        raise SystemExit(str(e)) from None
    table = Table(title=f"C-MAPSS {result.subset}: remaining cycles at each test engine's last "
                        "cycle")
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
          f"({result.train_rows} training rows); {result.seconds:.0f} s")
    print(f"chosen by cross-validation grouped by engine ({args.folds} folds, training engines"
          " only; loss: RMSE against the true remaining cycles of each held-out engine cut at"
          f" 20 random cycles, anywhere from its first cycle and at most {args.horizon} before"
          " its failure):")
    for stage in result.stages:
        print(f"  {stage.name}: {stage.chosen!r} ({_losses(stage.losses)})")
    return 0
