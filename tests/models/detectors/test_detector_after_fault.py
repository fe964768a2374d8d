"""After a fault ends, the default detectors return to normal; a temperature may stay changed.

Two behaviours of :class:`BaselineDeviation` (also the ``ensemble``'s member for lasting
shifts; its ``robust_z`` member still sees a temperature's level), each checked against the
setting that turns it off:

* a held sensor does not adapt while its fault lasts (``alarm_adapt=0``): a large fault that
  moved the baseline even slowly would leave it off the normal level, and the offset would
  alarm on after the fault ended;
* slow (thermal) sensors follow their drift faster and are never held (``slow_adapt``): a
  temperature that settles at a new level after a fault, or drifts with the process, is not
  an alarm for as long as it stays there, while a fault on another sensor still is.
"""

from __future__ import annotations

import pickle
import random

import pytest

from assetwatch.models.detectors import BaselineDeviation, make_detector

ALARM = 0.9
WARMUP = 400


def _healthy(rng: random.Random) -> dict[str, float]:
    return {"flow": 30 + rng.gauss(0, 0.4), "vibration": 2.0 + rng.gauss(0, 0.02),
            "pressure": 6 + rng.gauss(0, 0.1), "fluid_temp": 25 + rng.gauss(0, 0.05)}


def _alarms_after_a_large_fault(**params: float) -> list[bool]:
    """Alarms on the 200 samples after a 300-sample vibration fault of +100 sd ends."""
    rng = random.Random(3)
    det = BaselineDeviation(warmup=WARMUP, **params)
    for _ in range(WARMUP + 100):
        det.learn_one(_healthy(rng))
    for _ in range(300):
        x = _healthy(rng)
        x["vibration"] += 2.0
        assert det.score_learn_one(x) >= ALARM
    return [det.score_learn_one(_healthy(rng)) >= ALARM for _ in range(200)]


def test_a_held_sensor_returns_to_normal_when_its_fault_ends() -> None:
    held = _alarms_after_a_large_fault()
    creeping = _alarms_after_a_large_fault(alarm_adapt=0.03)
    # the fast average remembers a fault of 100 sd for about a hundred samples, then quiet
    assert sum(held[:80]) >= 70 and sum(held[120:]) == 0
    # the baseline crept towards the fault: the offset alarms on
    assert sum(creeping[120:]) >= 60


def _temperature_run(det_name: str, *, fault: bool, **params: object) -> list[float]:
    """Healthy readings; from sample 500 the fluid temperature drifts up by 2 C over 200
    samples (40 warm-up sd) and stays; with ``fault``, flow drops by 3 from sample 900."""
    rng = random.Random(5)
    det = make_detector(det_name, warmup=WARMUP, **params)
    scores = []
    for i in range(1100):
        x = _healthy(rng)
        x["fluid_temp"] += 2.0 * min(1.0, max(0.0, (i - 500) / 200))
        if fault and i >= 900:
            x["flow"] -= 3.0
        scores.append(det.score_learn_one(x))
    return scores


def test_a_temperature_at_a_new_level_is_no_alarm_but_a_fault_still_is() -> None:
    drifting = _temperature_run("baseline", fault=False, slow_adapt=10.0)
    assert sum(s >= ALARM for s in drifting[500:]) == 0
    faulty = _temperature_run("baseline", fault=True, slow_adapt=10.0)
    assert sum(s >= ALARM for s in faulty[900:940]) >= 25


def test_by_default_the_same_temperature_alarms() -> None:
    """The shipped default: a temperature that rises and stays is a deviation (a precursor)."""
    scores = _temperature_run("baseline", fault=False)
    assert sum(s >= ALARM for s in scores[750:]) >= 300


def test_a_checkpoint_from_before_resumes_as_it_behaved() -> None:
    rng = random.Random(9)
    det = BaselineDeviation(warmup=WARMUP, alarm_adapt=0.03, slow_adapt=None)
    for _ in range(WARMUP + 20):
        det.learn_one(_healthy(rng))
    old = dict(det.__dict__)
    for key in ("slow_adapt", "_level_w", "_trend_w", "_holdable"):
        del old[key]
    resumed = BaselineDeviation.__new__(BaselineDeviation)
    resumed.__setstate__(pickle.loads(pickle.dumps(old)))
    assert resumed.slow_adapt is None and resumed.alarm_adapt == 0.03
    for _ in range(50):
        x = _healthy(rng)
        assert resumed.score_learn_one(x) == det.score_learn_one(x)


def test_ensemble_member_constants_reach_the_member_and_unknown_ones_are_refused() -> None:
    det = make_detector("ensemble", member_params={"baseline": {"slow_adapt": None}})
    assert det.clone()._members[0].slow_adapt is None
    assert make_detector("ensemble")._members[0].slow_adapt is None
    with pytest.raises(ValueError, match="not in the ensemble: hst"):
        make_detector("ensemble", member_params={"hst": {}})
