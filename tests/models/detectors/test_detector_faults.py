"""A fault injected into a steady signal is detected within a stated delay, without false alarms.

The signal: 8 sensors, steady levels with unit Gaussian noise, 400 samples of warm-up, 600
normal samples scored, then a step fault. Alarm = calibrated score >= 0.9.

Stated delays (samples after the step), checked on five seeds each:

* ``baseline``: a +3 sd step on one of the 8 sensors within 40 samples;
* ``robust_z``: a +6 sd step on one sensor within 2 samples;
* ``hst``: a +6 sd step on three sensors within 60 samples;
* ``ensemble``: a +3 sd step on one sensor within 40 samples, and a single +8 sd spike at once.
"""

from __future__ import annotations

import random

import pytest

from assetwatch.models.detectors import make_detector

ALARM = 0.9
FAULT_AT = 1000


def _first_alarm(name: str, seed: int, step: float, faulty: tuple[int, ...]) -> tuple[int | None,
                                                                                      int]:
    rng = random.Random(seed)
    det = make_detector(name)
    false_alarms = 0
    for i in range(FAULT_AT + 200):
        x = {f"s{j}": 10.0 * j + rng.gauss(0, 1) for j in range(8)}
        if i >= FAULT_AT:
            for j in faulty:
                x[f"s{j}"] += step
        score = det.score_learn_one(x)
        if score >= ALARM:
            if i < FAULT_AT:
                false_alarms += 1
            else:
                return i - FAULT_AT, false_alarms
    return None, false_alarms


@pytest.mark.parametrize(("name", "step", "faulty", "max_delay"), [
    ("baseline", 3.0, (3,), 40),
    ("robust_z", 6.0, (3,), 2),
    ("hst", 6.0, (1, 3, 5), 60),
    ("ensemble", 3.0, (3,), 40),
])
@pytest.mark.parametrize("seed", range(5))
def test_step_fault_detected_within_stated_delay(name: str, step: float, faulty: tuple[int, ...],
                                                 max_delay: int, seed: int) -> None:
    delay, false_alarms = _first_alarm(name, seed, step, faulty)
    assert false_alarms <= 1
    assert delay is not None and delay <= max_delay, f"{name}: delay {delay}"


@pytest.mark.parametrize("name", ["ensemble", "robust_z"])
@pytest.mark.parametrize("seed", range(3))
def test_single_sample_spike_is_flagged_on_that_sample(name: str, seed: int) -> None:
    rng = random.Random(seed)
    det = make_detector(name)
    for _ in range(FAULT_AT):
        det.learn_one({f"s{j}": 10.0 * j + rng.gauss(0, 1) for j in range(8)})
    spike = {f"s{j}": 10.0 * j + rng.gauss(0, 1) for j in range(8)}
    spike["s2"] += 8.0
    assert det.score_one(spike) >= ALARM
