"""The two failure-risk models of a component type; both answer ``predict(frame)``.

- :class:`WeibullPrior` -- no learning from telemetry: the conditional Weibull probability of
  failing within each horizon given the component's age, with shape/scale from the datasheet
  lives of master data (:mod:`assetwatch.models.prediction.lives`) per asset model, else an
  exponential life fitted to the fleet's observed failures and exposure. Used on a new
  installation with no failure history, and inside :class:`FailureRiskModel` for a horizon
  it could not learn.
- :class:`FailureRiskModel` -- scikit-learn histogram gradient boosting: one classifier per
  horizon (probability of failure within it) and quantile regressors (10 %, 50 %, 90 %) of the
  remaining useful life in days (capped), the interval widened by a conformal margin.

``predict`` returns one row per input row, same index, with ``prob_<h>`` for every horizon and
``rul_days``, ``rul_low_days``, ``rul_high_days``. Both classes pickle (the registry stores the
pickle as the artifact).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RUL_QUANTILES", "FailureRiskModel", "WeibullPrior",
           "prediction_columns"]

RUL_QUANTILES = (0.1, 0.5, 0.9)


def prediction_columns(horizons: Sequence[int]) -> list[str]:
    return [f"prob_{h}" for h in horizons] + ["rul_days", "rul_low_days", "rul_high_days"]


class WeibullPrior:
    """Failure risk from component age alone, under a Weibull life.

    Parameters
    ----------
    component_type
        The component type this prior describes.
    horizons
        Horizons in days.
    by_model
        ``model_id -> (beta, eta_days)``; asset models not listed use ``default``.
    default
        ``(beta, eta_days)`` for other asset models.
    rul_cap_days
        Remaining-life figures are capped here, like the learned model's.

    Examples
    --------
    >>> prior = WeibullPrior("bearing", [30], default=(1.0, 100.0))
    >>> frame = pd.DataFrame({"model_id": ["X"], "component_age_days": [50.0]})
    >>> round(float(prior.predict(frame)["prob_30"].iloc[0]), 3)   # 1 - exp(-30/100)
    0.259
    """

    kind = "weibull_prior"

    def __init__(self, component_type: str, horizons: Sequence[int], *,
                 by_model: Mapping[str, tuple[float, float]] | None = None,
                 default: tuple[float, float] = (1.0, 365.0),
                 rul_cap_days: float = 365.0) -> None:
        self.component_type = component_type
        self.horizons = list(horizons)
        self.by_model = dict(by_model or {})
        self.default = default
        self.rul_cap_days = rul_cap_days

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, "by_model": {k: list(v) for k, v in self.by_model.items()},
                "default": list(self.default), "horizons": self.horizons,
                "rul_cap_days": self.rul_cap_days}

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        models = frame["model_id"] if "model_id" in frame else pd.Series("", index=frame.index)
        pairs = [self.by_model.get(m, self.default) for m in models]
        beta = np.array([p[0] for p in pairs], dtype=float)
        eta = np.array([p[1] for p in pairs], dtype=float)
        age = np.clip(np.nan_to_num(frame["component_age_days"].to_numpy(dtype=float)), 0, None)
        out = pd.DataFrame(index=frame.index)
        base = (age / eta) ** beta
        for h in self.horizons:
            out[f"prob_{h}"] = 1.0 - np.exp(base - ((age + h) / eta) ** beta)
        for column, q in zip(("rul_low_days", "rul_days", "rul_high_days"), RUL_QUANTILES,
                             strict=True):
            remaining = eta * (base - math.log(1.0 - q)) ** (1.0 / beta) - age
            out[column] = np.clip(remaining, 0, self.rul_cap_days)
        return out[prediction_columns(self.horizons)]


class FailureRiskModel:
    """Gradient-boosted failure probability per horizon and RUL quantiles.

    Built by :func:`assetwatch.models.prediction.training.fit_failure_model`; ``features`` is
    the ordered input list (missing inputs become NaN, which the trees handle), ``model_ids``
    encodes the asset model as a number. Horizons without a classifier and, without quantile
    regressors, the RUL come from ``prior``.
    """

    kind = "gradient_boosting"

    def __init__(self, component_type: str, horizons: Sequence[int], features: Sequence[str],
                 model_ids: Sequence[str], classifiers: Mapping[int, Any],
                 rul_regressors: Mapping[float, Any], prior: WeibullPrior,
                 rul_cap_days: float) -> None:
        self.component_type = component_type
        self.horizons = list(horizons)
        self.features = list(features)
        self.model_ids = list(model_ids)
        self.classifiers = dict(classifiers)
        self.rul_regressors = dict(rul_regressors)
        self.prior = prior
        self.rul_cap_days = rul_cap_days
        #: widening of the RUL interval on both sides, calibrated by the trainer on the
        #: validation fold (split-conformal), so the interval covers about 80 % in practice
        self.rul_margin_days = 0.0

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        """The input matrix in ``features`` order (``model_code`` derived from ``model_id``)."""
        return design_matrix(frame, self.features, self.model_ids)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = self.prior.predict(frame)
        if frame.empty:
            return out
        x = self.design(frame)
        for h in self.horizons:
            classifier = self.classifiers.get(h)
            if classifier is not None:
                out[f"prob_{h}"] = classifier.predict_proba(x)[:, 1]
        if self.rul_regressors:
            quantiles = np.column_stack([self.rul_regressors[q].predict(x)
                                         for q in RUL_QUANTILES])
            quantiles = np.sort(quantiles, axis=1)
            margin = getattr(self, "rul_margin_days", 0.0)
            quantiles[:, 0] -= margin
            quantiles[:, 2] += margin
            quantiles = np.clip(quantiles, 0, self.rul_cap_days)
            out["rul_low_days"], out["rul_days"], out["rul_high_days"] = quantiles.T
        # a longer horizon never has a lower probability than a shorter one
        probs = [f"prob_{h}" for h in sorted(self.horizons)]
        out[probs] = np.maximum.accumulate(out[probs].to_numpy(), axis=1)
        return out[prediction_columns(self.horizons)]


def design_matrix(frame: pd.DataFrame, features: Sequence[str],
                  model_ids: Sequence[str]) -> np.ndarray:
    """Columns ``features`` of ``frame`` as floats; absent columns are NaN."""
    work = frame.reindex(columns=[f for f in features if f != "model_code"])
    if "model_code" in features:
        codes = {m: float(i) for i, m in enumerate(model_ids)}
        work["model_code"] = frame["model_id"].map(codes).astype(float)
    return work[list(features)].to_numpy(dtype=float)
