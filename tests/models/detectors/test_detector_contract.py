"""The contract every detector keeps, run against each registered detector."""

from __future__ import annotations

import copy
import math
import pickle
import random

import pytest

from assetwatch.models.detectors import DETECTORS, UnknownDetector, make_detector

SENSORS = ("flow", "pressure", "temp", "current")
WARMUP = 60


def _stream(n: int, seed: int = 7) -> list[dict[str, float]]:
    rng = random.Random(seed)
    return [{"flow": 30 + rng.gauss(0, 1), "pressure": 6 + rng.gauss(0, 0.1),
             "temp": 60 + 0.001 * i + rng.gauss(0, 0.3), "current": 40 + rng.gauss(0, 0.5)}
            for i in range(n)]


@pytest.fixture(params=sorted(DETECTORS))
def name(request: pytest.FixtureRequest) -> str:
    return request.param


def _fresh(name: str):
    return make_detector(name, warmup=WARMUP)


def test_learn_one_returns_nothing_and_input_is_not_mutated(name: str) -> None:
    det = _fresh(name)
    for x in _stream(WARMUP + 40):
        before = copy.deepcopy(x)
        assert det.learn_one(x) is None
        det.score_one(x)
        det.contributions(x)
        assert x == before


def test_scores_are_in_unit_interval_and_zero_during_warmup(name: str) -> None:
    det = _fresh(name)
    stream = _stream(WARMUP + 200)
    for i, x in enumerate(stream):
        score = det.score_one(x)
        assert 0.0 <= score <= 1.0 and math.isfinite(score)
        if i < WARMUP:
            assert score == 0.0 and not det.is_warm
        det.learn_one(x)
    assert det.is_warm
    extreme = {"flow": 1e9, "pressure": -1e9, "temp": float("inf"), "current": float("nan")}
    assert 0.0 <= det.score_one(extreme) <= 1.0


def test_score_one_does_not_learn(name: str) -> None:
    det = _fresh(name)
    for x in _stream(WARMUP + 20):
        det.learn_one(x)
    probe = {"flow": 31.0, "pressure": 6.05, "temp": 60.1, "current": 40.2}
    assert det.score_one(probe) == det.score_one(probe)
    assert det.n_learned == WARMUP + 20


def test_score_learn_one_equals_score_then_learn(name: str) -> None:
    a, b = _fresh(name), _fresh(name)
    for x in _stream(WARMUP + 100):
        expected = a.score_one(x)
        a.learn_one(x)
        assert b.score_learn_one(x) == pytest.approx(expected, abs=1e-12)


def test_pickle_round_trip_continues_identically(name: str) -> None:
    det = _fresh(name)
    stream = _stream(WARMUP + 200)
    for x in stream[:WARMUP + 50]:
        det.learn_one(x)
    restored = pickle.loads(pickle.dumps(det))
    for x in stream[WARMUP + 50:]:
        assert restored.score_one(x) == det.score_one(x)
        det.learn_one(x)
        restored.learn_one(x)


def test_new_and_missing_sensors_are_tolerated(name: str) -> None:
    det = _fresh(name)
    stream = _stream(WARMUP + 20)
    for i, x in enumerate(stream):
        sample = dict(x)
        if i % 7 == 0:
            del sample["temp"]  # missing during warm-up too
        det.learn_one(sample)
    only_some = {"flow": 30.2}
    with_new = {**stream[-1], "vibration": 2.2}
    nothing = {}
    for x in (only_some, with_new, nothing):
        assert 0.0 <= det.score_one(x) <= 1.0
        det.learn_one(x)
        assert all(v >= 0 for v in det.contributions(x).values())


def test_feature_order_is_irrelevant(name: str) -> None:
    a, b = _fresh(name), _fresh(name)
    for x in _stream(WARMUP + 60):
        reordered = dict(reversed(list(x.items())))
        assert a.score_one(x) == pytest.approx(b.score_one(reordered), abs=1e-12)
        a.learn_one(x)
        b.learn_one(reordered)


def test_clone_is_unfitted_with_same_parameters(name: str) -> None:
    det = _fresh(name)
    for x in _stream(WARMUP + 5):
        det.learn_one(x)
    twin = det.clone()
    assert repr(twin) == repr(det)
    assert not twin.is_warm and twin.n_learned == 0


def test_lasting_fault_scores_higher_than_normal(name: str) -> None:
    det = _fresh(name)
    for x in _stream(WARMUP + 100):
        det.learn_one(x)
    normal = {"flow": 30.0, "pressure": 6.0, "temp": 60.15, "current": 40.0}
    broken = {"flow": 10.0, "pressure": 9.0, "temp": 95.0, "current": 70.0}
    assert det.score_one(broken) > det.score_one(normal)
    for _ in range(20):  # smoothing detectors need a few samples of a lasting fault
        det.learn_one(broken)
    assert det.score_one(broken) >= 0.5  # rarer than 99 % of warm-up behaviour


def test_unknown_detector_is_a_clear_error() -> None:
    with pytest.raises(UnknownDetector, match="unknown detector 'nope'"):
        make_detector("nope")
