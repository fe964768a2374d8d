"""Precision, recall, warnings and lead time of alarms, computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from assetwatch.models.prediction.evaluation import alarm_metrics

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_alarm_metrics_by_hand() -> None:
    # asset 1 fails at T0 + 2 d; snapshots every 12 h; horizon 1 day
    at = [T0 + timedelta(hours=12 * k) for k in range(5)]       # 0, 12, 24, 36, 48 h
    dtf = [2.0, 1.5, 1.0, 0.5, np.nan]
    frame = pd.DataFrame({"asset_id": [1] * 5 + [2] * 2, "snapshot_at": at + at[:2],
                          "days_to_failure": [*dtf, np.nan, np.nan]})
    probability = np.array([0.9, 0.1, 0.8, 0.7, 0.0, 0.6, 0.6])
    m = alarm_metrics(frame, probability, horizon_days=1.0, threshold=0.5)
    assert (m.positives, m.alarms) == (1, 5)        # only 36 h is within a day of the failure
    assert m.precision == pytest.approx(1 / 5) and m.recall == 1.0
    assert (m.failures, m.failures_warned) == (1, 1)
    assert m.mean_lead_hours == pytest.approx(12.0)
    # warnings (an alarm a day or more after the asset's previous one opens a new one):
    # asset 1 {0 h}, {24 h, 36 h: true, 36 h is positive}; asset 2 {0 h, 12 h}
    assert (m.warnings, m.true_warnings) == (3, 1)
    assert m.warning_precision == pytest.approx(1 / 3) and m.warning_recall == 1.0


def test_alarms_within_the_horizon_are_one_warning() -> None:
    # alarms every 12 h for 3 days on one asset, horizon 1 day: one warning; a gap of a day
    # or more opens the next
    at = [T0 + timedelta(hours=12 * k) for k in range(6)] + [T0 + timedelta(days=5)]
    frame = pd.DataFrame({"asset_id": [1] * 7, "snapshot_at": at,
                          "days_to_failure": [np.nan] * 7})
    m = alarm_metrics(frame, np.ones(7), horizon_days=1.0)
    assert (m.warnings, m.true_warnings, m.warning_precision) == (2, 0, 0.0)


def test_no_alarm_no_failure() -> None:
    frame = pd.DataFrame({"asset_id": [1], "snapshot_at": [T0], "days_to_failure": [np.nan]})
    m = alarm_metrics(frame, np.array([0.1]), horizon_days=7)
    assert (m.precision, m.recall, m.mean_lead_hours, m.warnings) == (None, None, None, 0)


def test_components_of_one_asset_warn_separately() -> None:
    # one asset, two components alarmed at the same times; only the bearing fails
    at = [T0, T0 + timedelta(hours=12)] * 2
    frame = pd.DataFrame({"asset_id": [1] * 4, "snapshot_at": at,
                          "component_type": ["bearing", "bearing", "seal", "seal"],
                          "days_to_failure": [0.9, 0.4, np.nan, np.nan]})
    m = alarm_metrics(frame, np.ones(4), horizon_days=1.0)
    assert (m.warnings, m.true_warnings) == (2, 1)
    assert (m.failures, m.failures_warned) == (1, 1)
