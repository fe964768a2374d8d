"""Repeat failures: a component that fails and is replaced inside a window can fail again.

The expected number of failures of one installed component in ``[as_of + s, as_of + e]`` is
``P(T1 in window) + P(T2 in window) + ...``: ``T1`` is the first failure, whose distribution
the predictions give (:meth:`~assetwatch.service.risk.RiskTable.window`); the new part fitted
then fails at ``T2 = T1 + L``, ``L`` the life of a new part, a Weibull ``(beta, eta)`` of the
asset model and component type (the datasheet lives of master data). Third
failures are left out: they need two new parts to fail inside one planning window.

:func:`second_failure_window` computes ``P(T2 in window)`` on a grid of whole-day steps: the
first failure's probability mass per step (at the middle of the step) convolved with the new part's
life distribution, then read at ``s`` and ``e`` by linear interpolation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from assetwatch.models.prediction.lives import Lives
from assetwatch.service.risk import RiskTable

__all__ = ["new_part_life", "second_failure_window"]


def new_part_life(model_ids: np.ndarray, component_types: np.ndarray, lives: Lives
                  ) -> np.ndarray:
    """``(n, 2)`` Weibull ``(beta, eta_days)`` of a new part per row, from the datasheet
    ``lives`` of master data; NaN where they do not know the (asset model, component type)."""
    if not len(model_ids):
        return np.full((0, 2), np.nan)
    table = lives
    model_code, models = pd.factorize(pd.Series(model_ids, dtype=object))
    component_code, components = pd.factorize(pd.Series(component_types, dtype=object))
    known = np.array([[table.get(str(c), {}).get(str(m), (np.nan, np.nan)) for c in components]
                      for m in models], dtype=float).reshape(len(models), len(components), 2)
    return known[model_code, component_code]


def second_failure_window(risk: RiskTable, rows: np.ndarray, start: np.ndarray,
                          end: np.ndarray, life: np.ndarray, *,
                          max_steps: int = 32) -> np.ndarray:
    """``P(the replacement of row's component also fails in [as_of + start, as_of + end])``
    for each of ``rows`` (risk rows, repeats allowed) with ``life`` its new part's
    ``(beta, eta_days)``. The grid has whole-day steps, at most ``max_steps`` of them (a
    second failure is a small correction; the midpoint rule's error falls with the square of
    the step)."""
    rows = np.asarray(rows)
    start = np.broadcast_to(np.asarray(start, dtype=float), rows.shape)
    end = np.broadcast_to(np.asarray(end, dtype=float), rows.shape)
    if not len(rows) or float(end.max()) <= 0:
        return np.zeros(len(rows))
    step_days = float(max(1, math.ceil(float(end.max()) / max_steps)))
    steps = math.ceil(float(end.max()) / step_days)
    grid = np.arange(steps + 1) * step_days
    unique, first_of, where = np.unique(rows, return_index=True, return_inverse=True)
    first = risk.failure_by(grid, unique)                                 # (u, steps + 1)
    mass = np.diff(first, axis=1)                                         # per step
    lag = grid[None, :] - (grid[1:] - step_days / 2.0)[:, None]           # (steps, steps + 1)
    second = np.zeros_like(first)
    lives = np.asarray(life, dtype=float)[first_of]
    for beta, eta in np.unique(lives, axis=0):
        same = (lives[:, 0] == beta) & (lives[:, 1] == eta)
        cdf = np.where(lag > 0, -np.expm1(-np.power(np.clip(lag, 0, None) / eta, beta)), 0.0)
        second[same] = mass[same] @ cdf
    at_start = _interpolate(second[where], start / step_days)
    at_end = _interpolate(second[where], end / step_days)
    return np.clip(at_end - at_start, 0.0, 1.0)


def _interpolate(table: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Row ``i`` of ``table`` read at fractional column ``position[i]``."""
    last = table.shape[1] - 1
    position = np.clip(position, 0.0, last)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, last)
    frac = position - low
    index = np.arange(len(table))
    return table[index, low] * (1.0 - frac) + table[index, high] * frac
