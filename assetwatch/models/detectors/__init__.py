"""Streaming anomaly detectors behind one contract (:class:`Detector`), by name.

========== =====================================================================
name       detector
========== =====================================================================
baseline   :class:`BaselineDeviation`: smoothed deviation from an
           alarm-aware drifting baseline, all sensors combined
robust_z   :class:`RobustZ`: largest per-sensor robust z-score
hst        :class:`HalfSpaceTreesDetector`: river Half-Space Trees, multivariate
ensemble   :class:`Ensemble` (default, for the service and offline scoring):
           baseline and robust_z, Bonferroni-combined
========== =====================================================================

All return calibrated scores in ``[0, 1]`` (see :mod:`.calibration`).
"""

from __future__ import annotations

from typing import Any

from assetwatch.models.detectors.base import Detector, Sample
from assetwatch.models.detectors.baseline import BaselineDeviation
from assetwatch.models.detectors.ensemble import Ensemble
from assetwatch.models.detectors.hst import HalfSpaceTreesDetector
from assetwatch.models.detectors.robust import RobustZ
from assetwatch.models.monitoring.errors import DetectionError

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "BaselineDeviation",
    "Detector",
    "Ensemble",
    "HalfSpaceTreesDetector",
    "RobustZ",
    "Sample",
    "UnknownDetector",
    "make_detector",
]

DETECTORS: dict[str, type[Detector]] = {
    BaselineDeviation.name: BaselineDeviation,
    RobustZ.name: RobustZ,
    HalfSpaceTreesDetector.name: HalfSpaceTreesDetector,
    Ensemble.name: Ensemble,
}
#: the one default, of the service (``detect run``) and of offline scoring (``detect
#: score-csv``): the best SKAB figures with every constant chosen on other files (see the
#: package README), at about twice the per-sample cost of ``baseline``
DEFAULT_DETECTOR = Ensemble.name


class UnknownDetector(DetectionError, ValueError):
    """No detector has that name."""


def make_detector(name: str = DEFAULT_DETECTOR, **params: Any) -> Detector:
    """A new, unfitted detector by registry name, with optional parameter overrides."""
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise UnknownDetector(
            f"unknown detector {name!r} (choose from {', '.join(sorted(DETECTORS))})"
        ) from None
    return cls(**params)
