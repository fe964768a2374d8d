"""Operating regimes: sensors normalised per regime before any feature is computed.

Equipment that runs at several loads shows each load's own sensor levels; a model that sees
raw levels learns the loads, not the wear. Per asset model, master data names the operating
signals (sensors that say how the asset is run, e.g. load, speed, altitude) and the number of
regimes (``asset_model_regime``). The trainer then clusters the signals' bucket means of the
training window (k-means on the signals scaled by their spread) into that many regimes and
records, per regime and sensor, the mean and standard deviation; features are computed on
``(value - mean) / sd`` of the bucket's regime (see :mod:`.buckets`). One regime is a plain
z-normalisation per asset model.

A sensor that is a switch or a constant in some regime (at most :data:`SWITCH_LEVELS`
distinct bucket means among at least :data:`SWITCH_MIN_BUCKETS` there) gets no statistics:
divided by its spread in that regime, a reading one step of its resolution away from the
regime's mean would become tens of standard deviations of noise (C-MAPSS FD002's ``s10``
moves by 0.01 where its spread in a regime is 0.0002), and without statistics the sensor
has no features for that asset model (:mod:`.buckets` leaves it out).

:class:`RegimeNormaliser` is immutable and JSON-friendly (:meth:`as_params`,
:meth:`from_params`): it is part of the feature spec stored with each model version, so
scoring normalises exactly as training did.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"model_id": "M", "asset_id": 1, "bucket": [0, 0, 1, 1, 2, 2, 3, 3],
...                      "sensor": ["load", "temp"] * 4,
...                      "mean": [10.0, 50.0, 10.0, 52.0, 80.0, 90.0, 80.0, 92.0]})
>>> norm = RegimeNormaliser.fit(rows, {"M": (("load",), 2)})
>>> sorted(round(c[0]) for c in norm.models[0].centres)
[10, 80]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SWITCH_LEVELS", "SWITCH_MIN_BUCKETS", "ModelRegimes", "RegimeConfig",
           "RegimeNormaliser"]

#: model_id -> (operating signals, number of regimes)
RegimeConfig = Mapping[str, tuple[Sequence[str], int]]

_MIN_SD = 1e-9
#: at most this many distinct bucket means in a regime: a switch or a constant there
SWITCH_LEVELS = 2
#: ... among at least this many buckets of the regime (fewer say nothing)
SWITCH_MIN_BUCKETS = 10


@dataclass(frozen=True)
class ModelRegimes:
    """The regimes of one asset model: centres in the signals' units, the scale of each
    signal for the distance, and ``(regime, sensor, mean, sd)`` of every other sensor."""

    model_id: str
    signals: tuple[str, ...]
    centres: tuple[tuple[float, ...], ...]
    scales: tuple[float, ...]
    stats: tuple[tuple[int, str, float, float], ...]

    def assign(self, signal_means: np.ndarray) -> np.ndarray:
        """The nearest regime of each row of ``signal_means`` (columns in ``signals`` order)."""
        scaled = signal_means / np.asarray(self.scales)
        centres = np.asarray(self.centres) / np.asarray(self.scales)
        distance = ((scaled[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        return distance.argmin(axis=1)


@dataclass(frozen=True)
class RegimeNormaliser:
    """Per-regime sensor statistics of every asset model with operating regimes."""

    models: tuple[ModelRegimes, ...] = ()

    @classmethod
    def fit(cls, buckets: pd.DataFrame, config: RegimeConfig,
            random_state: int = 0) -> RegimeNormaliser:
        """Learn the regimes from raw bucket means (columns ``model_id, asset_id, bucket,
        sensor, mean``) of the models in ``config``."""
        from sklearn.cluster import KMeans

        fitted = []
        for model_id, (signals, regimes) in sorted(config.items()):
            rows = buckets[buckets["model_id"] == model_id]
            wide = rows.pivot_table(index=["asset_id", "bucket"], columns="sensor",
                                    values="mean", aggfunc="first")
            if wide.empty or not set(signals) <= set(wide.columns):
                continue
            wide = wide.dropna(subset=list(signals))
            x = wide[list(signals)].to_numpy(dtype=float)
            scales = np.where(x.std(axis=0) > _MIN_SD, x.std(axis=0), 1.0)
            k = max(1, min(int(regimes), len(np.unique(x, axis=0))))
            if k == 1:
                centres = x.mean(axis=0, keepdims=True)
            else:
                km = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(x / scales)
                centres = km.cluster_centers_ * scales
            model = ModelRegimes(model_id, tuple(signals), tuple(map(tuple, centres.tolist())),
                                 tuple(scales.tolist()), ())
            regime = model.assign(x)
            stats = []
            for sensor in sorted(c for c in wide.columns if c not in signals):
                values = wide[sensor].to_numpy(dtype=float)
                if _switch(values, regime, k):
                    continue
                for r in range(k):
                    v = values[(regime == r) & ~np.isnan(values)]
                    if len(v) == 0:
                        continue
                    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
                    stats.append((r, str(sensor), float(v.mean()), sd if sd > _MIN_SD else 1.0))
            fitted.append(ModelRegimes(model.model_id, model.signals, model.centres,
                                       model.scales, tuple(stats)))
        return cls(tuple(fitted))

    def signals(self) -> list[str]:
        return sorted({s for m in self.models for s in m.signals})

    def sql_params(self) -> dict[str, Any]:
        """The arrays :mod:`.buckets` unnests: centres (``rc_*``) and statistics (``rn_*``)."""
        rc: dict[str, list[Any]] = {k: [] for k in ("model", "regime", "signal", "centre",
                                                     "scale")}
        rn: dict[str, list[Any]] = {k: [] for k in ("model", "regime", "sensor", "mu", "sd")}
        for m in self.models:
            for r, centre in enumerate(m.centres):
                for signal, value, scale in zip(m.signals, centre, m.scales, strict=True):
                    for key, item in zip(rc, (m.model_id, r, signal, value, scale), strict=True):
                        rc[key].append(item)
            for r, sensor, mu, sd in m.stats:
                for key, item in zip(rn, (m.model_id, r, sensor, mu, sd), strict=True):
                    rn[key].append(item)
        return {**{f"rc_{k}": v for k, v in rc.items()}, **{f"rn_{k}": v for k, v in rn.items()},
                "rn_models": [m.model_id for m in self.models]}

    def as_params(self) -> list[dict[str, Any]]:
        return [{"model_id": m.model_id, "signals": list(m.signals),
                 "centres": [list(c) for c in m.centres], "scales": list(m.scales),
                 "stats": [list(s) for s in m.stats]} for m in self.models]

    @classmethod
    def from_params(cls, params: Sequence[Mapping[str, Any]] | None) -> RegimeNormaliser | None:
        if not params:
            return None
        return cls(tuple(ModelRegimes(
            str(p["model_id"]), tuple(p["signals"]), tuple(tuple(c) for c in p["centres"]),
            tuple(p["scales"]), tuple((int(r), str(s), float(mu), float(sd))
                                      for r, s, mu, sd in p["stats"])) for p in params))


def _switch(values: np.ndarray, regime: np.ndarray, regimes: int) -> bool:
    """Whether the sensor is a switch or a constant in some regime (see the module
    docstring)."""
    for r in range(regimes):
        v = values[(regime == r) & ~np.isnan(values)]
        if len(v) >= SWITCH_MIN_BUCKETS and len(np.unique(v)) <= SWITCH_LEVELS:
            return True
    return False
