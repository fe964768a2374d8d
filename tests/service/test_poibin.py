"""The Poisson-binomial demand distribution against brute force and the normal limit."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assetwatch.service.poibin import poisson_binomial


def _brute_force(prob: list[float], weight: list[int]) -> dict[int, float]:
    pmf: dict[int, float] = {}
    for outcome in itertools.product((0, 1), repeat=len(prob)):
        p = 1.0
        for o, pi in zip(outcome, prob, strict=True):
            p *= pi if o else 1 - pi
        k = sum(o * w for o, w in zip(outcome, weight, strict=True))
        pmf[k] = pmf.get(k, 0.0) + p
    return pmf


terms = st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 3)), min_size=1, max_size=9)


@settings(max_examples=60, deadline=None)
@given(terms, st.sampled_from([0.5, 0.9, 0.95, 0.99]))
def test_exact_matches_brute_force(items: list[tuple[float, int]], q: float) -> None:
    prob = [p for p, _ in items]
    weight = [w for _, w in items]
    dist = poisson_binomial(np.zeros(len(items), dtype=int), np.array(prob), np.array(weight), 1)
    pmf = _brute_force(prob, weight)
    cumulative, expected_quantile = 0.0, None
    for k in sorted(pmf):
        cumulative += pmf[k]
        if cumulative >= q - 1e-12 and expected_quantile is None:
            expected_quantile = k
    assert dist.exact[0]
    assert dist.quantile(q)[0] == expected_quantile
    assert np.isclose(dist.mean[0], sum(p * w for p, w in items))
    for level in range(0, sum(weight) + 1):
        tail = sum(v for k, v in pmf.items() if k > level)
        assert np.isclose(dist.exceedance(np.array([level]))[0], tail, atol=1e-9)


def test_groups_are_independent_and_upper_quantile_exceeds_mean() -> None:
    rng = np.random.default_rng(1)
    n = 600
    group = rng.integers(0, 5, n)
    prob = rng.uniform(0, 0.3, n)
    weight = rng.integers(1, 3, n)
    dist = poisson_binomial(group, prob, weight, 6)
    assert dist.mean[5] == 0 and dist.quantile(0.95)[5] == 0
    for g in range(5):
        alone = poisson_binomial(np.zeros((group == g).sum(), dtype=int), prob[group == g],
                                 weight[group == g], 1)
        assert alone.quantile(0.95)[0] == dist.quantile(0.95)[g]
        assert dist.quantile(0.95)[g] > dist.mean[g]


def test_approximation_agrees_with_exact_for_large_groups() -> None:
    rng = np.random.default_rng(2)
    prob = rng.uniform(0, 0.2, 3000)
    weight = np.ones(3000, dtype=int)
    group = np.zeros(3000, dtype=int)
    exact = poisson_binomial(group, prob, weight, 1, max_exact_sd=1e9)
    approx = poisson_binomial(group, prob, weight, 1, max_exact_sd=0.0)
    assert exact.exact[0] and not approx.exact[0]
    for q in (0.5, 0.9, 0.95, 0.99):
        assert abs(exact.quantile(q)[0] - approx.quantile(q)[0]) <= 1
    level = np.array([exact.quantile(0.95)[0]])
    assert abs(exact.exceedance(level)[0] - approx.exceedance(level)[0]) < 0.01


def test_sampled_quantile_covers_simulated_demand() -> None:
    rng = np.random.default_rng(3)
    prob = rng.uniform(0, 0.5, 40)
    weight = rng.integers(1, 4, 40)
    dist = poisson_binomial(np.zeros(40, dtype=int), prob, weight, 1)
    draws = (rng.random((20000, 40)) < prob) @ weight
    assert abs(np.mean(draws <= dist.quantile(0.95)[0]) - 0.95) < 0.03
