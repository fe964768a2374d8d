"""Precision, recall and warning lead time of failure predictions against recorded failures.

Two views of the same question:

- :func:`alarm_metrics` -- over prediction snapshots (a frame with ``asset_id``,
  ``snapshot_at``, ``days_to_failure`` and a probability): a snapshot is positive when the
  component failed within the horizon after it; an alarm is a probability at or above the
  threshold. The *lead time* of a failure is the time from the first alarm in the horizon
  before it to the failure (failures without such an alarm are missed and not averaged).
  Event-level figures count *warnings*, what a service desk sees: an alarm of an asset with
  no alarm of it in the horizon before opens a warning, later alarms within the horizon of the
  previous one belong to it (the ticket flow likewise updates the one open ticket). A warning
  is true if one of its snapshots is positive (the component failed within the horizon after
  one of its alarms); warning recall is the share of failures warned.
- :func:`evaluate_stored_predictions` -- the same over the ``failure_prediction`` rows in the
  database against ``asset_event`` failures (the fleet simulator's ground truth). Predictions
  whose horizon reaches past the newest recorded event or telemetry are left out (their outcome
  is not known yet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

__all__ = ["AlarmMetrics", "alarm_metrics", "evaluate_stored_predictions"]


@dataclass(frozen=True)
class AlarmMetrics:
    """Snapshot-level precision/recall and failure-level detection and lead time."""

    snapshots: int
    positives: int
    alarms: int
    precision: float | None
    recall: float | None
    failures: int
    failures_warned: int
    mean_lead_hours: float | None
    warnings: int = 0
    true_warnings: int = 0

    @property
    def warning_precision(self) -> float | None:
        return self.true_warnings / self.warnings if self.warnings else None

    @property
    def warning_recall(self) -> float | None:
        return self.failures_warned / self.failures if self.failures else None


def alarm_metrics(frame: pd.DataFrame, probability: np.ndarray, *, horizon_days: float,
                  threshold: float = 0.5) -> AlarmMetrics:
    """Metrics of alarms ``probability >= threshold`` on labelled snapshots of ``frame``.

    Failures and warnings are per asset, or per (asset, component type) when the frame has a
    ``component_type`` column (several components' rows at once)."""
    dtf = frame["days_to_failure"].to_numpy(dtype=float)
    positive = ~np.isnan(dtf) & (dtf < horizon_days)
    alarm = np.asarray(probability, dtype=float) >= threshold
    tp = int((positive & alarm).sum())
    at = pd.to_datetime(frame["snapshot_at"], utc=True)
    failure_at = (at + pd.to_timedelta(np.where(positive, dtf, np.nan), unit="D")).dt.round("s")
    keys = [frame["asset_id"]]
    if "component_type" in frame:
        keys.append(frame["component_type"].astype(str))
    unit = pd.MultiIndex.from_arrays(keys).factorize()[0]
    events = pd.DataFrame({"unit": unit, "failure": failure_at,
                           "at": at, "alarm": alarm})[positive]
    per_failure = events.groupby(["unit", "failure"])
    failures = per_failure.ngroups
    warned = events[events["alarm"]].groupby(["unit", "failure"])["at"].min().reset_index()
    leads = (warned["failure"] - warned["at"]).dt.total_seconds() / 3600.0
    warnings, true_warnings = _warnings(unit, at, alarm, positive,
                                       pd.Timedelta(days=horizon_days))
    return AlarmMetrics(
        warnings=warnings, true_warnings=true_warnings,
        snapshots=len(frame), positives=int(positive.sum()), alarms=int(alarm.sum()),
        precision=tp / int(alarm.sum()) if alarm.any() else None,
        recall=tp / int(positive.sum()) if positive.any() else None,
        failures=failures, failures_warned=len(warned),
        mean_lead_hours=float(np.mean(leads)) if len(warned) else None,
    )


def _warnings(assets: np.ndarray, at: pd.Series, alarm: np.ndarray, positive: np.ndarray,
              horizon: pd.Timedelta) -> tuple[int, int]:
    """(warnings, true warnings): alarms of an asset less than ``horizon`` after its previous
    alarm continue that warning; a warning is true if one of its alarms is positive."""
    times = at.to_numpy()[alarm]
    assets, positive = assets[alarm], positive[alarm]
    if not len(times):
        return 0, 0
    order = np.lexsort((times, assets))
    times, assets, positive = times[order], assets[order], positive[order]
    opens = np.r_[True, (assets[1:] != assets[:-1])
                  | (times[1:] - times[:-1] >= horizon.to_timedelta64())]
    hit = pd.Series(positive).groupby(np.cumsum(opens)).any()
    return int(opens.sum()), int(hit.sum())


_STORED_SQL = """
WITH known AS (
    SELECT greatest((SELECT max(time) FROM asset_event),
                    (SELECT max(predicted_at) FROM failure_prediction)) AS until
)
SELECT p.asset_id, p.component_type, p.predicted_at, p.failure_probability,
       extract(epoch FROM (
           SELECT min(ev.time) FROM asset_event ev
            WHERE ev.asset_id = p.asset_id AND ev.component_type = p.component_type
              AND ev.kind = 'failure' AND ev.time >= p.predicted_at
       ) - p.predicted_at) / 86400.0 AS days_to_failure
FROM failure_prediction p, known
WHERE p.horizon_days = %(horizon)s
  AND (%(component)s::text IS NULL OR p.component_type = %(component)s)
  AND p.predicted_at + make_interval(days => p.horizon_days) <= known.until
"""


def evaluate_stored_predictions(conn: psycopg.Connection, *, horizon_days: int,
                                threshold: float = 0.5,
                                component_type: str | None = None) -> AlarmMetrics:
    """:func:`alarm_metrics` of the stored predictions of one horizon."""
    rows = conn.execute(_STORED_SQL, {"horizon": horizon_days,
                                      "component": component_type}).fetchall()
    frame = pd.DataFrame(rows, columns=["asset_id", "component_type", "snapshot_at",
                                        "probability", "days_to_failure"])
    frame["days_to_failure"] = frame["days_to_failure"].astype(float)
    return alarm_metrics(frame, frame["probability"].to_numpy(dtype=float),
                         horizon_days=horizon_days, threshold=threshold)
