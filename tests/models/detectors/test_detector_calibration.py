"""Calibrated scores mean the same rarity for every detector and asset."""

from __future__ import annotations

import random

import pytest

from assetwatch.models.detectors import DETECTORS, make_detector
from assetwatch.models.detectors.calibration import TailCalibrator, score_of_probability

#: samples per asset: the 400 of the warm-up, then 1,400 scored (an alarm rate of 2 % is 28)
SAMPLES = 1800


def test_score_scale_is_decades_of_rarity() -> None:
    assert score_of_probability(1.0) == 0.0
    assert score_of_probability(1e-2) == pytest.approx(0.5)
    assert score_of_probability(1e-3) == pytest.approx(0.75)
    assert score_of_probability(1e-4) == 1.0
    assert score_of_probability(0.0) == 1.0


def test_calibrator_is_monotone_and_bounded() -> None:
    rng = random.Random(3)
    cal = TailCalibrator.fit([abs(rng.gauss(0, 1)) for _ in range(2000)])
    grid = [i * 0.05 for i in range(200)]
    scores = [cal.score(r) for r in grid]
    assert scores == sorted(scores)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert cal.score(float("nan")) == 0.0


def test_calibrator_tail_matches_its_meaning_on_fresh_normal_data() -> None:
    rng = random.Random(5)
    cal = TailCalibrator.fit([rng.gauss(0, 1) ** 2 for _ in range(4000)])
    fresh = [cal.score(rng.gauss(0, 1) ** 2) for _ in range(50_000)]
    above_half = sum(s >= 0.5 for s in fresh) / len(fresh)  # promised: about 1 %
    above_075 = sum(s >= 0.75 for s in fresh) / len(fresh)  # promised: about 0.1 %
    assert 0.005 < above_half < 0.02
    assert above_075 < 0.004


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_same_threshold_same_alarm_rate_across_assets_of_different_scale(name: str) -> None:
    """Two assets whose sensors differ by scale and offset alarm equally rarely at 0.75."""
    rates = []
    for scale, offset in ((1.0, 0.0), (250.0, 1e4)):
        rng = random.Random(11)
        det = make_detector(name, warmup=400)
        alarms = 0
        for i in range(SAMPLES):
            x = {f"s{j}": offset + scale * (j + rng.gauss(0, 1)) for j in range(4)}
            if det.score_learn_one(x) >= 0.75 and i >= 400:
                alarms += 1
        rates.append(alarms / (SAMPLES - 400))
    assert max(rates) < 0.02
