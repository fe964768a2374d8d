"""Second failures inside a window, against closed forms and a numerical integral."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy.integrate import quad

from assetwatch.service.renewal import new_part_life, second_failure_window
from assetwatch.service.risk import RiskTable


def _risk(horizons: list[float], probs: list[float]) -> RiskTable:
    """One (asset, component) predicted at as_of, no remaining-life interval."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    nan = np.array([np.nan])
    return RiskTable(
        as_of=at, asset_id=np.array([1]), site_id=np.array(["s"], dtype=object),
        model_id=np.array(["CP-200"], dtype=object),
        component_type=np.array(["bearing"], dtype=object), criticality=np.array([1]),
        model_version_id=np.array([1]), predicted_at=np.array([at], dtype=object),
        age_days=np.array([0.0]), horizons=np.array([horizons], dtype=float),
        probs=np.array([probs], dtype=float), rul_days=nan, rul_sd=nan, rul_low_days=nan)


def test_exponential_lives_give_the_erlang_law() -> None:
    # first failure exponential with mean 100 days (the risk table's constant hazard past its
    # one-day horizon), new parts too: the second failure by t is Erlang(2),
    # 1 - exp(-t/100) (1 + t/100)
    eta = 100.0
    risk = _risk([1.0], [1 - math.exp(-1 / eta)])
    life = np.array([[1.0, eta]])
    for start, end in ((0.0, 30.0), (0.0, 90.0), (30.0, 60.0)):
        def erlang(t: float) -> float:
            return 1 - math.exp(-t / eta) * (1 + t / eta)
        got = second_failure_window(risk, np.array([0]), np.array([start]), np.array([end]),
                                    life)[0]
        assert got == pytest.approx(erlang(end) - erlang(start), abs=2e-4)


def test_wear_out_part_against_an_integral() -> None:
    # first failure: uniform over the first 30 days (P = 0.5), none in the next 30, then the
    # risk table's constant hazard (1 - 0.5 ** (t / 60)); the new part: the catalogue bearing
    beta, eta = 2.2, 240.0
    risk = _risk([30.0, 60.0], [0.5, 0.5])

    def new_part(t: float) -> float:
        return -math.expm1(-((max(t, 0.0) / eta) ** beta))

    def tail_density(t: float) -> float:
        return 0.5 ** (t / 60) * math.log(2) / 60

    expected = (quad(lambda tau: 0.5 / 30 * new_part(90 - tau), 0, 30)[0]
                + quad(lambda tau: tail_density(tau) * new_part(90 - tau), 60, 90)[0])
    got = second_failure_window(risk, np.array([0, 0]), 0.0, 90.0,
                                np.array([[beta, eta], [beta, eta]]))
    assert got == pytest.approx([expected, expected], rel=1e-3)
    assert 0.01 < expected < 0.05          # rare for a wear-out part, but not nothing


def test_new_part_life_from_the_datasheet_lives() -> None:
    life = new_part_life(np.array(["CP-200", "CP-200", "NO-SUCH"], dtype=object),
                         np.array(["bearing", "no_such_part", "bearing"], dtype=object),
                         {"bearing": {"CP-200": (2.2, 240.0)}})
    assert life[0, 0] > 1 and life[0, 1] > 0
    assert np.isnan(life[1]).all() and np.isnan(life[2]).all()


def test_demand_counts_a_second_failure_beyond_certainty() -> None:
    # the first failure is certain within 10 days and a new part lives about 20 days: the
    # component fails about twice in 60 days; the mean counts both, one term per failure
    from assetwatch.service.demand import DemandTerms

    risk = _risk([10.0], [1.0])
    life = np.array([[1.0, 20.0]])
    terms = DemandTerms(risk, np.array([0]), np.array([0]), np.array([2]), [("BRG", "s")], life)
    second = second_failure_window(risk, np.array([0]), 0.0, 60.0, life)[0]
    assert 0.8 < second < 1.0
    dist = terms.distribution(0.0, 60.0)
    assert dist.mean[0] == pytest.approx(2 * (1.0 + second))
    assert dist.quantile(0.99)[0] == 4.0          # two parts per failure, two failures
    alone = DemandTerms(risk, np.array([0]), np.array([0]), np.array([2]), [("BRG", "s")],
                        np.full((1, 2), np.nan))   # no life known: first failures only
    assert alone.distribution(0.0, 60.0).mean[0] == pytest.approx(2.0)
