"""Labels and the time-aware split: no training row comes after its validation row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetwatch.models.prediction.estimators import WeibullPrior
from assetwatch.models.prediction.training import censor
from assetwatch.models.prediction.validation import horizon_labels, rul_target, time_split

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@settings(max_examples=50, deadline=None)
@given(offsets=st.lists(st.integers(0, 24 * 90), min_size=2, max_size=200),
       gap_days=st.integers(0, 30), fraction=st.floats(0.05, 0.6))
def test_no_training_row_after_a_validation_row(offsets: list[int], gap_days: int,
                                                fraction: float) -> None:
    times = pd.Series([T0 + timedelta(hours=h) for h in offsets])
    if times.nunique() < 2:
        return
    split = time_split(times, gap=timedelta(days=gap_days), valid_fraction=fraction)
    assert split.valid.any()
    assert not (split.train & split.valid).any()
    if split.train.any():
        last_label_end = (times[split.train] + timedelta(days=gap_days)).max()
        assert last_label_end <= times[split.valid].min()
        assert times[split.train].max() < times[split.valid].min()


def test_labels_positive_negative_and_censored() -> None:
    frame = pd.DataFrame({
        "snapshot_at": [T0, T0, T0 + timedelta(days=25), T0 + timedelta(days=25)],
        "days_to_failure": [3.0, np.nan, np.nan, 2.0],
    })
    until = T0 + timedelta(days=30)
    assert horizon_labels(frame, 7, until).tolist()[:2] == [1.0, 0.0]
    labels = horizon_labels(frame, 7, until)
    assert np.isnan(labels[2]) and labels[3] == 1.0     # censored vs. seen to fail
    rul = rul_target(frame, until, cap_days=20)
    assert rul[0] == 3.0 and rul[1] == 20.0 and np.isnan(rul[2])
    # at day 25 a survivor is censored: the failure beside it is left out too, else only the
    # failing components of the newest days would be learned from
    assert np.isnan(rul[3])
    run_to_failure = frame.iloc[[0, 1, 3]].reset_index(drop=True)
    assert rul_target(run_to_failure, until, cap_days=20).tolist() == [3.0, 20.0, 2.0]


def test_no_fault_found_makes_known_negatives() -> None:
    frame = pd.DataFrame({"snapshot_at": [T0 + timedelta(days=25)] * 2,
                          "days_to_failure": [np.nan, 3.0], "days_known_ok": [4.0, 4.0]})
    labels = horizon_labels(frame, 3, T0 + timedelta(days=26))
    assert labels.tolist() == [0.0, 0.0]        # worked for 4 days; the failure came at day 3
    assert horizon_labels(frame, 2.5, T0 + timedelta(days=26)).tolist() == [0.0, 0.0]
    assert horizon_labels(frame, 7, T0 + timedelta(days=26)).isna().tolist() == [True, False]


def test_censor_hides_failures_after_the_cutoff() -> None:
    frame = pd.DataFrame({"snapshot_at": [T0, T0], "days_to_failure": [2.0, 10.0]})
    seen = censor(frame, T0 + timedelta(days=5))
    assert seen["days_to_failure"].tolist()[0] == 2.0
    assert np.isnan(seen["days_to_failure"].tolist()[1])


def test_weibull_prior_is_the_conditional_weibull() -> None:
    prior = WeibullPrior("bearing", [7, 30], by_model={"M": (2.0, 100.0)})
    frame = pd.DataFrame({"model_id": ["M", "M"], "component_age_days": [0.0, 50.0]})
    out = prior.predict(frame)
    assert out["prob_7"][0] == pytest.approx(1 - np.exp(-(7 / 100) ** 2))
    assert out["prob_30"][1] == pytest.approx(1 - np.exp(0.25 - 0.64))
    # median remaining life: S(a + t) / S(a) = 1/2
    assert out["rul_days"][0] == pytest.approx(100 * np.log(2) ** 0.5)
    assert (out["rul_low_days"] <= out["rul_days"]).all()
    assert (out["rul_days"] <= out["rul_high_days"]).all()
    assert out["prob_7"][1] > out["prob_7"][0]            # older is riskier (beta > 1)


def test_rul_margin_is_the_conformal_widening() -> None:
    from assetwatch.models.prediction.training import TrainOptions, rul_margin

    class Fixed:
        rul_regressors = {0.5: None}

        def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame({"rul_low_days": 10.0, "rul_days": 15.0,
                                 "rul_high_days": 20.0}, index=frame.index)

    # observed lives 1..19 days: the interval [10, 20] misses 1..9 by 9..1 days
    frame = pd.DataFrame({"days_to_failure": np.arange(1.0, 20.0)})
    margin = rul_margin(Fixed(), frame, TrainOptions())
    outside = np.maximum(10 - frame["days_to_failure"], frame["days_to_failure"] - 20)
    assert margin == pytest.approx(np.quantile(outside, np.ceil(20 * 0.8) / 19))
    assert ((10 - margin <= frame["days_to_failure"]).mean()) >= 0.8
    assert rul_margin(Fixed(), frame.head(5), TrainOptions()) == 0.0   # too few failures
