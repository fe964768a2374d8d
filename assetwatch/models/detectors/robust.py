"""Per-sensor robust z-scores: the plain statistical detector."""

from __future__ import annotations

import statistics
from typing import Any

from assetwatch.models.detectors.base import Detector, Sample

__all__ = ["RobustZ"]

_INF = float("inf")


class RobustZ(Detector):
    """Largest robust z-score over the sensors of a sample.

    Each sensor is standardised with its warm-up median and scale
    ``max(1.4826 * MAD, sd / 4, 1e-3 * |median|)`` (the floors keep quantised or flat sensors,
    whose MAD is zero, from alarming on every step). The raw score is ``max |z|``; no smoothing.
    The centre follows slow drift with weight ``center_alpha`` while the calibrated score is
    below ``alarm_level``, and is frozen above it.

    Examples
    --------
    >>> det = RobustZ(warmup=20)
    >>> for i in range(40):
    ...     det.learn_one({"temp": 60.0 + (i % 5) * 0.1, "amps": 40.0 + (i % 3) * 0.2})
    >>> det.score_one({"temp": 60.2, "amps": 40.2}) < 0.5
    True
    >>> det.score_one({"temp": 75.0, "amps": 40.2}) > 0.9
    True
    """

    name = "robust_z"

    def __init__(self, warmup: int = 400, burn_in: int | None = None,
                 center_alpha: float = 0.002, alarm_level: float = 0.75) -> None:
        super().__init__(warmup=warmup, burn_in=burn_in)
        self.center_alpha = center_alpha
        self.alarm_level = alarm_level

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "center_alpha": self.center_alpha,
                "alarm_level": self.alarm_level}

    def _fit(self, samples: list[dict[str, float]]) -> None:
        self._center: dict[str, float] = {}
        self._inv_scale: dict[str, float] = {}
        for name in sorted({name for sample in samples for name in sample}):
            values = [s[name] for s in samples if name in s]
            median = statistics.median(values)
            mad = statistics.median(abs(v - median) for v in values)
            sd = statistics.pstdev(values) if len(values) > 1 else 0.0
            scale = max(1.4826 * mad, sd / 4.0, 1e-3 * abs(median), 1e-9)
            self._center[name] = median
            self._inv_scale[name] = 1.0 / scale

    def _raw(self, x: dict[str, float]) -> float:
        worst = 0.0
        for name, value in x.items():
            center = self._center.get(name)
            if center is not None:
                z = abs(value - center) * self._inv_scale[name]
                if z > worst:
                    worst = z
        return worst

    def _update(self, x: dict[str, float], raw: float, score: float) -> None:
        if score >= self.alarm_level:
            return
        a = self.center_alpha
        for name, value in x.items():
            center = self._center.get(name)
            if center is not None:
                self._center[name] = center + a * (value - center)

    def score_learn_one(self, x: Sample) -> float:
        """Score, then learn, in one pass over the sensors (same result as the two calls)."""
        calibrator = self._calibrator
        if calibrator is None:
            return super().score_learn_one(x)
        self._n_learned += 1
        centers, inv_scale = self._center, self._inv_scale
        worst = 0.0
        present: list[tuple[str, float, float]] = []
        for name, value in x.items():
            center = centers.get(name)
            if center is None or value is None:
                continue
            v = float(value)
            if v != v or v in (_INF, -_INF):
                continue
            present.append((name, v, center))
            z = abs(v - center) * inv_scale[name]
            if z > worst:
                worst = z
        score = calibrator.score(worst)
        if score < self.alarm_level:
            a = self.center_alpha
            for name, v, center in present:
                centers[name] = center + a * (v - center)
        return score

    def rebase(self, samples: list[dict[str, float]]) -> None:
        """Accept the median level of ``samples`` as each sensor's new centre."""
        for name in self._center if self.is_warm else ():
            values = [v for x in samples if (v := x.get(name)) is not None and v == v]
            if values:
                self._center[name] = statistics.median(values)

    def _explain(self, x: dict[str, float]) -> dict[str, float]:
        return {name: abs(value - self._center[name]) * self._inv_scale[name]
                for name, value in x.items() if name in self._center}
