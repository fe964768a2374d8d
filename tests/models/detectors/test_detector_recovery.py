"""The recovery rule of the baseline detector: after a large held deviation ends, a sensor that
settles near (but not at) its old level takes the settled level as its normal.

Each behaviour is checked against the rule switched off (``recover_share=None``, the default).
"""

from __future__ import annotations

import pickle
import random

import pytest

from assetwatch.models.detectors import BaselineDeviation

ALARM = 0.9
WARMUP = 400
FAULT = 300


def _healthy(rng: random.Random) -> dict[str, float]:
    return {"flow": 30 + rng.gauss(0, 0.4), "vibration": 2.0 + rng.gauss(0, 0.02),
            "pressure": 6 + rng.gauss(0, 0.1), "current": 40 + rng.gauss(0, 0.3)}


def _run(after: float, *, tail: int = 300, **params: object) -> list[float]:
    """Scores of the ``tail`` samples after a 300-sample vibration fault of +100 sd that ends
    with the vibration ``after`` sd above its old level."""
    rng = random.Random(11)
    det = BaselineDeviation(warmup=WARMUP, alarm_adapt=0.0, **params)  # type: ignore[arg-type]
    for _ in range(WARMUP + 100):
        det.learn_one(_healthy(rng))
    for _ in range(FAULT):
        x = _healthy(rng)
        x["vibration"] += 2.0
        assert det.score_learn_one(x) >= ALARM
    scores = []
    for _ in range(tail):
        x = _healthy(rng)
        x["vibration"] += 0.02 * after
        scores.append(det.score_learn_one(x))
    return scores


def _alarms(scores: list[float]) -> int:
    return sum(s >= ALARM for s in scores)


@pytest.mark.parametrize("mode", ["reset", "offset"])
def test_a_level_left_changed_by_a_fault_stops_alarming(mode: str) -> None:
    held = _run(after=4.0)
    recovered = _run(after=4.0, recover_share=0.25, recover_mode=mode)
    assert _alarms(held[150:]) == 150  # without the rule: held until max_freeze
    assert _alarms(recovered[150:]) == 0


def test_a_fault_that_persists_is_still_alarmed() -> None:
    persisting = _run(after=100.0, tail=200, recover_share=0.25)
    assert _alarms(persisting) == 200
    part_way = _run(after=40.0, tail=200, recover_share=0.25)  # above a quarter of the peak
    assert _alarms(part_way) == 200


def test_offset_mode_leaves_a_full_return_as_it_was() -> None:
    """Back at its old level, the sensor keeps the short average's memory of the fault in
    ``offset`` mode (the same scores as without the rule); ``reset`` mode forgets it."""
    off = _run(after=0.0)
    assert _run(after=0.0, recover_share=0.25, recover_mode="offset") == off
    reset = _run(after=0.0, recover_share=0.25, recover_mode="reset")
    assert _alarms(reset) < _alarms(off)


def test_a_recovery_in_progress_survives_a_checkpoint() -> None:
    rng = random.Random(4)
    det = BaselineDeviation(warmup=WARMUP, recover_share=0.25)
    for _ in range(WARMUP + 50):
        det.learn_one(_healthy(rng))
    stream = []
    for i in range(400):
        x = _healthy(rng)
        x["vibration"] += 2.0 if i < 200 else 0.08
        stream.append(x)
    for x in stream[:210]:
        det.score_learn_one(x)
    restored = pickle.loads(pickle.dumps(det))
    assert [restored.score_learn_one(x) for x in stream[210:]] == \
        [det.score_learn_one(x) for x in stream[210:]]


def test_a_checkpoint_from_before_the_rule_resumes_without_it() -> None:
    rng = random.Random(9)
    det = BaselineDeviation(warmup=WARMUP)
    for _ in range(WARMUP + 20):
        det.learn_one(_healthy(rng))
    old = dict(det.__dict__)
    for key in ("recover_share", "recover_mode", "_peak", "_calm", "_calm_sum", "_calm_late",
                "_follow"):
        del old[key]
    resumed = BaselineDeviation.__new__(BaselineDeviation)
    resumed.__setstate__(pickle.loads(pickle.dumps(old)))
    assert resumed.recover_share is None
    for _ in range(50):
        x = _healthy(rng)
        assert resumed.score_learn_one(x) == det.score_learn_one(x)


def test_bad_constants_are_refused() -> None:
    with pytest.raises(ValueError, match="recover_share"):
        BaselineDeviation(recover_share=1.5)
    with pytest.raises(ValueError, match="recover_mode"):
        BaselineDeviation(recover_mode="sometimes")
