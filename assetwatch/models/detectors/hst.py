"""river's Half-Space Trees on features scaled by their warm-up range: the multivariate detector."""

from __future__ import annotations

import statistics
from typing import Any

from assetwatch.models.detectors.base import Detector

__all__ = ["HalfSpaceTreesDetector"]


class HalfSpaceTreesDetector(Detector):
    """:class:`river.anomaly.HalfSpaceTrees` on sensors scaled to ``[0, 1]``.

    Half-Space Trees expect features in ``[0, 1]``: each sensor is mapped linearly so that its
    warm-up range widened by ``margin`` on each side becomes ``[0, 1]``, then clipped. A sensor
    missing from a sample takes its warm-up median; sensors first seen after warm-up are
    ignored. The trees keep learning after warm-up (river's windowed mass profile), so the
    model follows slow change. The tree score is smoothed with an exponentially weighted
    average (weight ``smoothing``; 1 = none) before calibration, since single-sample tree
    scores are noisy. ``seed`` makes runs, and checkpoint/restore, reproducible.

    Examples
    --------
    >>> det = HalfSpaceTreesDetector(warmup=100, window_size=50)
    >>> for i in range(150):
    ...     det.learn_one({"a": 0.5 + 0.01 * (i % 7), "b": 1.0 + 0.01 * (i % 5)})
    >>> det.score_one({"a": 0.53, "b": 1.02}) < det.score_one({"a": 9.0, "b": -4.0})
    True
    """

    name = "hst"

    def __init__(self, warmup: int = 400, burn_in: int | None = None, n_trees: int = 10,
                 height: int = 8, window_size: int = 200, margin: float = 0.25,
                 smoothing: float = 0.1, seed: int = 42) -> None:
        super().__init__(warmup=warmup, burn_in=burn_in)
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.margin = margin
        self.smoothing = smoothing
        self.seed = seed

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "n_trees": self.n_trees, "height": self.height,
                "window_size": self.window_size, "margin": self.margin, "smoothing": self.smoothing,
                "seed": self.seed}

    def _fit(self, samples: list[dict[str, float]]) -> None:
        from river.anomaly import HalfSpaceTrees

        self._lo: dict[str, float] = {}
        self._inv_span: dict[str, float] = {}
        self._fill: dict[str, float] = {}
        self._mean: dict[str, float] = {}
        self._inv_sd: dict[str, float] = {}
        for name in sorted({name for sample in samples for name in sample}):
            values = [s[name] for s in samples if name in s]
            lo, hi = min(values), max(values)
            span = max(hi - lo, 1e-6 * max(1.0, abs(hi)))
            self._lo[name] = lo - self.margin * span
            self._inv_span[name] = 1.0 / (span * (1.0 + 2.0 * self.margin))
            self._fill[name] = statistics.median(values)
            self._mean[name] = statistics.fmean(values)
            sd = statistics.pstdev(values) if len(values) > 1 else 0.0
            self._inv_sd[name] = 1.0 / max(sd, 1e-9)
        window = max(2, min(self.window_size, len(samples) // 2))
        self._model = HalfSpaceTrees(n_trees=self.n_trees, height=self.height,
                                     window_size=window, seed=self.seed)
        self._level: float | None = None

    def _calibration_scores(self, samples: list[dict[str, float]],
                            raws: list[float]) -> list[float]:
        # Trees score 0 until their first window is full: calibrate on the later samples,
        # rescored with the trees as they stand at the end of warm-up.
        window = self._model.window_size
        level, out = None, []
        for sample in samples[window:]:
            raw = float(self._model.score_one(self._scaled(sample)))
            level = raw if level is None else self.smoothing * raw + (1 - self.smoothing) * level
            out.append(level)
        return out or raws

    def _scaled(self, x: dict[str, float]) -> dict[str, float]:
        out = {}
        for name, lo in self._lo.items():
            value = x.get(name, self._fill[name])
            u = (value - lo) * self._inv_span[name]
            out[name] = 0.0 if u < 0.0 else 1.0 if u > 1.0 else u
        return out

    def _raw(self, x: dict[str, float]) -> float:
        raw = float(self._model.score_one(self._scaled(x)))
        if self._level is None:
            return raw
        return self.smoothing * raw + (1.0 - self.smoothing) * self._level

    def _update(self, x: dict[str, float], raw: float, score: float) -> None:
        self._level = raw
        self._model.learn_one(self._scaled(x))

    def _explain(self, x: dict[str, float]) -> dict[str, float]:
        return {name: abs(value - self._mean[name]) * self._inv_sd[name]
                for name, value in x.items() if name in self._mean}
