"""Anomaly events from a stream of calibrated scores: hysteresis, minimum duration, sensors.

An event *opens* when the score reaches ``open_level`` and stays at or above ``close_level``
for at least ``min_duration_s`` (shorter blips are dropped); it *extends* while the score stays
at or above ``close_level`` and *closes* at the first sample below it (``ended_at`` is that
sample's time). ``peak_score`` is the highest score seen and ``sensors`` are the sensors with
the largest share of the score summed over the event (at most ``top_sensors``).

:class:`EventTracker` is plain, picklable state (it lives in the detector checkpoint); the
service drains the changes and writes them to ``anomaly_event``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["EventRecord", "EventTracker"]


@dataclass
class EventRecord:
    """One anomaly event as the database holds it; ``event_id`` is set once it is written."""

    started_at: datetime
    peak_score: float
    kind: str = "anomaly"
    ended_at: datetime | None = None
    event_id: int | None = None
    sensor_weights: dict[str, float] = field(default_factory=dict)
    top_sensors: int = 3

    @property
    def sensors(self) -> list[str]:
        ranked = sorted(self.sensor_weights.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, weight in ranked[: self.top_sensors] if weight > 0]

    def add(self, score: float, contributions: dict[str, float]) -> None:
        self.peak_score = max(self.peak_score, score)
        total = sum(contributions.values())
        if total > 0:
            for name, value in contributions.items():
                self.sensor_weights[name] = self.sensor_weights.get(name, 0.0) + value / total


class EventTracker:
    """Turns ``(time, score, contributions)`` into opened, extended and closed events.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 1)
    >>> tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=2)
    >>> for i, s in enumerate([0.1, 0.95, 0.97, 0.8, 0.99, 0.5, 0.1]):
    ...     tracker.observe(t0 + timedelta(seconds=i), s, {"flow": 1.0})
    >>> [(e.started_at.second, e.ended_at.second, e.peak_score, e.sensors)
    ...  for e in tracker.drain()]
    [(1, 5, 0.99, ['flow'])]
    """

    def __init__(self, open_level: float = 0.9, close_level: float = 0.75,
                 min_duration_s: float = 5.0, top_sensors: int = 3) -> None:
        if not 0 <= close_level <= open_level <= 1:
            raise ValueError("need 0 <= close_level <= open_level <= 1")
        self.open_level = open_level
        self.close_level = close_level
        self.min_duration = timedelta(seconds=min_duration_s)
        self.top_sensors = top_sensors
        self._candidate: EventRecord | None = None  # above open_level, not yet long enough
        self._open: EventRecord | None = None
        self._finished: list[EventRecord] = []
        self._dirty = False

    @property
    def open_event(self) -> EventRecord | None:
        """The confirmed event still open, if any."""
        return self._open

    @property
    def is_active(self) -> bool:
        """True while an event is open or a candidate awaits its minimum duration: then every
        score matters; otherwise only scores at or above ``close_level`` can change anything."""
        return self._open is not None or self._candidate is not None

    def observe(self, time: datetime, score: float, contributions: dict[str, float]) -> None:
        """Feed one scored sample (in time order)."""
        if self._open is not None:
            if score >= self.close_level:
                self._open.add(score, contributions)
                self._dirty = True
            else:
                self._open.ended_at = time
                self._finished.append(self._open)
                self._open = None
            return
        if self._candidate is not None:
            if score < self.close_level:
                self._candidate = None
                return
            self._candidate.add(score, contributions)
            if time - self._candidate.started_at >= self.min_duration:
                self._open, self._candidate = self._candidate, None
                self._dirty = True
            return
        if score >= self.open_level:
            self._candidate = EventRecord(time, score, top_sensors=self.top_sensors)
            self._candidate.add(score, contributions)
            if self.min_duration <= timedelta(0):
                self._open, self._candidate = self._candidate, None
                self._dirty = True

    def drain(self) -> list[EventRecord]:
        """Events to write since the last drain: closed ones, then the open one if changed."""
        out, self._finished = self._finished, []
        if self._open is not None and self._dirty:
            out.append(self._open)
        self._dirty = False
        return out
