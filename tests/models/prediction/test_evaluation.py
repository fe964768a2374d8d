"""Precision, recall, episodes and lead time of alarms, computed by hand."""

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
    # episodes: asset 1 {0 h}, {24 h, 36 h}; asset 2 {0 h, 12 h}
    assert (m.episodes, m.true_episodes) == (3, 1)
    assert m.event_precision == pytest.approx(1 / 3) and m.event_recall == 1.0


def test_no_alarm_no_failure() -> None:
    frame = pd.DataFrame({"asset_id": [1], "snapshot_at": [T0], "days_to_failure": [np.nan]})
    m = alarm_metrics(frame, np.array([0.1]), horizon_days=7)
    assert (m.precision, m.recall, m.mean_lead_hours, m.episodes) == (None, None, None, 0)
