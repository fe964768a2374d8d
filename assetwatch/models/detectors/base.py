"""The contract every anomaly detector of assetwatch keeps.

A detector sees one *sample* at a time: a mapping ``sensor name -> value`` for one asset at one
timestamp. It follows river's contract (``learn_one`` updates and returns nothing,
``score_one`` scores without learning) and adds what a fleet service needs:

* **explicit warm-up**: the first ``warmup`` samples are learned only. While
  :attr:`Detector.is_warm` is false, :meth:`Detector.score_one` returns ``0.0`` and the service
  writes no scores and opens no events. At the end of warm-up the detector fits itself on the
  buffered warm-up samples, replays them to bring its streaming state up to date, and fits its
  :class:`~assetwatch.models.detectors.calibration.TailCalibrator` on the replayed raw scores.
* **calibrated scores** in ``[0, 1]``, higher = more anomalous, with one meaning for every
  detector and asset (see :mod:`assetwatch.models.detectors.calibration`).
* **explanations**: :meth:`Detector.contributions` says how much each sensor contributed to
  the current sample's score, for the ``sensors`` of an anomaly event.
* **tolerance**: a sensor missing from a sample, or a sensor never seen in warm-up, never
  raises; the input mapping is never mutated; a detector pickles (checkpoints are pickles).

Subclasses implement four hooks, all private: ``_fit`` (on the warm-up samples), ``_raw``
(pure: raw score of a sample given the current state), ``_update`` (advance streaming state
after a sample was scored) and ``_explain``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from assetwatch.models.detectors.calibration import TailCalibrator

__all__ = ["Detector", "Sample"]

Sample = Mapping[str, float]


class Detector(ABC):
    """Base of the streaming anomaly detectors: learn one sample, score one sample.

    Higher score = more anomalous. Scores are calibrated to ``[0, 1]``; ``0.0`` while warming up.

    Parameters
    ----------
    warmup
        Number of samples learned before the first score (the fit and calibration window).
    burn_in
        Leading warm-up samples excluded from calibration while streaming state settles;
        ``None`` means ``warmup // 8``.
    """

    #: registry name, set by subclasses
    name: str = "detector"

    def __init__(self, warmup: int = 400, burn_in: int | None = None) -> None:
        if warmup < 8:
            raise ValueError("warmup must be at least 8 samples")
        self.warmup = warmup
        self.burn_in = burn_in
        self._buffer: list[dict[str, float]] | None = []
        self._calibrator: TailCalibrator | None = None
        self._n_learned = 0

    # -- public contract -------------------------------------------------------------------

    @property
    def is_warm(self) -> bool:
        """True once warm-up is over and scores are meaningful."""
        return self._calibrator is not None

    @property
    def n_learned(self) -> int:
        """How many samples this detector has learned."""
        return self._n_learned

    def learn_one(self, x: Sample) -> None:
        """Learn one sample (during warm-up: buffer it; at its end: fit and calibrate)."""
        clean = _clean(x)
        self._n_learned += 1
        if self._calibrator is None:
            self._warm_up(clean)
            return
        raw = self._raw(clean)
        self._update(clean, raw, self._calibrator.score(raw))

    def score_one(self, x: Sample) -> float:
        """Calibrated anomaly score of one sample in ``[0, 1]``; no learning happens."""
        if self._calibrator is None:
            return 0.0
        return self._calibrator.score(self._raw(_clean(x)))

    def score_learn_one(self, x: Sample) -> float:
        """Score one sample, then learn it; same result as ``score_one`` then ``learn_one``."""
        clean = _clean(x)
        self._n_learned += 1
        if self._calibrator is None:
            self._warm_up(clean)
            return 0.0
        raw = self._raw(clean)
        score = self._calibrator.score(raw)
        self._update(clean, raw, score)
        return score

    def contributions(self, x: Sample) -> dict[str, float]:
        """Non-negative share of each sensor in the sample's score (empty while warming up)."""
        if self._calibrator is None:
            return {}
        return self._explain(_clean(x))

    def clone(self) -> Detector:
        """A fresh, unfitted detector with the same parameters."""
        return type(self)(**self._params())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    # -- warm-up ---------------------------------------------------------------------------

    def _warm_up(self, x: dict[str, float]) -> None:
        assert self._buffer is not None
        self._buffer.append(x)
        if len(self._buffer) < self.warmup:
            return
        samples, self._buffer = self._buffer, None
        self._fit(samples)
        burn_in = self.warmup // 8 if self.burn_in is None else self.burn_in
        raws = []
        for i, sample in enumerate(samples):
            raw = self._raw(sample)
            if i >= burn_in:
                raws.append(raw)
            self._update(sample, raw, 0.0)
        self._calibrator = TailCalibrator.fit(self._calibration_scores(samples, raws))

    def _calibration_scores(self, samples: list[dict[str, float]],
                            raws: list[float]) -> list[float]:
        """Raw scores the calibrator is fitted on; a detector may recompute them after replay."""
        return raws

    def _params(self) -> dict[str, Any]:
        return {"warmup": self.warmup, "burn_in": self.burn_in}

    # -- hooks -----------------------------------------------------------------------------

    @abstractmethod
    def _fit(self, samples: list[dict[str, float]]) -> None:
        """Fit the model on the warm-up samples (and reset any streaming state)."""

    @abstractmethod
    def _raw(self, x: dict[str, float]) -> float:
        """Raw anomaly score of ``x`` under the current state; must not change state."""

    @abstractmethod
    def _update(self, x: dict[str, float], raw: float, score: float) -> None:
        """Advance streaming state after ``x`` was scored ``raw`` (calibrated ``score``)."""

    @abstractmethod
    def _explain(self, x: dict[str, float]) -> dict[str, float]:
        """Per-sensor contribution to the score of ``x``."""


def _clean(x: Sample) -> dict[str, float]:
    """A private copy of the sample without missing (None / NaN / infinite) readings."""
    out: dict[str, float] = {}
    for key, value in x.items():
        if value is None:
            continue
        v = float(value)
        if math.isfinite(v):
            out[key] = v
    return out
