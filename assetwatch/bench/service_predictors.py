"""Stand-in predictors of the service benchmark, which read the simulated world's timelines.

Predictors give, per component at time ``t``, failure probabilities at the horizons and a
remaining-life interval, using only what a monitoring system could know at ``t``:

``condition``
    The component's age and whether its wear is visible yet (wear becomes detectable at a
    random wear level per generation). Before that, the Weibull life conditional on "no wear
    visible at this age"; after, a remaining-life estimate with a lognormal error fixed per
    generation (a model that is biased per unit, not clairvoyant).
``weibull``
    Age only: the Weibull life conditional on survival (what a fleet without condition
    monitoring would predict).
"""

from __future__ import annotations

import math
import random
from datetime import datetime

from assetwatch.sim.catalogue import model_spec
from assetwatch.sim.lifecycle import ComponentLife

__all__ = ["PREDICTORS", "predict_component"]

DAY_MS = 86_400_000
PREDICTORS = ("condition", "weibull")


def _weibull_survival(t: float, beta: float, eta: float) -> float:
    return math.exp(-((max(t, 0.0) / eta) ** beta))


def predict_component(life: ComponentLife, t: datetime, horizons: tuple[int, ...], *,
                      predictor: str, seed: int, model_id: str
                      ) -> tuple[list[float], float, float, float]:
    """``(probabilities at horizons, rul, rul_low, rul_high)`` in days at time ``t``."""
    spec = model_spec(model_id)["components"][life.component_type]
    beta, eta = float(spec["weibull_beta"]), float(spec["weibull_eta_days"])
    f = float(spec.get("onset_fraction", 0.7))
    t_ms = t.timestamp() * 1000
    age = max(0.0, (t_ms - life.installed_ms) / DAY_MS)
    rng = random.Random(f"{seed}/{life.serial_no}/{life.generation}/predictor")
    detect_x = math.sqrt(rng.uniform(0.05, 0.35))  # wear level at which it shows
    error = math.exp(rng.gauss(0.0, 0.3))
    detect_ms = life.onset_ms + detect_x * (life.failed_ms - life.onset_ms)
    if predictor == "condition" and t_ms >= detect_ms:
        remaining = max(0.0, (life.failed_ms - t_ms) / DAY_MS)
        rul = max(0.5, remaining * error)
        sd = 0.3 * rul + 1.0
        probs = [0.5 * math.erfc(-(h - rul) / (sd * math.sqrt(2.0))) for h in horizons]
        return _monotone(probs), rul, max(0.0, rul - 1.2816 * sd), rul + 1.2816 * sd
    # no visible wear yet: life > age / g, g = the life fraction at which wear shows
    g = f + (1.0 - f) * 0.55 if predictor == "condition" else 1.0
    floor = age / g
    base = _weibull_survival(floor, beta, eta)
    probs = []
    for h in horizons:
        upper = age + h
        p = 0.0 if upper <= floor else (base - _weibull_survival(upper, beta, eta)) / max(
            base, 1e-12)
        probs.append(min(1.0, max(0.0, p)))

    # remaining-life interval from the same conditional law (median and 10/90 % quantiles)
    def quantile(q: float) -> float:
        target = base * (1.0 - q)
        life_q = eta * (-math.log(max(target, 1e-300))) ** (1.0 / beta)
        return max(0.0, life_q - age)

    return _monotone(probs), quantile(0.5), quantile(0.1), quantile(0.9)


def _monotone(values: list[float]) -> list[float]:
    out, best = [], 0.0
    for v in values:
        best = max(best, min(1.0, max(0.0, v)))
        out.append(best)
    return out


