"""The evaluation protocol every prediction benchmark follows, so that no figure can leak.

1. **Settings are chosen on training units only**, by cross-validation grouped by unit
   (:func:`grouped_cv`): no unit is in both the fitting and the scoring part of a fold, so a
   setting cannot win by remembering a unit.
2. **Test labels are sealed** (:class:`SealedLabels`): they are read once, by the final print,
   after the model is fixed; a second read is an error. Everything before it is the same
   whatever the test labels say (a test shuffles them and checks).
3. **Features are causal**: a feature at time t uses only data before t (the product's feature
   code, :mod:`assetwatch.models.prediction.features`; a test removes the data after t and
   checks the feature does not change).
4. **The printed table names the subset** and shows that subset's own published rows only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import pandas as pd

from assetwatch.models.prediction.errors import PredictionError

__all__ = ["CvResult", "ProtocolError", "SealedLabels", "grouped_cv", "grouped_folds"]

T = TypeVar("T")
C = TypeVar("C")


class ProtocolError(PredictionError):
    """A benchmark broke its protocol (test labels read twice or before the model was fixed)."""


class SealedLabels(Generic[T]):
    """Test labels behind a seal: :meth:`reveal` reads them once, later calls fail.

    Examples
    --------
    >>> labels = SealedLabels(lambda: [3.0, 1.0])
    >>> labels.reveal()
    [3.0, 1.0]
    >>> labels.reveal()
    Traceback (most recent call last):
    ...
    assetwatch.bench.protocol.ProtocolError: test labels were already read once
    """

    def __init__(self, read: Callable[[], T]) -> None:
        self._read = read
        self._revealed = False

    @property
    def revealed(self) -> bool:
        return self._revealed

    def reveal(self) -> T:
        if self._revealed:
            raise ProtocolError("test labels were already read once")
        self._revealed = True
        return self._read()


def grouped_folds(units: Sequence[int], folds: int, seed: int = 0
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` disjoint parts of the shuffled ``units``: ``(fit units, scored units)``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.unique(np.asarray(units)))
    parts = np.array_split(order, folds)
    return [(np.concatenate([p for j, p in enumerate(parts) if j != i]), parts[i])
            for i in range(folds)]


@dataclass(frozen=True)
class CvResult(Generic[C]):
    """The chosen candidate and every candidate's mean loss over the folds."""

    chosen: str
    losses: dict[str, float]
    candidate: C


def grouped_cv(frame: pd.DataFrame, unit_column: str, candidates: Mapping[str, C],
               loss: Callable[[C, pd.DataFrame, pd.DataFrame], float], *, folds: int = 5,
               seed: int = 0) -> CvResult[C]:
    """The candidate with the lowest mean ``loss(candidate, fit_rows, scored_rows)`` over
    folds grouped by ``unit_column`` (rows of training units only; ties: the first)."""
    if not candidates:
        raise ProtocolError("no candidate settings to choose from")
    splits = grouped_folds(frame[unit_column].to_numpy(), folds, seed)
    losses = {}
    for name, candidate in candidates.items():
        values = []
        for fit_units, scored_units in splits:
            fit = frame[frame[unit_column].isin(fit_units)]
            scored = frame[frame[unit_column].isin(scored_units)]
            values.append(loss(candidate, fit, scored))
        losses[name] = float(np.mean(values))
    chosen = min(losses, key=lambda n: (losses[n], list(candidates).index(n)))
    return CvResult(chosen, losses, candidates[chosen])
