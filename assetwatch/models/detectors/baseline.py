"""Smoothed deviation from a slowly adapting, alarm-aware baseline: the default detector."""

from __future__ import annotations

import math
import statistics
from typing import Any

from assetwatch.models.detectors.base import Detector

__all__ = ["BaselineDeviation"]


class BaselineDeviation(Detector):
    """Per-sensor deviation of a short EWMA from a long, alarm-frozen EWMA baseline.

    Each sensor is standardised with the median and standard deviation of its warm-up values,
    ``z = (x - median) / sd``. Two exponentially weighted averages follow ``z``: a *fast* one
    (``fast_alpha``, about 20 samples) that smooths noise, and a slow *baseline*
    (``base_alpha``, about 200 samples) that follows drift such as a slowly warming machine.
    The deviation ``d = fast - baseline`` of each sensor is divided by its own spread during
    warm-up, and the raw score is the root mean square of these over the sensors present.

    The baseline is *changepoint-aware*: while the calibrated score is at or above
    ``alarm_level``, the baseline of each sensor whose own deviation is at least ``freeze_z``
    adapts ``alarm_adapt`` times slower, so a fault does not become "normal" within seconds;
    sensors that are not deviating keep following their drift, and a lasting change of
    operating point is absorbed eventually (after about ``1 / (base_alpha * alarm_adapt)``
    samples) instead of alarming forever.

    Streaming: every score uses only the samples up to and including the current one.

    Parameters
    ----------
    warmup
        Samples learned before the first score (fit and calibration window).
    fast_alpha
        Smoothing weight of the fast average (0 < alpha <= 1; 1 = no smoothing).
    base_alpha
        Adaptation weight of the baseline.
    alarm_level
        Calibrated score from which the baseline adapts slowly.
    alarm_adapt
        Factor applied to ``base_alpha`` of deviating sensors while in alarm.
    freeze_z
        Deviation (in warm-up spreads) from which a sensor counts as deviating.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(1)
    >>> det = BaselineDeviation(warmup=200)
    >>> for _ in range(300):
    ...     det.learn_one({"flow": 30 + rng.gauss(0, 1), "temp": 60 + rng.gauss(0, 1)})
    >>> det.score_one({"flow": 30.0, "temp": 60.0}) < 0.5
    True
    >>> for _ in range(30):
    ...     det.learn_one({"flow": 25 + rng.gauss(0, 1), "temp": 60 + rng.gauss(0, 1)})
    >>> det.score_one({"flow": 25.0, "temp": 60.0}) > 0.9
    True
    """

    name = "baseline"

    def __init__(self, warmup: int = 400, burn_in: int | None = None, fast_alpha: float = 0.05,
                 base_alpha: float = 0.005, alarm_level: float = 0.9,
                 alarm_adapt: float = 0.03, freeze_z: float = 3.0) -> None:
        super().__init__(warmup=warmup, burn_in=burn_in)
        if not (0 < fast_alpha <= 1 and 0 < base_alpha <= 1 and 0 <= alarm_adapt <= 1):
            raise ValueError("fast_alpha and base_alpha must be in (0, 1], alarm_adapt in [0, 1]")
        self.fast_alpha = fast_alpha
        self.base_alpha = base_alpha
        self.alarm_level = alarm_level
        self.alarm_adapt = alarm_adapt
        self.freeze_z = freeze_z

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "fast_alpha": self.fast_alpha,
                "base_alpha": self.base_alpha, "alarm_level": self.alarm_level,
                "alarm_adapt": self.alarm_adapt, "freeze_z": self.freeze_z}

    def _fit(self, samples: list[dict[str, float]]) -> None:
        names = sorted({name for sample in samples for name in sample})
        self._sensors = names
        self._index = {name: i for i, name in enumerate(names)}
        self._center = []
        self._inv_scale = []
        for name in names:
            values = [s[name] for s in samples if name in s]
            center = statistics.median(values)
            sd = statistics.pstdev(values) if len(values) > 1 else 0.0
            self._center.append(center)
            self._inv_scale.append(1.0 / max(sd, 1e-3 * abs(center), 1e-9))
        first = [self._z(samples[0], i) for i in range(len(names))]
        self._fast = [0.0 if z is None else z for z in first]
        self._base = list(self._fast)
        self._inv_dev = [1.0] * len(names)
        self._recorded: list[list[float | None]] | None = []

    def _z(self, x: dict[str, float], i: int) -> float | None:
        value = x.get(self._sensors[i])
        if value is None:
            return None
        return (value - self._center[i]) * self._inv_scale[i]

    def _deviations(self, x: dict[str, float]) -> list[float | None]:
        a = self.fast_alpha
        out: list[float | None] = []
        for i, name in enumerate(self._sensors):
            value = x.get(name)
            if value is None:
                out.append(None)
                continue
            z = (value - self._center[i]) * self._inv_scale[i]
            out.append((a * z + (1.0 - a) * self._fast[i] - self._base[i]) * self._inv_dev[i])
        return out

    def _raw(self, x: dict[str, float]) -> float:
        total = 0.0
        count = 0
        for d in self._deviations(x):
            if d is not None:
                total += d * d
                count += 1
        return math.sqrt(total / count) if count else 0.0

    def _update(self, x: dict[str, float], raw: float, score: float) -> None:
        if self._recorded is not None:
            self._recorded.append(self._deviations(x))
        a = self.fast_alpha
        b = self.base_alpha
        slow = b * self.alarm_adapt
        alarm = score >= self.alarm_level
        limit = self.freeze_z
        for i, name in enumerate(self._sensors):
            value = x.get(name)
            if value is None:
                continue
            z = (value - self._center[i]) * self._inv_scale[i]
            fast = a * z + (1.0 - a) * self._fast[i]
            rate = slow if alarm and abs((fast - self._base[i]) * self._inv_dev[i]) >= limit else b
            self._fast[i] = fast
            self._base[i] = rate * z + (1.0 - rate) * self._base[i]

    def _calibration_scores(self, samples: list[dict[str, float]],
                            raws: list[float]) -> list[float]:
        recorded, self._recorded = self._recorded or [], None
        burn_in = len(recorded) - len(raws)
        kept = recorded[burn_in:]
        for i in range(len(self._sensors)):
            devs = [row[i] for row in kept if row[i] is not None]
            sd = statistics.pstdev(devs) if len(devs) > 1 else 0.0
            self._inv_dev[i] = 1.0 / max(sd, 1e-3)
        out = []
        for row in kept:
            present = [d * self._inv_dev[i] for i, d in enumerate(row) if d is not None]
            out.append(math.sqrt(sum(d * d for d in present) / len(present)) if present else 0.0)
        return out

    def _explain(self, x: dict[str, float]) -> dict[str, float]:
        return {self._sensors[i]: d * d for i, d in enumerate(self._deviations(x))
                if d is not None}
