"""Failure risk of the installed base over time windows, from the stored predictions.

A prediction gives, per asset and component, the probability of failure within a few horizons
(``failure_probability`` at ``horizon_days``) and a remaining-life estimate with an interval.
:class:`RiskTable` turns them into a failure-time distribution per (asset, component):
piecewise linear through ``(0, 0)`` and the horizons (made monotone), extended past the longest
horizon with the remaining-life interval (normal, the interval taken as a central
``rul_interval`` interval) or, without one, a constant hazard. An interval whose upper end
reaches the model's remaining-life cap (``rul_cap_days`` of the model version's parameters:
the regressors learn the remaining life clipped there) is not a remaining-life distribution
but a censored one: its mean and spread describe ``min(life, cap)``, and a normal law through
them puts most of a healthy component's failures before the cap. Such a row gets the constant
hazard of its longest horizon, which the horizon's classifier calibrates. The probability of
failing in a window ``[as_of + a, as_of + b]`` is conditional on surviving until ``as_of``
(predictions may be older than ``as_of``).

A component replaced inside a window can fail again: :mod:`assetwatch.service.renewal`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

import numpy as np
import psycopg
from scipy.special import ndtr, ndtri

__all__ = ["RiskTable", "latest_prediction_time", "load_risk"]


@dataclass
class RiskTable:
    """One row per (asset, component) with its newest prediction at or before ``as_of``."""

    as_of: datetime
    asset_id: np.ndarray
    site_id: np.ndarray
    model_id: np.ndarray
    component_type: np.ndarray
    criticality: np.ndarray
    model_version_id: np.ndarray
    predicted_at: np.ndarray      # datetime objects
    age_days: np.ndarray          # as_of - predicted_at
    horizons: np.ndarray          # (n, k) days, nan padded, ascending
    probs: np.ndarray             # (n, k) cumulative failure probability at horizons
    rul_days: np.ndarray
    rul_sd: np.ndarray            # nan when there is no interval or it reaches the cap
    rul_low_days: np.ndarray      # nan when there is no interval

    def __len__(self) -> int:
        return len(self.asset_id)

    def subset(self, keep: np.ndarray) -> RiskTable:
        """The rows where the boolean mask ``keep`` is true."""
        return replace(self, **{f.name: getattr(self, f.name)[keep] for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)})

    def cdf(self, t_days: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``P(failure within t days of the prediction)`` for ``rows`` (default: all)."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        t = np.broadcast_to(np.asarray(t_days, dtype=float), rows.shape).copy()
        horizons, probs = self.horizons[rows], self.probs[rows]
        out = np.zeros(len(rows))
        done = t <= 0
        prev_h = np.zeros(len(rows))
        prev_p = np.zeros(len(rows))
        for k in range(horizons.shape[1]):
            h, p = horizons[:, k], probs[:, k]
            valid = ~np.isnan(h)
            inside = valid & ~done & (t <= h)
            span = np.where(inside, h - prev_h, 1.0)
            frac = np.where(span > 0, (t - prev_h) / span, 1.0)
            out[inside] = (prev_p + frac * (p - prev_p))[inside]
            done |= inside
            prev_h = np.where(valid, h, prev_h)
            prev_p = np.where(valid, p, prev_p)
        rest = ~done
        if rest.any():
            out[rest] = self._tail(t[rest], prev_h[rest], prev_p[rest], rows[rest])
        return np.clip(out, 0.0, 1.0)

    def _tail(self, t: np.ndarray, h: np.ndarray, p: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Past the longest horizon: remaining-life distribution, else a constant hazard."""
        safe_h = np.where(h > 0, h, 1.0)
        hazard = 1.0 - np.power(np.clip(1.0 - p, 0.0, 1.0), t / safe_h)
        rul, sd = self.rul_days[rows], self.rul_sd[rows]
        usable = ~np.isnan(rul) & ~np.isnan(sd) & (sd > 0)
        out = hazard
        if usable.any():
            g_h = ndtr((h - rul) / np.where(usable, sd, 1.0))
            g_t = ndtr((t - rul) / np.where(usable, sd, 1.0))
            room = 1.0 - g_h
            ok = usable & (room > 1e-6)
            conditional = p + (1.0 - p) * (g_t - g_h) / np.where(ok, room, 1.0)
            out = np.where(ok, np.maximum(conditional, p), hazard)
        return out

    def window(self, start_days: np.ndarray | float, end_days: np.ndarray | float,
               rows: np.ndarray | None = None) -> np.ndarray:
        """``P(failure in [as_of + start, as_of + end] | no failure before as_of)``."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows)
        age = self.age_days[rows]
        alive = self.cdf(age, rows)
        f_start = self.cdf(age + start_days, rows)
        f_end = self.cdf(age + end_days, rows)
        return _given_alive(f_end - f_start, alive)

    def failure_by(self, grid_days: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``window(0, t, rows)`` for every ``t`` of ``grid_days``: shape ``(rows, grid)``,
        from one evaluation of the distribution."""
        age = self.age_days[rows]
        alive = self.cdf(age, rows)
        later = self.cdf((age[:, None] + grid_days[None, :]).ravel(),
                         np.repeat(rows, len(grid_days))).reshape(len(rows), len(grid_days))
        return _given_alive(later - alive[:, None], alive[:, None])


def _given_alive(probability: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """An unconditional failure probability made conditional on surviving until ``as_of``
    (``alive``: the probability of having failed by then)."""
    room = np.where(1.0 - alive > 1e-9, 1.0 - alive, 1e-9)
    return np.clip(probability / room, 0.0, 1.0)


def latest_prediction_time(conn: psycopg.Connection) -> datetime | None:
    """The newest ``predicted_at`` in ``failure_prediction`` (None when there is none)."""
    row = conn.execute("SELECT max(predicted_at) FROM failure_prediction").fetchone()
    return row[0] if row else None


# Index lookups (the primary key starts with asset, component, horizon, time), so the cost does
# not grow with the prediction history: the newest row per (asset, component, horizon) for the
# components the installed base has (BOM, installed components) or the newest run names, and
# the horizons of the newest run.
_QUERY = """
WITH latest AS (
    SELECT max(predicted_at) AS at FROM failure_prediction
    WHERE predicted_at <= %(as_of)s AND predicted_at >= %(as_of)s - %(max_age)s * interval '1 day'
), horizons AS (
    SELECT DISTINCT horizon_days FROM failure_prediction, latest WHERE predicted_at = latest.at
), pairs AS (
    SELECT a.asset_id, b.component_type FROM asset a
    JOIN (SELECT DISTINCT model_id, component_type FROM bom_item) b USING (model_id)
    UNION
    SELECT asset_id, component_type FROM installed_component WHERE valid_to IS NULL
    UNION
    SELECT asset_id, component_type FROM failure_prediction, latest WHERE predicted_at = latest.at
), found AS (
    SELECT pr.asset_id, pr.component_type, h.horizon_days, n.*
    FROM pairs pr CROSS JOIN horizons h
    CROSS JOIN LATERAL (
        SELECT fp.predicted_at, fp.failure_probability, fp.rul_days, fp.rul_low_days,
               fp.rul_high_days, fp.model_version_id FROM failure_prediction fp
        WHERE fp.asset_id = pr.asset_id AND fp.component_type = pr.component_type
          AND fp.horizon_days = h.horizon_days AND fp.predicted_at <= %(as_of)s
          AND fp.predicted_at >= %(as_of)s - %(max_age)s * interval '1 day'
        ORDER BY fp.predicted_at DESC LIMIT 1) n
), newest AS (
    SELECT asset_id, component_type, max(predicted_at) AS predicted_at FROM found
    GROUP BY asset_id, component_type
)
SELECT p.asset_id, a.site_id, a.model_id, p.component_type, a.criticality, p.predicted_at,
       array_agg(p.horizon_days ORDER BY p.horizon_days),
       array_agg(p.failure_probability ORDER BY p.horizon_days),
       (array_agg(p.rul_days ORDER BY p.horizon_days))[1],
       (array_agg(p.rul_low_days ORDER BY p.horizon_days))[1],
       (array_agg(p.rul_high_days ORDER BY p.horizon_days))[1],
       max(p.model_version_id)
FROM found p
JOIN newest n USING (asset_id, component_type, predicted_at)
JOIN asset a USING (asset_id)
GROUP BY p.asset_id, a.site_id, a.model_id, p.component_type, a.criticality, p.predicted_at
ORDER BY p.asset_id, p.component_type
"""


def load_risk(conn: psycopg.Connection, as_of: datetime, *, max_age_days: float = 30.0,
              rul_interval: float = 0.8) -> RiskTable:
    """The newest prediction per (asset, component) made at most ``max_age_days`` before
    ``as_of``, with the horizons of the newest scoring run. ``rul_interval`` is the central
    probability of ``[rul_low, rul_high]``."""
    rows = conn.execute(_QUERY, {"as_of": as_of, "max_age": max_age_days}).fetchall()
    n = len(rows)
    k = max((len(r[6]) for r in rows), default=1)
    horizons = np.full((n, k), np.nan)
    probs = np.full((n, k), np.nan)
    for i, r in enumerate(rows):
        horizons[i, :len(r[6])] = r[6]
        probs[i, :len(r[7])] = np.maximum.accumulate(np.asarray(r[7], dtype=float))
    z = float(ndtri(0.5 + rul_interval / 2.0))

    def column(index: int, dtype: object = float) -> np.ndarray:
        return np.array([np.nan if r[index] is None and dtype is float else r[index]
                         for r in rows], dtype=dtype)  # type: ignore[call-overload]

    low, high = column(9), column(10)
    versions = np.array([r[11] for r in rows], dtype=np.int64)
    caps = dict(conn.execute(
        "SELECT model_version_id, (params->>'rul_cap_days')::float8 FROM model_version"
        " WHERE model_version_id = ANY(%s)", (sorted(set(versions.tolist())),)).fetchall())
    cap = np.array([caps.get(int(v)) or np.inf for v in versions], dtype=float)
    censored = high >= cap - 1e-6
    predicted_at = np.array([r[5] for r in rows], dtype=object)
    age = np.array([(as_of - r[5]).total_seconds() / 86400.0 for r in rows], dtype=float)
    return RiskTable(
        as_of=as_of,
        asset_id=np.array([r[0] for r in rows], dtype=np.int64),
        site_id=np.array([r[1] for r in rows], dtype=object),
        model_id=np.array([r[2] for r in rows], dtype=object),
        component_type=np.array([r[3] for r in rows], dtype=object),
        criticality=np.array([r[4] for r in rows], dtype=np.int64),
        model_version_id=versions,
        predicted_at=predicted_at,
        age_days=np.maximum(age, 0.0),
        horizons=horizons,
        probs=probs,
        rul_days=column(8),
        rul_sd=np.where(censored, np.nan, (high - low) / (2.0 * z)),
        rul_low_days=low,
    )
