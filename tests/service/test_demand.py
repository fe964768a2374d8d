"""Parts demand and inventory policy from stored predictions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from scipy.integrate import quad

from assetwatch.service.demand import compute_demand, periods
from assetwatch.service.masterdata import read_masterdata
from assetwatch.service.masterdata_load import sample_path
from assetwatch.service.policy import compute_inventory_policy, kanban_sizing
from assetwatch.service.risk import load_risk
from assetwatch.service.service_levels import ServiceLevels
from assetwatch.service.ticket_lifecycle import close_ticket, open_ticket

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)


def again(start: float, end: float, first: list[tuple[float, float, float]],
          model_id: str = "CP-200", component: str = "bearing") -> float:
    """P(a component's replacement, a new part, fails in ``[start, end]``) when its first
    failure has probability ``p`` spread evenly over each ``(a, b, p)`` of ``first``: the
    integral of the first failure's density times the datasheet's new-part Weibull."""
    beta, eta = _datasheet_life(model_id, component)

    def new_part(t: float) -> float:
        return -float(np.expm1(-(max(t, 0.0) / eta) ** beta))

    return sum(quad(lambda tau, a=a, b=b, p=p: p / (b - a) * (new_part(end - tau)
                                                             - new_part(start - tau)),
                    a, min(b, end))[0] for a, b, p in first if a < end)


def _datasheet_life(model_id: str, component: str) -> tuple[float, float]:
    """The sample master data's life of a model's component (what the tests load)."""
    rows = read_masterdata(sample_path(), skip_unknown_sites=True).rows("component_life")
    row = next(r.values for r in rows
               if (r.values["model_id"], r.values["component_type"]) == (model_id, component))
    return row["weibull_beta"], row["weibull_eta_days"]


def test_periods_cover_the_horizon() -> None:
    assert periods(90, 30) == [(0, 30), (30, 60), (60, 90)]
    assert periods(45, 30) == [(0, 30), (30, 45)]


def test_risk_windows_follow_the_horizons(fleet_db: tuple[psycopg.Connection, dict],
                                          predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    asset = ids["a01-00"]
    predict(conn, AS_OF, {(asset, "bearing"): {30: 0.3, 90: 0.6}},
            rul=(80.0, 40.0, 120.0))
    risk = load_risk(conn, AS_OF)
    assert len(risk) == 1
    assert np.isclose(risk.window(0, 30)[0], 0.3)
    assert np.isclose(risk.window(30, 60)[0], 0.15)
    assert np.isclose(risk.window(0, 15)[0], 0.15)
    beyond = risk.window(0, 200)[0]
    assert 0.6 < beyond <= 1.0
    later = load_risk(conn, AS_OF + timedelta(days=30))
    # conditional on surviving the first 30 days: (0.6 - 0.3) / 0.7 within the next 60
    assert np.isclose(later.window(0, 60)[0], 0.3 / 0.7)


def test_an_interval_clipped_at_the_models_cap_is_not_a_life_distribution(
        fleet_db: tuple[psycopg.Connection, dict], predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    asset = ids["a01-00"]
    predict(conn, AS_OF, {(asset, "bearing"): {30: 0.03}}, rul=(55.0, 15.0, 90.0))
    hazard = 1 - 0.97 ** 3          # the 30-day probability as a constant hazard over 90 days
    normal = load_risk(conn, AS_OF).window(0, 90)[0]
    assert normal > 0.5             # no cap known: the interval's normal law
    conn.execute("UPDATE model_version SET params = params || '{\"rul_cap_days\": 90}'")
    assert np.isclose(load_risk(conn, AS_OF).window(0, 90)[0], hazard)
    conn.execute("UPDATE model_version SET params = params || '{\"rul_cap_days\": 120}'")
    assert np.isclose(load_risk(conn, AS_OF).window(0, 90)[0], normal)


def test_demand_per_part_site_and_period(fleet_db: tuple[psycopg.Connection, dict],
                                         predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pumps = [ids["a01-00"], ids["a01-02"]]   # CP-200 at site-01
    predict(conn, AS_OF, {(a, "bearing"): {30: 0.5, 60: 0.8, 90: 0.9} for a in pumps})
    n = compute_demand(conn, as_of=AS_OF, horizon_days=90, period_days=30, quantile=0.95)
    assert n > 0
    rows = {(r[0], r[1]): r[2:] for r in conn.execute(
        "SELECT part_no, period_start, expected_qty, upper_qty, planned_qty FROM v_parts_demand"
        " WHERE site_id = 'site-01' AND part_no IN ('BRG-6309-C3', 'ORING-52X3-FKM')")}
    first = AS_OF.date()
    expected, upper, _ = rows[("BRG-6309-C3", first)]
    # two pumps x 0.5, and a new bearing may fail again within the 30 days
    first_failure = [(0, 30, 0.5), (30, 60, 0.3), (60, 90, 0.1)]
    assert expected == pytest.approx(2 * (0.5 + again(0, 30, first_failure)), rel=1e-4)
    assert 1.0 < expected < 1.01
    assert upper == 2.0                          # both may fail: P(2) = 0.25 > 0.05
    o_expected, o_upper, _ = rows[("ORING-52X3-FKM", first)]
    assert o_expected == pytest.approx(2 * expected) and o_upper == 4.0   # two per bearing kit
    second = rows[("BRG-6309-C3", first + timedelta(days=30))]
    assert second[0] == pytest.approx(2 * (0.3 + again(30, 60, first_failure)), rel=1e-4)
    grease = rows  # planned relubrication every 90 days adds grease at site-01 (2 pumps)
    assert sum(v[2] for k, v in grease.items() if k[0] == "ORING-52X3-FKM") == 0
    planned = conn.execute("SELECT sum(planned_qty) FROM v_parts_demand WHERE part_no ="
                           " 'GREASE-LGHP2-400' AND site_id = 'site-01'").fetchone()[0]
    assert planned == pytest.approx(2.0)        # 2 pumps, one service each in 90 days
    exported = conn.execute("SELECT total_expected_qty, lead_time_days FROM"
                            " v_parts_demand_export WHERE part_no = 'BRG-6309-C3' AND"
                            " site_id = 'site-01' AND period_start = %s", (first,)).fetchone()
    assert exported[0] == pytest.approx(expected) and float(exported[1]) == 5.0


def test_an_open_ticket_uses_its_parts_at_the_share_tickets_replaced(
        fleet_db: tuple[psycopg.Connection, dict], predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pump, other = ids["a01-00"], ids["a01-02"]
    predict(conn, AS_OF, {(a, "bearing"): {30: 0.2, 60: 0.3} for a in (pump, other)})

    def bearings() -> list[float]:
        compute_demand(conn, as_of=AS_OF, horizon_days=60, period_days=30, computed_at=AS_OF)
        return [r[0] for r in conn.execute(
            "SELECT expected_qty FROM v_parts_demand WHERE part_no = 'BRG-6309-C3' AND"
            " site_id = 'site-01' ORDER BY period_start")]

    before = bearings()
    ticket = open_ticket(conn, pump, "bearing_wear", risk=0.9, at=AS_OF - timedelta(days=1))
    assert bearings() == pytest.approx(before)          # nothing measured: the risk alone
    for asset, code in ((other, "preventive_replacement"), (other, "no_fault_found"),
                        (other, "confirmed_failure"), (other, "no_fault_found")):
        closed = open_ticket(conn, asset, "bearing_wear", risk=0.9,
                             at=AS_OF - timedelta(days=60))
        close_ticket(conn, closed, resolution_code=code, at=AS_OF - timedelta(days=30))
    first, second = bearings()
    # the pump's bearing: replaced at the ticket's visit with probability 2/4, else its risk
    # (up to the second-failure term, a few 1e-3 here)
    mine_first = 0.5 + 0.5 * (before[0] / 2)
    assert first == pytest.approx(before[0] / 2 + mine_first, abs=2e-3)
    assert second == pytest.approx(before[1] / 2 + 0.5 * before[1] / 2, abs=5e-3)
    assert first > before[0] + 0.35 and second < before[1] - 0.03
    close_ticket(conn, ticket, resolution_code="no_fault_found", at=AS_OF - timedelta(hours=1))
    assert bearings() == pytest.approx(before)          # no open ticket: the risk alone


def test_kanban_sizing_is_two_bin_for_slow_movers() -> None:
    assert kanban_sizing(0.01, 1.0) == (1, 2)
    assert kanban_sizing(1.0, 45.0, container_days=30) == (30, 3)


def test_inventory_policy_flags(fleet_db: tuple[psycopg.Connection, dict],
                                predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pumps = [ids["a02-00"], ids["a02-02"]]   # CP-200 at site-02 (bearing lead time 14 days)
    predict(conn, AS_OF, {(a, "bearing"): {14: 0.9, 30: 0.95} for a in pumps})
    conn.execute("UPDATE stock SET on_hand = 0 WHERE part_no = 'BRG-6309-C3'"
                 " AND site_id = 'site-02'")
    conn.execute("UPDATE stock SET on_hand = 50 WHERE part_no = 'FLT-AIR-75'"
                 " AND site_id = 'site-02'")
    n = compute_inventory_policy(conn, as_of=AS_OF, service_level=0.95, review_period_days=0.0)
    assert n > 0
    policy = {r[0]: r[1:] for r in conn.execute(
        "SELECT part_no, reorder_point, safety_stock, stockout_risk, overstock,"
        " stockout_probability, kanban_bin_qty, kanban_cards, lead_time_demand"
        " FROM v_inventory_policy WHERE site_id = 'site-02'")}
    rop, safety, short, over, p_short, _, cards, lead_demand = policy["BRG-6309-C3"]
    # two pumps x 0.9 within the 14-day lead time, plus a new bearing failing again
    assert rop == 2.0 and lead_demand == pytest.approx(2 * (0.9 + again(0, 14, [(0, 14, 0.9)])),
                                                       rel=1e-4)
    assert safety == pytest.approx(rop - lead_demand, abs=1e-6)
    assert short and p_short > 0.9 and not over and cards >= 2
    assert policy["FLT-AIR-75"][3]    # 50 air filters against a few services: over-stocked
    assert not policy["FLT-AIR-75"][2]


def test_planned_maintenance_alone_gives_a_baseline(fleet_db: tuple[psycopg.Connection, dict]
                                                    ) -> None:
    conn, ids = fleet_db
    compressor = ids["a01-01"]     # SC-75: oil service every 120 days
    conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, code) VALUES"
                 " ('m1', %s, %s, 'maintenance', 'oil_service')",
                 (compressor, AS_OF - timedelta(days=115)))
    assert compute_demand(conn, as_of=AS_OF, horizon_days=60, period_days=30) > 0
    rows = dict(conn.execute(
        "SELECT period_start, planned_qty FROM v_parts_demand WHERE part_no = 'OIL-SC46-5L'"
        " AND site_id = 'site-01'").fetchall())
    assert rows == {AS_OF.date(): 4.0, (AS_OF + timedelta(days=30)).date(): 0.0}
    assert conn.execute("SELECT max(expected_qty) FROM v_parts_demand").fetchone() == (0.0,)
    assert compute_inventory_policy(conn, as_of=AS_OF) > 0
    rop = conn.execute("SELECT reorder_point FROM v_inventory_policy WHERE part_no ="
                       " 'OIL-SC46-5L' AND site_id = 'site-01'").fetchone()[0]
    assert rop >= 4.0


def test_cheap_parts_stock_to_their_class_level(fleet_db: tuple[psycopg.Connection, dict],
                                                predict: Callable[..., None]) -> None:
    """Per ABC class: the policy rows carry their class and level, and a class stocked to a
    higher level gets a reorder point at least as high (higher for some key)."""
    conn, ids = fleet_db
    predict(conn, AS_OF, {(a, c): {14: 0.3, 30: 0.5} for a in ids.values()
                          for c in ("bearing", "mechanical_seal")})

    def policy(levels: ServiceLevels | float) -> dict[tuple[str, str], tuple]:
        compute_inventory_policy(conn, as_of=AS_OF, service_level=levels,
                                 computed_at=AS_OF + timedelta(seconds=len(seen)))
        seen.append(levels)
        return {(r[0], r[1]): r[2:] for r in conn.execute(
            "SELECT part_no, site_id, abc_class, service_level, reorder_point"
            " FROM v_inventory_policy")}

    seen: list[object] = []
    single = policy(0.9)
    tiered = policy(ServiceLevels(a=0.9, b=0.9, c=0.995))
    assert {v[0] for v in single.values()} == {"A", "B", "C"}
    assert all(v[1] == pytest.approx(0.9) for v in single.values())
    cheap = [k for k, v in tiered.items() if v[0] == "C"]
    assert all(tiered[k][1] == pytest.approx(0.995) for k in cheap)
    assert all(tiered[k][2] >= single[k][2] for k in cheap)
    assert any(tiered[k][2] > single[k][2] for k in cheap)
    assert all(tiered[k][2] == single[k][2] for k, v in tiered.items() if v[0] == "A")
