"""The evaluation protocol every prediction benchmark follows, so that no figure can leak.

1. **Settings are chosen on training units only**, by cross-validation grouped by unit
   (:func:`grouped_cv`, the product's own selection in
   :mod:`assetwatch.models.prediction.selection`): no unit is in both the fitting and the
   scoring part of a fold, so a setting cannot win by remembering a unit. The held-out units
   are judged the way test units are made: cut at random moments of their lives, the
   prediction at the cut against the true remaining life
   (:class:`~assetwatch.models.prediction.selection.CutPoints`).
2. **Test labels are sealed** (:class:`SealedLabels`): they are read once, by the final print,
   after the model is fixed; a second read is an error. Everything before it is the same
   whatever the test labels say (a test shuffles them and checks).
3. **Features are causal**: a feature at time t uses only data before t (the product's feature
   code, :mod:`assetwatch.models.prediction.features`; a test removes the data after t and
   checks the feature does not change).
4. **The printed table names the subset** and shows that subset's own published rows only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from assetwatch.models.prediction.errors import PredictionError
from assetwatch.models.prediction.selection import CvResult, grouped_cv, grouped_folds

__all__ = ["CvResult", "ProtocolError", "SealedLabels", "grouped_cv", "grouped_folds"]

T = TypeVar("T")


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
