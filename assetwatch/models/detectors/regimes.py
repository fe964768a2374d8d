"""A baseline per load regime, learning and scoring settled running operation only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assetwatch.models.detectors.base import Detector, Sample
from assetwatch.models.detectors.operating import RUNNING, OperatingPoint, OperatingStates
from assetwatch.models.detectors.sensors import SLOW_SENSOR_NAMES, is_slow_sensor

__all__ = ["REBASE_SAMPLES", "SLOW_SENSOR_NAMES", "RegimeDetector"]

#: settled samples a regime's detector takes as its new normal after maintenance
REBASE_SAMPLES = 12

_UNTRACKED = OperatingPoint(RUNNING, 0, True)


class RegimeDetector:
    """One asset's detectors, one per load regime, behind its :class:`OperatingStates`.

    Each sample is classified first (with ``states=None``, every sample counts as settled
    running operation in regime 0: one detector, as without operating states). Only *settled
    running* samples reach a detector: the one of the sample's load regime (created, and
    warmed up, on the regime's first settled samples). Standstill, start-up, shut-down and
    the settle time after a change of load regime are neither learned nor scored: their
    score is ``0.0`` and they cannot alarm. A regime the operating states forget (least
    recently used beyond their ``max_regimes``) loses its detector.

    Slow sensors (temperatures: names containing one of :data:`SLOW_SENSOR_NAMES`) follow a
    start or a change of load with a thermal lag of tens of minutes: for ``slow_settle_s``
    after the transient began they are left out of the sample the detector sees (it tolerates
    missing sensors), and a regime seen for the first time starts its warm-up only once they
    have settled, so its detector knows every sensor.

    After maintenance (:meth:`after_maintenance`) each regime's detector takes the level of
    its next settled samples as the new normal: a replaced part changes the machine.

    ``observe`` returns ``(score, point, alarmable)``: the calibrated score, the operating
    point, and whether the score comes from a warm detector of settled running operation
    (only then may it open or extend an alarm event).

    Examples
    --------
    >>> import random
    >>> from datetime import datetime, timedelta
    >>> rng, t0 = random.Random(3), datetime(2026, 1, 1)
    >>> det = RegimeDetector("baseline", {"warmup": 60}, OperatingStates(settle_s=20))
    >>> def sample(amps):  # temperature follows the load
    ...     return {"motor_current": amps + rng.gauss(0, 0.3),
    ...             "temp": 40 + amps / 2 + rng.gauss(0, 0.2)}
    >>> loads = [40.0] * 150 + [0.0] * 50 + [60.0] * 150 + [40.0] * 100
    >>> results = [det.observe(t0 + timedelta(seconds=i), sample(a))
    ...            for i, a in enumerate(loads)]
    >>> max(score for score, _, alarmable in results if alarmable) < 0.9
    True
    >>> sorted({p.state for _, p, _ in results})
    ['running', 'starting', 'stopped', 'stopping']
    """

    def __init__(self, detector: str, params: dict[str, Any] | None = None,
                 states: OperatingStates | None = None,
                 slow_settle_s: float = 3 * 3600.0) -> None:
        self.detector = detector
        self.params = dict(params or {})
        self.states = states
        self.slow_settle_s = slow_settle_s
        self._slow: dict[str, bool] = {}
        self._hide_slow = False
        self._rebase: dict[int, list[dict[str, float]]] = {}  # regime -> samples collected
        self._detectors: dict[int, Detector] = {}
        self._n_learned = 0
        self._current: Detector | None = None

    @property
    def n_learned(self) -> int:
        """Samples seen (whether or not a detector learned them)."""
        return self._n_learned

    @property
    def is_warm(self) -> bool:
        """True once the detector of some regime is warm."""
        return any(d.is_warm for d in self._detectors.values())

    def detector_of(self, regime: int) -> Detector | None:
        return self._detectors.get(regime)

    def observe(self, time: datetime, sample: Sample) -> tuple[float, OperatingPoint, bool]:
        """Classify, then (in settled running operation) score and learn one sample."""
        self._n_learned += 1
        point = _UNTRACKED if self.states is None else \
            self.states.observe(time, sample)  # type: ignore[arg-type]
        if not point.scored or point.regime is None:
            self._current = None
            return 0.0, point, False
        hide = point.since_s < self.slow_settle_s and self._has_slow(sample)
        if point.regime in self._rebase and self._collect_rebase(point.regime, sample, hide):
            self._current = None
            return 0.0, point, False
        detector = self._detectors.get(point.regime)
        if detector is None:
            if hide:  # a new regime warms up once its slow sensors have settled
                self._current = None
                return 0.0, point, False
            detector = self._new_detector()
            self._forget_stale(point.regime)
            self._detectors[point.regime] = detector
        self._current = detector
        self._hide_slow = hide
        if hide:
            sample = self._without_slow(sample)
        warm = detector.is_warm
        score = detector.score_learn_one(sample)
        return score, point, warm

    def after_maintenance(self) -> None:
        """The machine was maintained: each regime's detector takes the next
        ``REBASE_SAMPLES`` fully settled samples of its regime (neither scored nor learned)
        as its new normal level, then scores again; a detector without ``rebase`` starts
        afresh."""
        self._rebase = {regime: [] for regime in self._detectors}

    def _collect_rebase(self, regime: int, sample: Sample, hide: bool) -> bool:
        """Collect a sample for a pending rebase; True while the regime is still collecting."""
        if hide:
            return True  # slow sensors still settling: not yet the new normal
        collected = self._rebase[regime]
        collected.append(dict(sample))
        if len(collected) < REBASE_SAMPLES:
            return True
        del self._rebase[regime]
        rebase = getattr(self._detectors.get(regime), "rebase", None)
        if rebase is not None:
            rebase(collected)
        else:
            self._detectors.pop(regime, None)
        return True

    def contributions(self, sample: Sample) -> dict[str, float]:
        """Per-sensor shares of the last observed sample's score (empty if not scored)."""
        if self._current is None:
            return {}
        return self._current.contributions(
            self._without_slow(sample) if self._hide_slow else sample)

    def _is_slow(self, name: str) -> bool:
        slow = self._slow.get(name)
        if slow is None:
            slow = self._slow[name] = is_slow_sensor(name)
        return slow

    def _has_slow(self, sample: Sample) -> bool:
        return any(self._is_slow(name) for name in sample)

    def _without_slow(self, sample: Sample) -> dict[str, float]:
        return {k: v for k, v in sample.items() if not self._is_slow(k)}

    def _new_detector(self) -> Detector:
        from assetwatch.models.detectors import make_detector

        return make_detector(self.detector, **self.params)

    def _forget_stale(self, keep: int) -> None:
        if self.states is None:
            return
        known = self.states.regimes
        for regime in [r for r in self._detectors if r not in known and r != keep]:
            del self._detectors[regime]
