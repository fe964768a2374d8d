"""Alarm events from a stream of calibrated scores: hysteresis, minimum duration, re-arm, ack.

The rules, for one asset and detector (all times are the samples' own timestamps):

* **raise**: a *candidate* starts at the first sample at or above ``open_level`` (its onset);
  it becomes an event when the score stays at or above ``close_level`` for at least
  ``min_duration_s`` (shorter blips are dropped); the event's ``started_at`` is the onset;
* **hold**: the event extends while the score stays at or above ``close_level`` (hysteresis:
  raise at one level, clear at a lower one);
* **clear and re-arm**: at the first sample below ``close_level`` the event is *clearing*; it
  ends only when no sample reaches ``open_level`` again for ``rearm_s`` seconds, and
  ``ended_at`` is the time it first fell below ``close_level``. A deviation that comes back
  within the re-arm time is the same event, so a flapping sensor is one event, not fifty;
* **peak**: ``peak_score`` and ``peak_at`` (the first sample with the highest score);
* **sensors**: those with the largest share of the score summed over the event (at most
  ``top_sensors``);
* **acknowledgment** (:meth:`EventTracker.acknowledge`): an acknowledged event stays open
  while its deviation persists and raises nothing new. It *changes* when a sensor outside the
  acknowledged ones (those with at least a quarter of its summed contributions when it was
  acknowledged) becomes the largest contributor at or above ``open_level`` for
  ``min_duration_s``: then the acknowledged event ends there and a new event opens (a new
  alarm). Otherwise it ends like any event, after clearing and re-arm.

:class:`EventTracker` is plain, picklable state (it lives in the detector checkpoint); the
service drains the changes and writes them to ``anomaly_event``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["EventRecord", "EventTracker"]


@dataclass
class EventRecord:
    """One alarm event as the database holds it; ``event_id`` is set once it is written."""

    started_at: datetime
    peak_score: float
    kind: str = "anomaly"
    ended_at: datetime | None = None
    event_id: int | None = None
    sensor_weights: dict[str, float] = field(default_factory=dict)
    top_sensors: int = 3
    peak_at: datetime | None = None
    #: sensors named when the event was acknowledged (empty: not acknowledged)
    acknowledged_sensors: frozenset[str] = frozenset()
    state: str | None = None  # operating state at onset, where known

    @property
    def sensors(self) -> list[str]:
        ranked = sorted(self.sensor_weights.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, weight in ranked[: self.top_sensors] if weight > 0]

    def leading_sensors(self, share: float = 0.25) -> frozenset[str]:
        """The sensors with at least ``share`` of the event's summed contributions."""
        total = sum(self.sensor_weights.values())
        return frozenset(name for name, weight in self.sensor_weights.items()
                         if total > 0 and weight >= share * total)

    @property
    def acknowledged(self) -> bool:
        return bool(self.acknowledged_sensors)

    def add(self, time: datetime, score: float, contributions: dict[str, float]) -> None:
        if self.peak_at is None or score > self.peak_score:
            self.peak_score = score
            self.peak_at = time
        total = sum(contributions.values())
        if total > 0:
            for name, value in contributions.items():
                self.sensor_weights[name] = self.sensor_weights.get(name, 0.0) + value / total


def _dominant(contributions: dict[str, float]) -> str | None:
    if not contributions:
        return None
    name, value = max(contributions.items(), key=lambda kv: (kv[1], kv[0]))
    return name if value > 0 else None


class EventTracker:
    """Turns ``(time, score, contributions)`` into raised, extended, cleared events.

    Parameters
    ----------
    open_level, close_level
        Raise at ``open_level``, clear below ``close_level`` (``close_level <= open_level``).
    min_duration_s
        A candidate must hold at or above ``close_level`` this long to become an event.
    rearm_s
        After clearing, a new raise within this time continues the same event.
    top_sensors
        Contributing sensors kept per event.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 1)
    >>> tracker = EventTracker(open_level=0.9, close_level=0.75, min_duration_s=2, rearm_s=3)
    >>> for i, s in enumerate([0.1, 0.95, 0.97, 0.8, 0.99, 0.5, 0.1, 0.1, 0.1, 0.1]):
    ...     tracker.observe(t0 + timedelta(seconds=i), s, {"flow": 1.0})
    >>> [(e.started_at.second, e.peak_at.second, e.ended_at.second, e.peak_score, e.sensors)
    ...  for e in tracker.drain()]
    [(1, 4, 5, 0.99, ['flow'])]
    """

    def __init__(self, open_level: float = 0.9, close_level: float = 0.75,
                 min_duration_s: float = 5.0, top_sensors: int = 3,
                 rearm_s: float = 60.0) -> None:
        if not 0 <= close_level <= open_level <= 1:
            raise ValueError("need 0 <= close_level <= open_level <= 1")
        if min_duration_s < 0 or rearm_s < 0:
            raise ValueError("min_duration_s and rearm_s must not be negative")
        self.open_level = open_level
        self.close_level = close_level
        self.min_duration = timedelta(seconds=min_duration_s)
        self.rearm = timedelta(seconds=rearm_s)
        self.top_sensors = top_sensors
        self._candidate: EventRecord | None = None  # above open_level, not yet long enough
        self._open: EventRecord | None = None
        self._clearing_since: datetime | None = None  # open event below close_level since
        self._change: EventRecord | None = None  # acknowledged event: a new deviation's candidate
        self._finished: list[EventRecord] = []
        self._dirty = False

    @property
    def open_event(self) -> EventRecord | None:
        """The confirmed event still open (possibly clearing), if any."""
        return self._open

    @property
    def is_active(self) -> bool:
        """True while an event is open or a candidate awaits its minimum duration: then every
        score matters; otherwise only scores at or above ``close_level`` can change anything."""
        return self._open is not None or self._candidate is not None

    def acknowledge(self, event_id: int) -> bool:
        """Mark the open event ``event_id`` acknowledged; False if it is not the open one."""
        event = self._open
        if event is None or event.event_id != event_id:
            return False
        if not event.acknowledged:
            event.acknowledged_sensors = event.leading_sensors() or frozenset({""})
        return True

    def observe(self, time: datetime, score: float, contributions: dict[str, float],
                state: str | None = None) -> None:
        """Feed one scored sample (in time order); ``state`` is noted on new events."""
        if self._open is not None:
            self._observe_open(self._open, time, score, contributions)
            return
        if self._candidate is not None:
            if score < self.close_level:
                self._candidate = None
                return
            self._candidate.add(time, score, contributions)
            if time - self._candidate.started_at >= self.min_duration:
                self._confirm(self._candidate)
            return
        if score >= self.open_level:
            self._candidate = EventRecord(time, score, top_sensors=self.top_sensors,
                                          state=state)
            self._candidate.add(time, score, contributions)
            if self.min_duration <= timedelta(0):
                self._confirm(self._candidate)

    def pause(self) -> None:
        """Drop a candidate not yet confirmed: scoring pauses (a change of load regime)."""
        self._candidate = None
        self._change = None

    def end_open(self, time: datetime) -> None:
        """End the open event (and drop a candidate) at ``time``: the asset left the state
        in which it could alarm (for example it stopped)."""
        self._candidate = None
        self._change = None
        if self._open is not None:
            self._finish(self._clearing_since or time)

    def drain(self) -> list[EventRecord]:
        """Events to write since the last drain: ended ones, then the open one if changed."""
        out, self._finished = self._finished, []
        if self._open is not None and self._dirty:
            out.append(self._open)
        self._dirty = False
        return out

    # -- internals ---------------------------------------------------------------------------

    def _confirm(self, event: EventRecord) -> None:
        self._open, self._candidate = event, None
        self._clearing_since = None
        self._dirty = True

    def _finish(self, ended_at: datetime) -> None:
        assert self._open is not None
        self._open.ended_at = ended_at
        self._finished.append(self._open)
        self._open = None
        self._clearing_since = None
        self._change = None

    def _observe_open(self, event: EventRecord, time: datetime, score: float,
                      contributions: dict[str, float]) -> None:
        if self._clearing_since is not None:
            if score >= self.open_level:  # back within the re-arm time: the same event
                self._clearing_since = None
            elif time - self._clearing_since >= self.rearm:
                self._finish(self._clearing_since)
                return
            else:
                return
        if score < self.close_level:
            self._clearing_since = time
            self._change = None
            if self.rearm <= timedelta(0):
                self._finish(time)
            return
        event.add(time, score, contributions)
        self._dirty = True
        if event.acknowledged:
            self._watch_for_change(event, time, score, contributions)

    def _watch_for_change(self, event: EventRecord, time: datetime, score: float,
                          contributions: dict[str, float]) -> None:
        """An acknowledged event re-alarms only when a new sensor leads the deviation."""
        leader = _dominant(contributions)
        new = score >= self.open_level and leader is not None \
            and leader not in event.acknowledged_sensors
        if not new:
            self._change = None
            return
        if self._change is None:
            self._change = EventRecord(time, score, top_sensors=self.top_sensors,
                                       state=event.state)
        self._change.add(time, score, contributions)
        if time - self._change.started_at >= self.min_duration:
            change = self._change
            self._finish(change.started_at)
            self._confirm(change)
