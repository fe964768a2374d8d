"""Labels, the time-aware split and validation metrics.

Labels come from the raw label column ``days_to_failure`` of the feature frame (the next
``failure`` event of the component type after the snapshot). A snapshot is

- positive for horizon ``h`` if the component failed within ``h`` days after it;
- negative if it did not and the whole horizon lies before the end of the observed data;
- unlabelled (NaN, left out) otherwise: the horizon is censored.

Service tickets plug in through the ``failure_label`` table that closing a ticket fills: a
label with ``failed`` (resolution 'confirmed_failure') is a failure like an ``asset_event`` of
kind 'failure'; one without (resolution 'no_fault_found') says the component worked until the
label's time, so a snapshot whose whole horizon ends by then is a known negative even where the
data would otherwise censor it (``days_known_ok`` of the feature frame).

Validation is by time only: the validation fold is the newest snapshots; a training row is kept
only if its whole label window ends before the first validation snapshot, so no training row
(and no label a training row uses) comes after a validation row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

__all__ = ["TimeSplit", "classification_metrics", "horizon_labels", "interval_metrics",
           "rul_target", "time_split"]


def horizon_labels(frame: pd.DataFrame, horizon_days: float,
                   observed_until: datetime) -> pd.Series:
    """1.0 (fails within the horizon), 0.0 (survives it, fully observed) or NaN (censored)."""
    dtf = frame["days_to_failure"].astype(float)
    remaining = (observed_until - pd.to_datetime(frame["snapshot_at"], utc=True)
                 ) / pd.Timedelta(days=1)
    labels = pd.Series(np.nan, index=frame.index)
    labels[remaining >= horizon_days] = 0.0
    if "days_known_ok" in frame:
        labels[frame["days_known_ok"].astype(float) >= horizon_days] = 0.0
    labels[dtf < horizon_days] = 1.0
    return labels


def rul_target(frame: pd.DataFrame, observed_until: datetime, cap_days: float) -> pd.Series:
    """Remaining useful life in days, capped at ``cap_days``; NaN where unknown.

    A snapshot less than ``cap_days`` before ``observed_until`` whose component has not failed
    is censored. Keeping the failures of such a snapshot time while its survivors are left out
    would teach the regressors that remaining lives are shorter than they are (the newest
    ``cap_days`` of every training window would hold failing components only), so every
    snapshot of a time at which some component is censored is left out. Where no component is
    censored at a time (run-to-failure data), its snapshots all count.
    """
    dtf = frame["days_to_failure"].astype(float)
    at = pd.to_datetime(frame["snapshot_at"], utc=True)
    remaining = (observed_until - at) / pd.Timedelta(days=1)
    target = dtf.clip(upper=cap_days)
    target[dtf.isna() & (remaining >= cap_days)] = cap_days
    censored_at = set(at[target.isna()])
    target[at.isin(censored_at)] = np.nan
    return target


@dataclass(frozen=True)
class TimeSplit:
    """Boolean masks over the frame's rows and the first validation snapshot time."""

    train: np.ndarray
    valid: np.ndarray
    cutoff: pd.Timestamp


def time_split(snapshot_at: pd.Series, *, gap: timedelta,
               valid_fraction: float = 0.25) -> TimeSplit:
    """Split by snapshot time: the newest ``valid_fraction`` of snapshot times validate; rows
    train only if ``snapshot_at + gap <= cutoff`` (``gap`` = the longest label horizon)."""
    times = pd.to_datetime(snapshot_at, utc=True)
    distinct = np.sort(times.unique())
    if len(distinct) < 2:
        raise ValueError("a time split needs at least two snapshot times")
    index = min(len(distinct) - 1, max(1, int(len(distinct) * (1 - valid_fraction))))
    cutoff = pd.Timestamp(distinct[index])
    valid = (times >= cutoff).to_numpy()
    train = ((times < cutoff) & (times + gap <= cutoff)).to_numpy()
    return TimeSplit(train=train, valid=valid, cutoff=cutoff)


def classification_metrics(y: np.ndarray, p: np.ndarray,
                           threshold: float = 0.5) -> dict[str, float | int | None]:
    """Average precision (the promotion score), ROC AUC, Brier score, precision and recall at
    ``threshold``; scores are None when the fold has a single class."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    positives = int(y.sum())
    both = 0 < positives < len(y)
    predicted = p >= threshold
    tp = int((predicted & (y == 1)).sum())
    return {
        "n": len(y),
        "positives": positives,
        "average_precision": float(average_precision_score(y, p)) if both else None,
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p, pos_label=1)) if len(y) else None,
        "precision": tp / int(predicted.sum()) if predicted.any() else None,
        "recall": tp / positives if positives else None,
    }


def interval_metrics(y: np.ndarray, low: np.ndarray, mid: np.ndarray,
                     high: np.ndarray) -> dict[str, float | int | None]:
    """Mean absolute error of the RUL estimate and the coverage of its interval."""
    y = np.asarray(y, dtype=float)
    if not len(y):
        return {"n": 0, "mae_days": None, "coverage": None}
    return {
        "n": len(y),
        "mae_days": float(np.mean(np.abs(np.asarray(mid) - y))),
        "coverage": float(np.mean((np.asarray(low) <= y) & (y <= np.asarray(high)))),
    }
