"""Demand as a sum of independent weighted Bernoulli variables, for many groups at once.

The demand for one part at one site in one period is ``D = sum_i w_i * B_i`` where ``B_i`` says
whether component ``i`` fails (probability ``p_i``, independent) and ``w_i`` is the quantity of
the part it consumes. ``D`` follows a (weighted) Poisson-binomial distribution: its upper
quantile is not the sum of means plus a guess, and not a Poisson either when some ``p_i`` are
large.

:func:`poisson_binomial` computes the exact distribution by dynamic programming, vectorised over
groups with numpy, for every group whose standard deviation is small enough that the
probability table stays short; larger groups use the refined normal approximation (normal with
a skewness correction, Cornish-Fisher for quantiles), which is accurate exactly when the exact
table would be long.

Examples
--------
>>> import numpy as np
>>> dist = poisson_binomial(np.array([0, 0, 0, 1]), np.array([0.5, 0.5, 0.5, 0.1]),
...                         np.array([1, 1, 1, 2]), 2)
>>> dist.mean.tolist()
[1.5, 0.2]
>>> dist.quantile(0.95).tolist()
[3.0, 2.0]
>>> [round(x, 3) for x in dist.exceedance(np.array([2, 0])).tolist()]
[0.125, 0.1]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["DemandDistribution", "poisson_binomial"]

_PHI_NORM = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass
class DemandDistribution:
    """The distribution of demand of ``n_groups`` groups: moments, and exact tables where kept.

    ``exact[g]`` tells whether group ``g`` has an exact table (``cdf`` rows, see ``_row``).
    """

    mean: np.ndarray
    var: np.ndarray
    third: np.ndarray  # third central moment
    total: np.ndarray  # the largest possible demand (sum of weights)
    exact: np.ndarray
    _row: np.ndarray = field(repr=False)   # group -> row in _cdf, -1 if approximated
    _cdf: np.ndarray = field(repr=False)   # (exact groups, width) cumulative probabilities

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(self.var)

    def quantile(self, q: float) -> np.ndarray:
        """Smallest demand ``k`` with ``P(D <= k) >= q``, per group (as floats)."""
        out = np.zeros(len(self.mean))
        rows = self._row[self.exact]
        if len(rows):
            reached = self._cdf[rows] >= q - 1e-12
            first = np.argmax(reached, axis=1)
            first[~reached.any(axis=1)] = self._cdf.shape[1] - 1
            out[self.exact] = first
        approx = ~self.exact
        if approx.any():
            sd = self.sd[approx]
            z = float(ndtri(q))
            skew = np.divide(self.third[approx], sd ** 3, out=np.zeros_like(sd), where=sd > 0)
            zq = z + (z * z - 1.0) * skew / 6.0
            value = np.ceil(self.mean[approx] + sd * zq - 0.5)
            out[approx] = np.clip(value, np.floor(self.mean[approx]), self.total[approx])
        return out

    def exceedance(self, x: np.ndarray) -> np.ndarray:
        """``P(D > x)`` per group for the level ``x[g]``."""
        x = np.asarray(x, dtype=float)
        out = np.zeros(len(self.mean))
        if self.exact.any():
            level = np.floor(x[self.exact]).astype(np.int64)
            rows = self._row[self.exact]
            width = self._cdf.shape[1]
            below = self._cdf[rows, np.clip(level, 0, width - 1)]
            below = np.where(level < 0, 0.0, np.where(level >= width, 1.0, below))
            out[self.exact] = 1.0 - below
        approx = ~self.exact
        if approx.any():
            sd = self.sd[approx]
            safe = np.where(sd > 0, sd, 1.0)
            u = (np.floor(x[approx]) + 0.5 - self.mean[approx]) / safe
            skew = np.where(sd > 0, self.third[approx] / safe ** 3, 0.0)
            cdf = ndtr(u) + skew * (1.0 - u * u) * _PHI_NORM * np.exp(-0.5 * u * u) / 6.0
            cdf = np.where(sd > 0, np.clip(cdf, 0.0, 1.0),
                           (np.floor(x[approx]) >= self.mean[approx]).astype(float))
            out[approx] = 1.0 - cdf
        return np.clip(out, 0.0, 1.0)


def poisson_binomial(group: np.ndarray, prob: np.ndarray, weight: np.ndarray, n_groups: int,
                     *, max_exact_sd: float = 25.0, max_width: int = 4096,
                     chunk: int = 512) -> DemandDistribution:
    """The distribution of ``sum(weight * Bernoulli(prob))`` within each group.

    ``group`` holds each term's group in ``range(n_groups)``; ``weight`` are positive integers.
    Groups with a standard deviation up to ``max_exact_sd`` get the exact distribution.
    """
    group = np.asarray(group, dtype=np.int64)
    prob = np.clip(np.asarray(prob, dtype=float), 0.0, 1.0)
    weight = np.asarray(weight, dtype=np.int64)
    if len(weight) and weight.min() < 1:
        raise ValueError("weights must be positive integers")
    wf = weight.astype(float)
    pq = prob * (1.0 - prob)
    mean = np.bincount(group, wf * prob, n_groups)
    var = np.bincount(group, wf ** 2 * pq, n_groups)
    third = np.bincount(group, wf ** 3 * pq * (1.0 - 2.0 * prob), n_groups)
    live = prob > 1e-12
    total = np.bincount(group[live], wf[live], n_groups)
    wmax = np.zeros(n_groups)
    np.maximum.at(wmax, group[live], wf[live])
    sd = np.sqrt(var)
    width = np.minimum(total, np.ceil(mean + 10.0 * sd + 2.0 * wmax + 4.0)).astype(np.int64) + 1
    exact = (sd <= max_exact_sd) & (width <= max_width)
    row = np.full(n_groups, -1, dtype=np.int64)
    exact_groups = np.flatnonzero(exact)
    row[exact_groups] = np.arange(len(exact_groups))
    global_width = int(width[exact_groups].max()) if len(exact_groups) else 1
    cdf = np.ones((len(exact_groups), global_width))
    if len(exact_groups):
        _exact_tables(group[live], prob[live], weight[live], exact_groups, width, row, cdf,
                      chunk)
    return DemandDistribution(mean, var, third, total, exact, row, cdf)


def _exact_tables(group: np.ndarray, prob: np.ndarray, weight: np.ndarray,
                  exact_groups: np.ndarray, width: np.ndarray, row: np.ndarray,
                  cdf: np.ndarray, chunk: int) -> None:
    in_exact = row[group] >= 0
    group, prob, weight = group[in_exact], prob[in_exact], weight[in_exact]
    counts = np.bincount(group, minlength=len(row))
    order_groups = exact_groups[np.argsort(counts[exact_groups], kind="stable")]
    term_order = np.argsort(group, kind="stable")
    group, prob, weight = group[term_order], prob[term_order], weight[term_order]
    starts = np.concatenate(([0], np.cumsum(counts)))
    for begin in range(0, len(order_groups), chunk):
        groups = order_groups[begin:begin + chunk]
        n_terms = counts[groups]
        t_max = int(n_terms.max()) if len(groups) else 0
        w_max = int(width[groups].max())
        pmf = np.zeros((len(groups), w_max))
        pmf[:, 0] = 1.0
        if t_max:
            q_mat = np.zeros((len(groups), t_max))
            w_mat = np.ones((len(groups), t_max), dtype=np.int64)
            local = np.repeat(np.arange(len(groups)), n_terms)
            rank = np.arange(int(n_terms.sum())) - np.repeat(np.cumsum(n_terms) - n_terms,
                                                              n_terms)
            idx = np.concatenate([np.arange(starts[g], starts[g + 1]) for g in groups])
            q_mat[local, rank] = prob[idx]
            w_mat[local, rank] = weight[idx]
            _convolve(pmf, q_mat, w_mat)
        table = np.cumsum(pmf, axis=1)
        full = np.ones((len(groups), cdf.shape[1]))
        full[:, :w_max] = table
        full[:, w_max:] = table[:, -1:]
        cdf[row[groups]] = full


def _convolve(pmf: np.ndarray, q_mat: np.ndarray, w_mat: np.ndarray) -> None:
    """Add the terms column by column: ``pmf <- pmf * (1 - q) + shift(pmf, w) * q``."""
    uniform = bool((w_mat == w_mat.flat[0]).all())
    for t in range(q_mat.shape[1]):
        q = q_mat[:, t:t + 1]
        previous = pmf.copy()
        pmf *= 1.0 - q
        if uniform:
            w = int(w_mat.flat[0])
            if w < pmf.shape[1]:
                pmf[:, w:] += previous[:, :-w] * q
            continue
        column = w_mat[:, t]
        for w in np.unique(column):
            w = int(w)
            if w >= pmf.shape[1]:
                continue
            rows = column == w
            pmf[rows, w:] += previous[rows, :-w] * q[rows]
