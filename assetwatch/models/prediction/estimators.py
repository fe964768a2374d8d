"""The two failure-risk models of a component type; both answer ``predict(frame)``.

- :class:`WeibullPrior` -- no learning from telemetry: the conditional Weibull probability of
  failing within each horizon given the component's age, with shape/scale from the datasheet
  lives of master data (:mod:`assetwatch.models.prediction.lives`) per asset model, else an
  exponential life fitted to the fleet's observed failures and exposure. Used on a new
  installation with no failure history, and inside :class:`FailureRiskModel` for a horizon
  it could not learn.
- :class:`FailureRiskModel` -- scikit-learn histogram gradient boosting: one classifier per
  horizon (probability of failure within it) and quantile regressors (10 %, 50 %, 90 %) of the
  remaining useful life in days (capped), the interval widened by a conformal margin; the
  point estimate of the remaining life is the mean of a few squared-error regressors with
  different seeds (an ensemble), when trained with them. Its inputs include a
  :class:`HealthIndex`: one linear combination of the sensors fitted to the remaining life,
  applied to every window statistic of the sensors.

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

from assetwatch.models.prediction import trees

__all__ = ["RUL_QUANTILES", "FailureRiskModel", "HealthIndex", "WeibullPrior",
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


class HealthIndex:
    """One number for an asset's health: a ridge regression of the (capped) remaining life on
    the sensors' short-window means, applied to every window statistic of the sensors.

    Means and trends are linear, so the index of a window's mean is the index applied to the
    sensors' means over that window (and likewise for trends, without the intercept): the
    index gets every window statistic the sensors have (``hi__mean_short``,
    ``hi__slope_20d``, ...) without another pass over the telemetry.

    Examples
    --------
    >>> frame = pd.DataFrame({"a__mean_short": [0.0, 1.0, 2.0, 3.0],
    ...                       "a__mean_long": [0.0, 0.5, 1.5, 2.5]})
    >>> hi = HealthIndex(alpha=1e-6).fit(frame, np.array([30.0, 20.0, 10.0, 0.0]))
    >>> [round(v) for v in hi.transform(frame)["hi__mean_short"]]
    [30, 20, 10, 0]
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, frame: pd.DataFrame, target: np.ndarray) -> HealthIndex:
        from sklearn.linear_model import Ridge

        self.sensors_ = sorted(c.split("__", 1)[0] for c in frame.columns
                               if c.endswith("__mean_short") and frame[c].notna().any())
        x = frame[[f"{s}__mean_short" for s in self.sensors_]].to_numpy(dtype=float)
        self.fill_ = np.nanmean(x, axis=0)
        x = np.where(np.isnan(x), self.fill_, x)
        ridge = Ridge(alpha=self.alpha).fit(x, target)
        self.weights_ = ridge.coef_.astype(float)
        self.intercept_ = float(ridge.intercept_)
        stats = {c.split("__", 1)[1] for c in frame.columns
                 if "__" in c and c.split("__", 1)[0] in self.sensors_}
        self.stats_ = sorted(st for st in stats if st.startswith(("mean_", "slope_"))
                             and all(f"{s}__{st}" in frame for s in self.sensors_))
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The ``hi__<stat>`` columns for ``frame``'s rows."""
        out = {}
        for stat in self.stats_:
            x = frame.reindex(columns=[f"{s}__{stat}" for s in self.sensors_]).to_numpy(float)
            intercept = self.intercept_ if stat.startswith("mean_") else 0.0
            fill = self.fill_ if stat.startswith("mean_") else 0.0
            out[f"hi__{stat}"] = np.where(np.isnan(x), fill, x) @ self.weights_ + intercept
        return pd.DataFrame(out, index=frame.index)


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
        #: the health index (fitted by the trainer) and the remaining-life ensemble
        self.health_index: HealthIndex | None = None
        self.rul_ensemble: list[Any] = []

    def with_health_index(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with the health index columns (if the model has one)."""
        index = getattr(self, "health_index", None)
        if index is None:
            return frame
        return pd.concat([frame, index.transform(frame)], axis=1)

    def design(self, frame: pd.DataFrame) -> np.ndarray:
        """The input matrix in ``features`` order (``model_code`` derived from ``model_id``)."""
        return design_matrix(self.with_health_index(frame), self.features, self.model_ids)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = self.prior.predict(frame)
        if frame.empty:
            return out
        x = self.design(frame)
        for h in self.horizons:
            classifier = self.classifiers.get(h)
            if classifier is not None:
                out[f"prob_{h}"] = trees.predict_proba(classifier, x)[:, 1]
        if self.rul_regressors:
            quantiles = np.column_stack([trees.predict(self.rul_regressors[q], x)
                                         for q in RUL_QUANTILES])
            quantiles = np.sort(quantiles, axis=1)
            margin = getattr(self, "rul_margin_days", 0.0)
            quantiles[:, 0] -= margin
            quantiles[:, 2] += margin
            quantiles = np.clip(quantiles, 0, self.rul_cap_days)
            out["rul_low_days"], out["rul_days"], out["rul_high_days"] = quantiles.T
        ensemble = getattr(self, "rul_ensemble", [])
        if ensemble:
            point = np.clip(np.mean([trees.predict(regressor, x) for regressor in ensemble],
                                    axis=0), 0, self.rul_cap_days)
            if self.rul_regressors:   # kept inside its interval
                point = np.clip(point, out["rul_low_days"], out["rul_high_days"])
            out["rul_days"] = point
        # a longer horizon never has a lower probability than a shorter one
        probs = [f"prob_{h}" for h in sorted(self.horizons)]
        out[probs] = np.maximum.accumulate(out[probs].to_numpy(), axis=1)
        return out[prediction_columns(self.horizons)]


def design_matrix(frame: pd.DataFrame, features: Sequence[str],
                  model_ids: Sequence[str]) -> np.ndarray:
    """Columns ``features`` of ``frame`` as floats; absent columns are NaN."""
    work = frame.reindex(columns=[f for f in features if f != "model_code"]).copy()
    if "model_code" in features:
        codes = {m: float(i) for i, m in enumerate(model_ids)}
        work["model_code"] = frame["model_id"].map(codes).astype(float)
    return work[list(features)].to_numpy(dtype=float)
