"""Walk-forward backtest: how the train/score cycle would have done on recorded history.

Every ``step`` from ``start``: fit on the snapshots whose label window ended before that time
(labels censored there, exactly like the weekly ``train`` flow would have seen them), predict
the snapshots of the next ``step`` (like the ``score`` flow would have). The out-of-sample
predictions, scored against the recorded failures with :func:`.evaluation.alarm_metrics`, are
the ground-truth figures of the whole loop. Nothing is written to the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from assetwatch.models.prediction.estimators import FailureRiskModel, WeibullPrior
from assetwatch.models.prediction.lives import Lives
from assetwatch.models.prediction.training import (
    TrainOptions,
    censor,
    count_failures,
    fit_failure_model,
    fleet_prior,
)

__all__ = ["walk_forward"]


def walk_forward(frame: pd.DataFrame, options: TrainOptions, *, start: datetime,
                 step: timedelta, lives: Lives | None = None) -> pd.DataFrame:
    """Out-of-sample predictions for the snapshots from ``start`` on: the frame's keys and raw
    labels plus ``prob_<h>``, ``rul_days``, ... and ``model`` (the kind of model used).
    ``lives`` are the datasheet lives of master data (the priors)."""
    gap = timedelta(days=max(options.horizons))
    times = pd.to_datetime(frame["snapshot_at"], utc=True)
    end = times.max()
    parts = []
    at = pd.Timestamp(start)
    while at <= end:
        upcoming = frame[(times >= at) & (times < at + step)]
        known = frame[(times + gap <= at)]
        for component, rows in upcoming.groupby("component_type"):
            history = censor(known[known["component_type"] == component], at.to_pydatetime())
            prior = fleet_prior(str(component), history, options, lives)
            model: WeibullPrior | FailureRiskModel = prior
            if count_failures(history) >= options.min_failures:
                model = fit_failure_model(history, at.to_pydatetime(), prior, options)
            predicted = model.predict(rows)
            predicted["model"] = model.kind
            parts.append(pd.concat([rows, predicted], axis=1))
        at += step
    if not parts:
        return frame.iloc[0:0]
    return pd.concat(parts, ignore_index=True)
