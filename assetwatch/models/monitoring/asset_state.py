"""What the detection service keeps per (asset, detector): models, alarm events, cadence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from assetwatch.models.detectors.operating import RUNNING
from assetwatch.models.detectors.regimes import RegimeDetector
from assetwatch.models.monitoring.events import EventTracker

__all__ = ["AssetState"]


@dataclass
class AssetState:
    """What a checkpoint holds for one (asset, detector): the models (one per load regime,
    behind the asset's operating states), its event tracker, and the asset's typical reporting
    interval (an exponentially weighted mean of the gaps)."""

    detector: RegimeDetector
    events: EventTracker
    interval_s: float | None = None
    last_time: datetime | None = None
    #: time of the newest maintenance or part replacement applied to the detectors
    maintained_at: datetime | None = None

    def note_times(self, first: datetime, last: datetime, count: int) -> None:
        """Fold ``count`` samples from ``first`` to ``last`` into the reporting interval."""
        start = self.last_time if self.last_time is not None else first
        gaps = count if self.last_time is not None else count - 1
        if gaps > 0 and last > start:
            gap = (last - start).total_seconds() / gaps
            weight = 1.0 - 0.95 ** gaps
            self.interval_s = gap if self.interval_s is None else (
                (1.0 - weight) * self.interval_s + weight * gap)
        self.last_time = last

    def observe(self, time: datetime, sample: dict[str, float]
                ) -> tuple[float, str, int | None] | None:
        """Score and learn one sample, track alarm events; ``(score, state, regime)`` to
        store, or ``None`` while the asset's first detector is still warming up.

        Only a warm detector's score of settled running operation can raise or extend an
        alarm; when the asset stops, an open alarm ends; during a change of load regime a
        raise not yet confirmed is dropped.
        """
        detector = self.detector
        tracker = self.events
        warm = detector.is_warm
        score, point, alarmable = detector.observe(time, sample)
        if not warm:
            return None
        if not alarmable:
            if tracker.is_active:
                if point.state != RUNNING:
                    tracker.end_open(time)  # stopping or stopped: the alarm has ended
                else:
                    tracker.pause()
        elif score >= tracker.close_level:
            tracker.observe(time, score, detector.contributions(sample), point.state)
        elif tracker.is_active:
            tracker.observe(time, score, {})
        return score, point.state, point.regime
