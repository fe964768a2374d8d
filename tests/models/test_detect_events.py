"""Alarm events: hysteresis, minimum duration, re-arm, acknowledgment, contributing sensors."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta

import pytest

from assetwatch.models.monitoring.events import EventTracker

T0 = datetime(2026, 1, 1)


def _feed(tracker: EventTracker, scores: list[float], sensors: dict[str, float] | None = None):
    for i, score in enumerate(scores):
        tracker.observe(T0 + timedelta(seconds=i), score, sensors or {"flow": 1.0})


def test_short_blip_opens_nothing() -> None:
    tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=5)
    _feed(tracker, [0.1, 0.95, 0.99, 0.96, 0.2, 0.1])
    assert tracker.drain() == []
    assert tracker.open_event is None


def test_open_extend_close_with_hysteresis() -> None:
    tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=2, rearm_s=0)
    _feed(tracker, [0.1, 0.92, 0.95, 0.97])
    (opened,) = tracker.drain()
    assert opened.ended_at is None and opened.started_at == T0 + timedelta(seconds=1)
    opened.event_id = 41  # as the service does after inserting it
    # 0.8 is below the open level but above the close level: the event extends
    for i, score in enumerate([0.8, 0.78, 0.99, 0.6], start=4):
        tracker.observe(T0 + timedelta(seconds=i), score, {"flow": 1.0})
    (closed,) = tracker.drain()
    assert closed.event_id == 41
    assert closed.ended_at == T0 + timedelta(seconds=7)
    assert closed.peak_score == 0.99 and closed.peak_at == T0 + timedelta(seconds=6)
    assert tracker.open_event is None and tracker.drain() == []


def test_sensors_are_those_contributing_most() -> None:
    tracker = EventTracker(min_duration_s=0, top_sensors=2)
    for i in range(5):
        tracker.observe(T0 + timedelta(seconds=i), 0.95,
                        {"flow": 5.0, "temp": 1.0, "vibration": 3.0, "amps": 0.0})
    (event,) = tracker.drain()
    assert event.sensors == ["flow", "vibration"]


def test_tracker_pickles_with_its_open_event() -> None:
    tracker = EventTracker(min_duration_s=1)
    _feed(tracker, [0.95, 0.95, 0.95])
    tracker.drain()[0].event_id = 7
    restored = pickle.loads(pickle.dumps(tracker))
    assert restored.open_event is not None and restored.open_event.event_id == 7


def test_levels_are_checked() -> None:
    with pytest.raises(ValueError):
        EventTracker(open_level=0.5, close_level=0.8)


def test_candidate_dropped_below_close_level_does_not_linger() -> None:
    tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=5)
    tracker.observe(T0, 0.95, {"flow": 1.0})
    assert tracker.is_active
    tracker.observe(T0 + timedelta(seconds=1), 0.2, {})
    assert not tracker.is_active
    # a new blip an hour later must not inherit the old start and open at once
    tracker.observe(T0 + timedelta(hours=1), 0.95, {"flow": 1.0})
    assert tracker.drain() == [] and tracker.open_event is None


def test_flapping_within_rearm_time_is_one_event() -> None:
    tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=2, rearm_s=10)
    flapping = [0.95, 0.95, 0.95, 0.3, 0.3, 0.95, 0.2, 0.96, 0.1, 0.97, 0.97, 0.2]
    _feed(tracker, flapping + [0.1] * 30)
    events = tracker.drain()
    assert len(events) == 1
    (event,) = events
    assert event.started_at == T0 and event.ended_at == T0 + timedelta(seconds=11)
    # without re-arm, the same flapping is several events
    no_rearm = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=0, rearm_s=0)
    _feed(no_rearm, flapping + [0.1] * 30)
    assert len(no_rearm.drain()) == 4


def test_after_rearm_time_a_new_deviation_is_a_new_event() -> None:
    tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=2, rearm_s=5)
    _feed(tracker, [0.95] * 4 + [0.1] * 8 + [0.95] * 4 + [0.1] * 8)
    first, second = tracker.drain()
    assert first.ended_at == T0 + timedelta(seconds=4)
    assert second.started_at == T0 + timedelta(seconds=12)


def test_hysteresis_holds_between_levels_and_raises_only_at_the_open_level() -> None:
    tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=0, rearm_s=0)
    _feed(tracker, [0.8, 0.85, 0.89, 0.8])  # never reaches the raise level
    assert tracker.drain() == []
    _feed(tracker, [0.91, 0.8, 0.76, 0.8, 0.7])
    (event,) = tracker.drain()
    assert event.ended_at == T0 + timedelta(seconds=4)


def _acknowledged(tracker: EventTracker) -> None:
    (event,) = tracker.drain()
    event.event_id = 5
    assert tracker.acknowledge(5)
    assert not tracker.acknowledge(6)  # not the open event


def test_acknowledged_persisting_deviation_does_not_realarm() -> None:
    tracker = EventTracker(min_duration_s=2, rearm_s=5)
    for i in range(4):
        tracker.observe(T0 + timedelta(seconds=i), 0.97, {"flow": 3.0, "temp": 1.0})
    _acknowledged(tracker)
    # the same deviation persists, dips and comes back: still the acknowledged event
    for i, score in enumerate([0.99, 0.5, 0.95] + [1.0] * 100, start=4):
        tracker.observe(T0 + timedelta(seconds=i), score, {"flow": 3.0, "temp": 1.0})
    (event,) = tracker.drain()
    assert event.event_id == 5 and event.acknowledged and event.ended_at is None


def test_acknowledged_deviation_that_changes_alarms_again() -> None:
    tracker = EventTracker(min_duration_s=2, rearm_s=5)
    for i in range(4):
        tracker.observe(T0 + timedelta(seconds=i), 0.97, {"flow": 3.0, "temp": 1.0})
    _acknowledged(tracker)
    # a new sensor leads the deviation for longer than the minimum duration: a new alarm
    for i in range(4, 10):
        tracker.observe(T0 + timedelta(seconds=i), 1.0, {"flow": 1.0, "vibration": 6.0})
    ended, new = tracker.drain()
    assert ended.event_id == 5 and ended.ended_at == T0 + timedelta(seconds=4)
    assert new.event_id is None and new.started_at == T0 + timedelta(seconds=4)
    assert not new.acknowledged and new.sensors[0] == "vibration"


def test_unacknowledged_change_of_sensor_is_the_same_event() -> None:
    tracker = EventTracker(min_duration_s=2, rearm_s=5)
    for i in range(4):
        tracker.observe(T0 + timedelta(seconds=i), 0.97, {"flow": 3.0})
    tracker.drain()[0].event_id = 5
    for i in range(4, 10):
        tracker.observe(T0 + timedelta(seconds=i), 1.0, {"vibration": 6.0})
    (event,) = tracker.drain()
    assert event.event_id == 5 and event.ended_at is None
