"""Several detectors at once, their calibrated evidence combined: level shifts and spikes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assetwatch.models.detectors.base import Detector, Sample
from assetwatch.models.detectors.baseline import BaselineDeviation
from assetwatch.models.detectors.calibration import DECADES, score_of_probability
from assetwatch.models.detectors.robust import RobustZ

__all__ = ["Ensemble"]


class Ensemble(Detector):
    """The most surprising of its members, with a multiple-testing correction.

    Each member scores the sample on the common calibrated scale, which is a tail probability
    ``p = 10 ** (-DECADES * score)``. The ensemble reports the smallest ``p`` multiplied by the
    number of members (Bonferroni), so its score keeps the scale's meaning: an ensemble of
    ``k`` detectors alarms on normal data no more often than one of them would. A member at
    1.0 (p at most 1e-4, the end of the scale) makes the ensemble 1.0. The default
    members are :class:`BaselineDeviation` (lasting level shifts, smoothed) and
    :class:`RobustZ` (single-sample spikes, which smoothing hides). ``member_params`` overrides
    members' constants by member name, e.g. ``{"baseline": {"slow_adapt": None}}``.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(2)
    >>> det = Ensemble(warmup=100)
    >>> for _ in range(200):
    ...     det.learn_one({"amps": 40 + rng.gauss(0, 1)})
    >>> det.score_one({"amps": 40.5}) < 0.5 < 0.9 < det.score_one({"amps": 60.0})
    True
    """

    name = "ensemble"
    member_params: Mapping[str, Mapping[str, Any]] | None = None  # checkpoints from before it

    def __init__(self, warmup: int = 400, burn_in: int | None = None,
                 members: tuple[str, ...] = ("baseline", "robust_z"),
                 member_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__(warmup=warmup, burn_in=burn_in)
        self.members = tuple(members)
        self.member_params = member_params
        unknown = set(member_params or ()) - set(self.members)
        if unknown:
            raise ValueError(f"member_params for detectors not in the ensemble: "
                             f"{', '.join(sorted(unknown))}")
        self._members = [_member(name, warmup, burn_in, (member_params or {}).get(name, {}))
                         for name in self.members]

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "members": self.members,
                "member_params": self.member_params}

    @property
    def is_warm(self) -> bool:
        if self.__dict__.get("_warm"):  # once warm, always: not asked of every member again
            return True
        warm = all(m.is_warm for m in self._members)
        if warm:
            self._warm = True
        return warm

    @property
    def n_learned(self) -> int:
        return self._members[0].n_learned

    def learn_one(self, x: Sample) -> None:
        for member in self._members:
            member.learn_one(x)

    def score_one(self, x: Sample) -> float:
        if not self.is_warm:
            return 0.0
        return self._combine([m.score_one(x) for m in self._members])

    def score_learn_one(self, x: Sample) -> float:
        warm = self.is_warm
        scores = [m.score_learn_one(x) for m in self._members]
        return self._combine(scores) if warm else 0.0

    def contributions(self, x: Sample) -> dict[str, float]:
        if not self.is_warm:
            return {}
        scored = [(m.score_one(x), i) for i, m in enumerate(self._members)]
        return self._members[max(scored)[1]].contributions(x)

    def rebase(self, samples: list[Sample]) -> None:
        """Rebase every member that can (see :meth:`BaselineDeviation.rebase`)."""
        for member in self._members:
            rebase = getattr(member, "rebase", None)
            if rebase is not None:
                rebase(samples)

    def _combine(self, scores: list[float]) -> float:
        if max(scores) >= 1.0:  # beyond the scale's resolution: no correction can matter
            return 1.0
        p = min(10.0 ** (-DECADES * s) for s in scores) * len(scores)
        return score_of_probability(p)

    # The members do the work; the hooks of the base class are not used.
    def _fit(self, samples: list[dict[str, float]]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _raw(self, x: dict[str, float]) -> float:  # pragma: no cover
        raise NotImplementedError

    def _update(self, x: dict[str, float], raw: float, score: float) -> None:  # pragma: no cover
        raise NotImplementedError

    def _explain(self, x: dict[str, float]) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError


def _member(name: str, warmup: int, burn_in: int | None, params: Mapping[str, Any]
            ) -> Detector:
    classes: dict[str, type[Detector]] = {"baseline": BaselineDeviation, "robust_z": RobustZ}
    try:
        cls = classes[name]
    except KeyError:
        raise ValueError(f"unknown ensemble member {name!r}") from None
    return cls(warmup=warmup, burn_in=burn_in, **params)
