"""Choosing the remaining-life model's settings by cross-validation grouped by unit.

A fleet's training window holds whole lives of some units (assets or components). Settings
that a fit cannot learn -- the feature windows, the cap of the remaining-life target, the
ensemble's tree settings -- are chosen here on that window alone: the units are split into
``folds`` disjoint parts (:func:`grouped_folds`), each part is predicted by a model fitted on
the others, so no unit is ever in both (a setting cannot win by remembering a unit).

The loss (:func:`rul_loss`) is the root mean squared error of the predicted remaining life
against the *true, uncapped* remaining life at every snapshot of the held-out units' second
halves of life (remaining life at most the component's age), so that every candidate, whatever
its cap, is judged on the same rows and the same target: a prediction early in a life is
neither asked for nor knowable, and a cap that is too low shows as error on the rows above it.

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

__all__ = ["CvResult", "Stage", "StageResult", "grouped_cv", "grouped_folds", "rul_loss",
           "select_settings", "with_updates"]

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


def rul_loss(predicted: np.ndarray, scored: pd.DataFrame) -> float:
    """RMSE against the true remaining life over the second halves of the scored lives
    (snapshots with an observed failure no further ahead than the component's age)."""
    true = scored["days_to_failure"].to_numpy(dtype=float)
    age = scored["component_age_days"].to_numpy(dtype=float)
    judged = ~np.isnan(true) & (true <= age)
    if not judged.any():
        raise PredictionError("no held-out snapshot in the second half of an observed life")
    return float(np.sqrt(np.mean((np.asarray(predicted)[judged] - true[judged]) ** 2)))


def select_settings(frame: pd.DataFrame, observed_until: datetime, options: Any,
                    stages: Sequence[Stage], *, folds: int = 5, seed: int = 0,
                    unit_column: str = "asset_id") -> Selection:
    """Choose each stage's candidate by grouped cross-validation over ``frame``'s units (see
    the module docstring); ``frame`` holds the columns of every window candidate."""
    from assetwatch.models.prediction.training import fit_failure_model, fleet_prior

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
            held = restrict_to_spec(scored, fold.spec)
            return rul_loss(model.predict(held)["rul_days"].to_numpy(), held)

        cv = grouped_cv(frame, unit_column, stage.candidates, loss, folds=folds, seed=seed)
        chosen[i] = cv.candidate
        results.append(StageResult(stage.name, cv.chosen, cv.losses))
    merged = {}
    for updates in chosen:
        merged.update(updates)
    return Selection(with_updates(options, merged), tuple(results))
