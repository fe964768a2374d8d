"""Anomaly events: hysteresis, minimum duration, contributing sensors."""

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
    tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=2)
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
    assert closed.peak_score == 0.99
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
