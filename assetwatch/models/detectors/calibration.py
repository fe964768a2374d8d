"""Calibrated anomaly scores: one meaning for every detector and every asset.

A detector's raw output (a distance, a tree mass, a z-score) means nothing across detectors or
assets. :class:`TailCalibrator` maps it to the *surprise* of the value under the asset's own
normal behaviour, as seen during warm-up:

    p(raw) = estimated share of normal samples scoring ``>= raw``
    score  = min(1, -log10(p) / DECADES)        with DECADES = 4

So a score of **0.5 means "rarer than 99 % of normal behaviour"** (p = 1e-2), **0.75 means
rarer than 99.9 %** (p = 1e-3) and **1.0 means rarer than 99.99 %** (p <= 1e-4). A typical
normal sample scores about 0.1. The same threshold therefore means the same false-alarm rate
per sample on every asset and for every detector, as long as warm-up was representative.

``p`` is the empirical survival function of the warm-up raw scores (with a +1 correction) up to
their 90th percentile ``u``, and an exponential tail beyond it, ``p = p(u) * exp(-(raw - u) / m)``
with ``m`` the mean excess over ``u``; exponential tails fit distances and sums of squares well
and extrapolate beyond the largest warm-up score, where the empirical function stops.
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections.abc import Sequence

__all__ = ["DECADES", "TailCalibrator", "score_of_probability"]

#: decades of rarity spanned by the score scale: score 1.0 <=> p <= 10 ** -DECADES
DECADES = 4.0
_TAIL_QUANTILE = 0.9
_MAX_POINTS = 128  # quantiles kept of the normal scores: small checkpoints


def score_of_probability(p: float) -> float:
    """The calibrated score of a tail probability ``p`` (``0.01 -> 0.5``, ``0.001 -> 0.75``)."""
    if p >= 1.0:
        return 0.0
    if p <= 0.0:
        return 1.0
    return min(1.0, max(0.0, -math.log10(p) / DECADES))


class TailCalibrator:
    """Maps raw scores to calibrated scores in ``[0, 1]`` from a sample of normal raw scores.

    Examples
    --------
    >>> cal = TailCalibrator.fit([float(i) for i in range(1000)])
    >>> round(cal.score(500.0), 2), round(cal.score(990.0), 2), cal.score(1e9)
    (0.08, 0.45, 1.0)
    """

    def __init__(self, points: Sequence[float], n: int, tail_start: float,
                 mean_excess: float) -> None:
        self.points = array("d", points)
        self.n = n
        self.tail_start = tail_start
        self.mean_excess = mean_excess
        self._p_tail = self._empirical_survival(tail_start)

    @classmethod
    def fit(cls, raws: Sequence[float]) -> TailCalibrator:
        """Fit on raw scores of normal samples (at least one)."""
        values = sorted(r for r in raws if math.isfinite(r))
        if not values:
            values = [0.0]
        n = len(values)
        tail_start = values[min(n - 1, int(_TAIL_QUANTILE * n))]
        excess = [v - tail_start for v in values if v > tail_start]
        spread = values[-1] - values[0]
        floor = max(1e-9, 1e-3 * spread, 1e-6 * abs(tail_start))
        mean_excess = max(floor, sum(excess) / len(excess)) if excess else floor
        if n > _MAX_POINTS:  # keep quantiles at evenly spaced levels, ends included
            values = [values[round(k * (n - 1) / (_MAX_POINTS - 1))] for k in range(_MAX_POINTS)]
        return cls(values, n, tail_start, mean_excess)

    def _empirical_survival(self, raw: float) -> float:
        points = self.points
        m = len(points)
        i = bisect.bisect_left(points, raw)
        if i == 0:
            below = 0.0
        elif i == m:
            below = 1.0
        else:  # points[i - 1] < raw <= points[i]: interpolate the level between them
            lo, hi = points[i - 1], points[i]
            below = (i - 1 + (raw - lo) / (hi - lo)) / (m - 1) if hi > lo else i / m
        return ((1.0 - below) * self.n + 1.0) / (self.n + 1.0)

    def probability(self, raw: float) -> float:
        """Estimated share of normal samples with a raw score ``>= raw``."""
        if raw != raw:  # NaN: no evidence either way
            return 1.0
        if raw <= self.tail_start:
            return self._empirical_survival(raw)
        z = (raw - self.tail_start) / self.mean_excess
        if z > 700.0:
            return 0.0
        return self._p_tail * math.exp(-z)

    def score(self, raw: float) -> float:
        """Calibrated score of ``raw`` in ``[0, 1]`` (see the module docstring)."""
        return score_of_probability(self.probability(raw))
