"""Choosing the remaining-life model's settings by cross-validation grouped by unit.

A fleet's training window holds whole lives of some units (assets or components). Settings
that a fit cannot learn -- the feature windows, the cap of the remaining-life target, the
ensemble's tree settings -- are chosen here on that window alone: the units are split into
``folds`` disjoint parts (:func:`grouped_folds`), each part is predicted by a model fitted on
the others, so no unit is ever in both (a setting cannot win by remembering a unit).

The loss (:func:`rul_loss`) judges the held-out units the way a test set of truncated units is
made (:class:`CutPoints`): each held-out unit is cut at a few random moments of its life
(:func:`sample_cuts`; anywhere from its first snapshot on -- a truncated unit may have been
stopped at any moment of its life, so short histories are judged too -- at most
``horizon_days`` before its observed failure), the prediction is that of the unit's snapshot
at the cut, and the loss is the root mean squared error against the *true, uncapped* remaining
life there, every unit weighted alike. Every candidate, whatever its cap, is judged on the
same cuts and the same target; a snapshot's features use only data before it
(:mod:`.features`), so what the unit did after the cut reaches the loss only as the true
remaining life and through where a cut may fall (a test replaces the features of the snapshots
after the cuts and finds the same loss).

:func:`select_settings` chooses stage by stage (:class:`Stage`): each stage's candidates are
tried with the settings chosen so far (the earlier stages' winners, the later stages' first
candidates), and its winner is kept. Window candidates are columns of one feature frame
computed with all their windows (:func:`~.features.restrict_to_spec`): the same values a frame
computed with each candidate's windows would have. Each fold fits one squared-error regressor
(seed 0) and no classifier or interval, to rank the candidates; the shipped model is then
trained by :func:`~.training.train_models` with the chosen settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from assetwatch.models.prediction.errors import PredictionError
from assetwatch.models.prediction.features import FeatureSpec, restrict_to_spec

__all__ = ["CutPoints", "CvResult", "Stage", "StageResult", "grouped_cv", "grouped_folds",
           "rul_loss", "sample_cuts", "select_settings", "with_updates"]

C = TypeVar("C")
_SPEC_FIELDS = {f.name for f in fields(FeatureSpec)}


def grouped_folds(units: Sequence[int], folds: int, seed: int = 0
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` disjoint parts of the shuffled ``units``: ``(fit units, scored units)``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.unique(np.asarray(units)))
    parts = np.array_split(order, folds)
    return [(np.concatenate([p for j, p in enumerate(parts) if j != i]), parts[i])
            for i in range(folds)]


@dataclass(frozen=True)
class CvResult(Generic[C]):
    """The chosen candidate and every candidate's mean loss over the folds."""

    chosen: str
    losses: dict[str, float]
    candidate: C


def grouped_cv(frame: pd.DataFrame, unit_column: str, candidates: Mapping[str, C],
               loss: Callable[[C, pd.DataFrame, pd.DataFrame], float], *, folds: int = 5,
               seed: int = 0) -> CvResult[C]:
    """The candidate with the lowest mean ``loss(candidate, fit_rows, scored_rows)`` over
    folds grouped by ``unit_column`` (rows of training units only; ties: the first)."""
    if not candidates:
        raise PredictionError("no candidate settings to choose from")
    splits = grouped_folds(frame[unit_column].to_numpy(), folds, seed)
    losses = {}
    for name, candidate in candidates.items():
        values = []
        for fit_units, scored_units in splits:
            fit = frame[frame[unit_column].isin(fit_units)]
            scored = frame[frame[unit_column].isin(scored_units)]
            values.append(loss(candidate, fit, scored))
        losses[name] = float(np.mean(values))
    chosen = min(losses, key=lambda n: (losses[n], list(candidates).index(n)))
    return CvResult(chosen, losses, candidates[chosen])


@dataclass(frozen=True)
class Stage:
    """One setting to choose: candidate name -> updates of the training options (keys of
    :class:`~.features.FeatureSpec` go into the options' ``spec``)."""

    name: str
    candidates: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class StageResult:
    name: str
    chosen: str
    losses: dict[str, float]


@dataclass(frozen=True)
class Selection:
    """The options with every stage's winner, and what each stage measured."""

    options: Any
    stages: tuple[StageResult, ...]


def with_updates(options: Any, updates: Mapping[str, Any]) -> Any:
    """``options`` (:class:`~.training.TrainOptions`) with ``updates`` applied."""
    spec_updates = {k: v for k, v in updates.items() if k in _SPEC_FIELDS}
    other = {k: v for k, v in updates.items() if k not in _SPEC_FIELDS}
    if spec_updates:
        other["spec"] = replace(options.spec, **spec_updates)
    return replace(options, **other)


@dataclass(frozen=True)
class CutPoints:
    """Where the loss cuts each held-out unit: ``per_unit`` snapshots drawn at random (seed
    ``seed``) among those at least ``min_age_days`` into the component's life and at most
    ``horizon_days`` before its observed failure (the longest remaining life the loss asks
    about), so that the remaining life at a cut is about uniform up to ``horizon_days``.

    ``min_age_days`` is 0 by default: a test set made by random truncation stops units at any
    moment of their lives, the first cycles included (C-MAPSS FD002's test engines have
    histories from 21 cycles on), so the loss judges predictions on short histories too,
    where the windows of the features are not yet full.
    """

    horizon_days: float = 150.0
    min_age_days: float = 0.0
    per_unit: int = 20
    seed: int = 0


def sample_cuts(scored: pd.DataFrame, cuts: CutPoints, *,
                unit_column: str = "asset_id") -> pd.DataFrame:
    """The snapshots of ``scored`` that the loss judges (see :class:`CutPoints`), with a
    ``cut_weight`` column that makes every unit weigh the same. The same rows for the same
    units, whatever the feature columns hold."""
    min_age = cuts.min_age_days
    true = scored["days_to_failure"].to_numpy(dtype=float)
    age = scored["component_age_days"].to_numpy(dtype=float)
    eligible = scored[~np.isnan(true) & (true > 0) & (true <= cuts.horizon_days)
                      & (age >= min_age)]
    if eligible.empty:
        raise PredictionError(
            f"no held-out snapshot between {min_age:g} days into a life and "
            f"{cuts.horizon_days:g} days before an observed failure to judge")
    rng = np.random.default_rng(cuts.seed)
    index: list[Any] = []
    weight: list[float] = []
    for _, rows in eligible.sort_values([unit_column, "snapshot_at"]).groupby(unit_column):
        take = min(cuts.per_unit, len(rows))
        index.extend(rows.index[np.sort(rng.choice(len(rows), size=take, replace=False))])
        weight.extend([1.0 / take] * take)
    judged = eligible.loc[index].copy()
    judged["cut_weight"] = weight
    return judged


def rul_loss(predicted: np.ndarray, judged: pd.DataFrame) -> float:
    """Weighted RMSE of ``predicted`` (one per row of ``judged``, from :func:`sample_cuts`)
    against the true remaining life ``days_to_failure``."""
    true = judged["days_to_failure"].to_numpy(dtype=float)
    weight = judged["cut_weight"].to_numpy(dtype=float)
    error = (np.asarray(predicted, dtype=float) - true) ** 2
    return float(np.sqrt(np.sum(weight * error) / np.sum(weight)))


def select_settings(frame: pd.DataFrame, observed_until: datetime, options: Any,
                    stages: Sequence[Stage], *, folds: int = 5, seed: int = 0,
                    cuts: CutPoints | None = None, unit_column: str = "asset_id") -> Selection:
    """Choose each stage's candidate by grouped cross-validation over ``frame``'s units (see
    the module docstring), judged at the cut points ``cuts`` (default :class:`CutPoints`);
    ``frame`` holds the columns of every window candidate."""
    from assetwatch.models.prediction.training import fit_failure_model, fleet_prior

    cuts = cuts or CutPoints()
    chosen = [next(iter(stage.candidates.values())) for stage in stages]
    results = []
    for i, stage in enumerate(stages):
        if len(stage.candidates) == 1:      # nothing to choose
            name = next(iter(stage.candidates))
            results.append(StageResult(stage.name, name, {}))
            continue
        def loss(updates: Mapping[str, Any], fit: pd.DataFrame, scored: pd.DataFrame,
                 i: int = i) -> float:
            merged: dict[str, Any] = {}
            for j, stage_updates in enumerate(chosen):
                merged.update(updates if j == i else stage_updates)
            fold = replace(with_updates(options, merged), horizons=(), rul_interval=False,
                           rul_seeds=1)
            model = fit_failure_model(restrict_to_spec(fit, fold.spec), observed_until,
                                      fleet_prior("unit", fit, fold), fold)
            held = restrict_to_spec(sample_cuts(scored, cuts, unit_column=unit_column),
                                    fold.spec)
            return rul_loss(model.predict(held)["rul_days"].to_numpy(), held)

        cv = grouped_cv(frame, unit_column, stage.candidates, loss, folds=folds, seed=seed)
        chosen[i] = cv.candidate
        results.append(StageResult(stage.name, cv.chosen, cv.losses))
    merged: dict[str, Any] = {}
    for updates in chosen:
        merged.update(updates)
    return Selection(with_updates(options, merged), tuple(results))
