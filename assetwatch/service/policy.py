"""Inventory policy per part and site from the predicted demand.

For each stocked part at each site with lead time ``L`` and review period ``R`` (how often the
policy is recomputed and orders are placed; 1 day for the hourly/daily flow):

* lead-time demand ``D_L``: the Poisson-binomial sum over the components that may fail within
  the protection interval ``L + R`` (an order placed now arrives after ``L``, the next chance
  to order is after ``R``), plus planned maintenance in that window;
* reorder point = the service level's quantile of ``D_L``; safety stock = reorder point minus
  the expected lead-time demand (so the reorder point covers the lead time at the target
  service level, cycle-service definition). The service level is one for every key, or one
  per ABC class of the key's expected usage value (:mod:`.service_levels`: cheap, rarely
  costly parts can be stocked to a higher level than the few keys that hold most of the
  value); each row stores its class and level;
* Kanban / two-bin: a container holds ``container_days`` of expected demand (at least one part);
  cards = containers to cover the reorder point plus the one being consumed (2 = two-bin);
* reservations: a component whose open ticket has its kit reserved is certain demand, not a
  random one: its term leaves ``D_L`` and the kit's quantity (``committed``, reserved or
  short) is taken from the inventory position ``on hand + on order - committed``; ``on
  order`` is what open replenishment orders still bring (``v_stock_available``);
* the repair loop: units of a repairable part at repair and due back within ``L + R`` are
  supply like open orders (``repair_pipeline``), so repaired parts reduce what is bought;
* stock-out flag: ``P(D_L > inventory position) > 1 - service_level``;
* over-stock flag (obsolescence risk): on hand exceeds the ``service_level`` quantile of demand
  over lead time plus horizon, plus one container.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

import numpy as np
import psycopg

from assetwatch.service.bom import planned_demand
from assetwatch.service.demand import demand_terms, resolve_as_of
from assetwatch.service.poibin import DemandDistribution
from assetwatch.service.risk import RiskTable, load_risk
from assetwatch.service.service_levels import ServiceLevels

__all__ = ["compute_inventory_policy", "kanban_sizing"]

log = logging.getLogger(__name__)


def kanban_sizing(demand_per_day: float, reorder_point: float,
                  container_days: float = 30.0) -> tuple[int, int]:
    """``(container quantity, number of cards)``: two bins when one container covers the
    reorder point."""
    container = max(1, math.ceil(demand_per_day * container_days - 1e-9))
    cards = max(2, math.ceil(reorder_point / container - 1e-9) + 1)
    return container, cards


def compute_inventory_policy(conn: psycopg.Connection, *, as_of: datetime | None = None,
                             service_level: float | ServiceLevels = 0.95,
                             horizon_days: int = 90,
                             container_days: float = 30.0, review_period_days: float = 1.0,
                             computed_at: datetime | None = None,
                             max_prediction_age_days: float = 30.0) -> int:
    """Compute and store the policy of every stocked part at every site; return the rows.

    Parts count when a component at the site may consume them, when they are planned, or when
    the site holds stock of them (so unneeded stock is flagged as over-stock).
    ``service_level``: one level for every key, or :class:`ServiceLevels` per ABC class.
    """
    levels = ServiceLevels.coerce(service_level)
    as_of = resolve_as_of(conn, as_of)
    computed_at = computed_at or datetime.now(UTC)
    risk = _without_ticketed(conn, load_risk(conn, as_of,
                                             max_age_days=max_prediction_age_days))
    lead = {(p, s): float(d) for p, s, d in conn.execute(
        "SELECT part_no, site_id, lead_time_days FROM v_part_lead_time"
        " WHERE lead_time_days IS NOT NULL")}
    stock = {(p, s): (h, o) for p, s, h, o in conn.execute(
        "SELECT part_no, site_id, on_hand, on_order FROM v_stock_available")}
    committed = {(p, s): int(q) for p, s, q in conn.execute(
        "SELECT part_no, site_id, required FROM v_stock_reserved")}
    costs = {p: float(c) for p, c in conn.execute("SELECT part_no, unit_cost FROM part")}
    horizon_plan = planned_demand(conn, as_of, [(0.0, float(horizon_days))])
    terms = demand_terms(conn, risk, sorted(set(stock) | set(horizon_plan)))
    keys = terms.keys
    known = np.array([k in lead for k in keys])
    for key in (k for k, ok in zip(keys, known, strict=True) if not ok):
        log.warning("no lead time for part %s at site %s; no policy", *key)
    lead_days = np.array([lead.get(k, 0.0) for k in keys])
    protection = lead_days + review_period_days
    # planned maintenance inside each key's own windows
    lead_plan = _planned_in(conn, as_of, keys, protection)
    long_plan = _planned_in(conn, as_of, keys, protection + horizon_days)
    h_plan = np.array([horizon_plan.get(k, np.zeros(1))[0] for k in keys])

    d_lead = terms.distribution(0.0, protection)
    d_horizon = terms.distribution(0.0, float(horizon_days))
    d_long = terms.distribution(0.0, protection + horizon_days)
    per_day = (d_horizon.mean + h_plan) / horizon_days
    unit_cost = np.array([costs.get(part_no, 0.0) for part_no, _ in keys])
    classes = levels.classes(per_day * 365.0 * unit_cost)
    level = levels.of(classes)
    rop = _quantile(d_lead, level) + np.ceil(lead_plan - 1e-9)
    expected_lead = d_lead.mean + lead_plan
    sd_per_day = np.sqrt(d_horizon.var / horizon_days)
    on_hand = np.array([stock.get(k, (0, 0))[0] for k in keys])
    on_order = np.array([stock.get(k, (0, 0))[1] for k in keys])
    reserved = np.array([committed.get(k, 0) for k in keys])
    repairing = _repair_pipeline(conn, as_of, keys, protection)
    position = on_hand + on_order - reserved + repairing
    p_short = d_lead.exceedance(position - np.ceil(lead_plan - 1e-9))
    long_upper = _quantile(d_long, level) + np.ceil(long_plan - 1e-9)

    records = []
    for g, (part_no, site_id) in enumerate(keys):
        if not known[g]:
            continue
        container, cards = kanban_sizing(float(per_day[g]), float(rop[g]), container_days)
        excess = max(0.0, float(on_hand[g] - long_upper[g] - container))
        records.append((
            computed_at, part_no, site_id, float(lead_days[g]), float(level[g]),
            float(per_day[g]), float(sd_per_day[g]), max(0.0, float(rop[g] - expected_lead[g])),
            float(rop[g]), container, cards, int(on_hand[g]),
            bool(p_short[g] > 1.0 - level[g]), excess >= 1.0, int(on_order[g]),
            float(expected_lead[g]), float(p_short[g]), excess,
            round(excess * costs.get(part_no, 0.0), 2), int(reserved[g]), int(repairing[g]),
            str(classes[g])))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM inventory_policy WHERE computed_at = %s", (computed_at,))
        with cur.copy("COPY inventory_policy (computed_at, part_no, site_id, lead_time_days,"
                      " service_level, demand_per_day, demand_sd_per_day, safety_stock,"
                      " reorder_point, kanban_bin_qty, kanban_cards, on_hand, stockout_risk,"
                      " overstock, on_order, lead_time_demand, stockout_probability,"
                      " excess_qty, excess_value, reserved, repair_pipeline, abc_class)"
                      " FROM STDIN"
                      ) as copy:
            for record in records:
                copy.write_row(record)
    log.info("inventory policy: %d (part, site) rows, %d at stock-out risk, %d over-stocked",
             len(records), sum(r[12] for r in records), sum(r[13] for r in records))
    return len(records)


def _quantile(distribution: DemandDistribution, level: np.ndarray) -> np.ndarray:
    """Each key's quantile of ``distribution`` at its own service level ``level[key]``."""
    out = np.zeros(len(level))
    for q in np.unique(level):
        at = level == q
        out[at] = distribution.quantile(float(q))[at]
    return out


def _repair_pipeline(conn: psycopg.Connection, as_of: datetime, keys: list[tuple[str, str]],
                     days: np.ndarray) -> np.ndarray:
    """Units at repair per key due back within its own window ``[.., as_of + days[key]]``."""
    due: dict[tuple[str, str], list[float]] = {}
    for part_no, site_id, at in conn.execute(
            "SELECT part_no, site_id, repair_due_at FROM part_return WHERE state = 'in_repair'"
            " AND part_no IS NOT NULL"):
        due.setdefault((part_no, site_id), []).append((at - as_of).total_seconds() / 86400.0)
    return np.array([sum(d <= days[g] for d in due.get(k, ())) for g, k in enumerate(keys)],
                    dtype=np.int64)


def _without_ticketed(conn: psycopg.Connection, risk: RiskTable) -> RiskTable:
    """The risk rows of components without an open ticket holding a reservation."""
    ticketed = {(int(a), str(c)) for a, c in conn.execute(
        "SELECT DISTINCT t.asset_id, f.component_type FROM service_ticket t"
        " JOIN failure_mode f USING (failure_mode) JOIN stock_reservation r USING (ticket_id)"
        " WHERE t.status <> 'closed' AND r.state = 'active'")}
    if not ticketed or not len(risk):
        return risk
    keep = np.array([(int(a), str(c)) not in ticketed
                     for a, c in zip(risk.asset_id, risk.component_type, strict=True)])
    return risk.subset(keep)


def _planned_in(conn: psycopg.Connection, as_of: datetime, keys: list[tuple[str, str]],
                days: np.ndarray) -> np.ndarray:
    """Planned quantity of each key within its own window ``[as_of, as_of + days[key]]``."""
    out = np.zeros(len(keys))
    distinct = sorted(set(days.tolist()))
    if not distinct:
        return out
    plan = planned_demand(conn, as_of, [(0.0, d) for d in distinct])
    position = {d: i for i, d in enumerate(distinct)}
    for g, key in enumerate(keys):
        if key in plan:
            out[g] = plan[key][position[float(days[g])]]
    return out
