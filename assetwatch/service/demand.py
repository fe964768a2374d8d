"""Parts demand signal: predicted failures x BOM x installed base -> demand per part, site, period.

For every (part, site, period) the expected quantity is ``sum_i qty_i * p_i`` over the
components ``i`` installed at the site whose replacement consumes the part, with ``p_i`` the
probability that component fails in the period (:mod:`assetwatch.service.risk`), plus, where
the catalogue gives a new part's life, the probability that its replacement fails in the
period too (:mod:`assetwatch.service.renewal`, added to the component's term: the mean stays
exact, the spread of a small second-failure probability is approximate). The upper quantile
comes from the exact (weighted) Poisson-binomial distribution of that sum
(:mod:`assetwatch.service.poibin`), not from a sum of means. Planned maintenance adds a
deterministic baseline (``planned_qty``).

An open equipment ticket sends a technician soon, who replaces the component when it shows
its fault, whenever it would have failed: its parts are used in the first period with the
probability that a ticket ends in a replacement (:func:`ticket_replacement_share`: the share
of the tickets closed in the last ``TICKET_LOOKBACK_DAYS`` whose closing replaced the part,
measured on the installation's own history), and the component's own failure risk counts only
for the rest. Without closed tickets to measure, an open ticket changes nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from assetwatch.models.prediction.lives import component_lives
from assetwatch.service.bom import exploded_bom, planned_demand
from assetwatch.service.poibin import DemandDistribution, poisson_binomial
from assetwatch.service.renewal import new_part_life, second_failure_window
from assetwatch.service.risk import RiskTable, latest_prediction_time, load_risk
from assetwatch.service.ticket_lifecycle import REPLACING_RESOLUTIONS

__all__ = ["TICKET_LOOKBACK_DAYS", "DemandTerms", "compute_demand", "demand_terms", "periods",
           "resolve_as_of", "ticket_replacement_share", "ticketed_replacements"]

log = logging.getLogger(__name__)

#: closed tickets of this many days before ``as_of`` measure how often a ticket replaces a part
TICKET_LOOKBACK_DAYS = 180


def resolve_as_of(conn: psycopg.Connection, as_of: datetime | None) -> datetime:
    """``as_of``, else the newest prediction time, else now (UTC)."""
    if as_of is not None:
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return latest_prediction_time(conn) or datetime.now(UTC)


def periods(horizon_days: int, period_days: int) -> list[tuple[float, float]]:
    """``[(start, end), ...]`` in days from ``as_of`` covering the horizon."""
    if horizon_days <= 0 or period_days <= 0:
        raise ValueError("horizon_days and period_days must be positive")
    n = math.ceil(horizon_days / period_days)
    return [(k * period_days, min((k + 1) * period_days, horizon_days)) for k in range(n)]


@dataclass
class DemandTerms:
    """Which risk rows consume which (part, site), and how many parts each replacement takes."""

    risk: RiskTable
    row: np.ndarray          # index into risk
    key: np.ndarray          # index into keys
    qty: np.ndarray
    keys: list[tuple[str, str]]   # (part_no, site_id)
    life: np.ndarray              # (terms, 2) new part's Weibull (beta, eta_days); NaN: unknown
    replaced: np.ndarray | None = None   # per term: P(an open ticket replaces it at once)

    def distribution(self, start: np.ndarray | float, end: np.ndarray | float) -> \
            DemandDistribution:
        """Demand per key for the window ``[as_of + start, as_of + end]``; ``start``/``end``
        may be per key (arrays indexed by key)."""
        s = np.asarray(start, dtype=float)
        e = np.asarray(end, dtype=float)
        s = np.broadcast_to(s[self.key] if s.ndim else s, self.key.shape)
        e = np.broadcast_to(e[self.key] if e.ndim else e, self.key.shape)
        prob = self.risk.window(s, e, self.row) if len(self.row) else np.zeros(0)
        if self.replaced is not None:
            # replaced at the ticket's visit (in a window from now), else its own risk
            prob = np.where(s <= 0.0, self.replaced, 0.0) + (1.0 - self.replaced) * prob
        key, qty = self.key, self.qty
        again = ~np.isnan(self.life[:, 0])
        if again.any():
            # the second failure joins the first's term (the mean stays exact; the term stays
            # a Bernoulli); what exceeds a probability of 1 becomes a term of its own
            prob[again] += second_failure_window(self.risk, self.row[again], s[again],
                                                 e[again], self.life[again])
            excess = np.clip(prob - 1.0, 0.0, None)
            if excess.any():
                over = excess > 0
                key = np.concatenate([key, key[over]])
                qty = np.concatenate([qty, qty[over]])
                prob = np.concatenate([np.minimum(prob, 1.0), excess[over]])
        return poisson_binomial(key, prob, qty, len(self.keys))


def ticket_replacement_share(conn: psycopg.Connection, as_of: datetime,
                             lookback_days: float = TICKET_LOOKBACK_DAYS) -> float | None:
    """Of the equipment tickets closed in ``[as_of - lookback_days, as_of)`` (duplicates left
    out), the share whose closing replaced the part (a confirmed failure or a preventive
    replacement; the others found no fault or were cancelled); None when none closed."""
    replaced, closed = conn.execute(
        "SELECT count(*) FILTER (WHERE resolution_code = ANY(%s)), count(*) FROM service_ticket"
        " WHERE kind = 'equipment' AND status = 'closed' AND closed_at < %s"
        " AND closed_at >= %s AND resolution_code IS DISTINCT FROM 'duplicate'",
        (list(REPLACING_RESOLUTIONS), as_of, as_of - timedelta(days=lookback_days))).fetchone()
    return replaced / closed if closed else None


def ticketed_replacements(conn: psycopg.Connection, risk: RiskTable, as_of: datetime
                          ) -> np.ndarray | None:
    """Per risk row, the probability that a ticket open at ``as_of`` on the component
    replaces it at once (:func:`ticket_replacement_share`; 0 without an open ticket); None
    when the share cannot be measured."""
    share = ticket_replacement_share(conn, as_of)
    if share is None or not len(risk):
        return None
    open_on = {(int(a), str(c)) for a, c in conn.execute(
        "SELECT DISTINCT t.asset_id, f.component_type FROM service_ticket t"
        " JOIN failure_mode f USING (failure_mode)"
        " WHERE t.kind = 'equipment' AND t.opened_at <= %s"
        " AND (t.closed_at IS NULL OR t.closed_at > %s)", (as_of, as_of))}
    return np.array([share if (int(a), str(c)) in open_on else 0.0
                     for a, c in zip(risk.asset_id, risk.component_type, strict=True)])


def demand_terms(conn: psycopg.Connection, risk: RiskTable,
                 extra_keys: Sequence[tuple[str, str]] = (),
                 replaced: np.ndarray | None = None) -> DemandTerms:
    """Join the risk rows with the exploded BOM; ``extra_keys`` are added even without terms;
    ``replaced`` (per risk row) is the probability that an open ticket replaces it at once."""
    bom = exploded_bom(conn)
    index: dict[tuple[str, str], int] = {}
    rows: list[int] = []
    keys: list[int] = []
    qtys: list[int] = []
    by_model: dict[tuple[str, str], list[tuple[str, int]]] = {
        k: sorted(v.items()) for k, v in bom.items()}
    for i in range(len(risk)):
        parts = by_model.get((risk.model_id[i], risk.component_type[i]))
        if not parts:
            continue
        site = risk.site_id[i]
        for part_no, qty in parts:
            key = index.setdefault((part_no, site), len(index))
            rows.append(i)
            keys.append(key)
            qtys.append(qty)
    for extra in extra_keys:
        index.setdefault(extra, len(index))
    row = np.array(rows, dtype=np.int64)
    life = new_part_life(risk.model_id, risk.component_type, component_lives(conn))[row]
    return DemandTerms(risk, row, np.array(keys, dtype=np.int64),
                       np.array(qtys, dtype=np.int64), list(index), life,
                       None if replaced is None else np.asarray(replaced, dtype=float)[row])


def compute_demand(conn: psycopg.Connection, *, as_of: datetime | None = None,
                   horizon_days: int = 90, period_days: int = 30, quantile: float = 0.95,
                   computed_at: datetime | None = None, max_prediction_age_days: float = 30.0,
                   ) -> int:
    """Compute and store the demand per part, site and period; return the rows written.

    Rows go to ``parts_demand`` under ``computed_at`` (default: now), replacing a run with the
    same ``computed_at``. Periods start at ``as_of`` (default: the newest prediction time).
    """
    as_of = resolve_as_of(conn, as_of)
    computed_at = computed_at or datetime.now(UTC)
    windows = periods(horizon_days, period_days)
    risk = load_risk(conn, as_of, max_age_days=max_prediction_age_days)
    planned = planned_demand(conn, as_of, windows)
    terms = demand_terms(conn, risk, sorted(planned), ticketed_replacements(conn, risk, as_of))
    records = []
    for k, (start, end) in enumerate(windows):
        dist = terms.distribution(start, end)
        upper = dist.quantile(quantile)
        period_start = (as_of + timedelta(days=start)).date()
        period_end = (as_of + timedelta(days=end)).date()
        for g, (part_no, site_id) in enumerate(terms.keys):
            plan = planned.get((part_no, site_id))
            records.append((computed_at, part_no, site_id, period_start, period_end,
                            float(dist.mean[g]), float(upper[g]), quantile,
                            float(plan[k]) if plan is not None else 0.0))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM parts_demand WHERE computed_at = %s", (computed_at,))
        with cur.copy("COPY parts_demand (computed_at, part_no, site_id, period_start,"
                      " period_end, expected_qty, upper_qty, quantile, planned_qty)"
                      " FROM STDIN") as copy:
            for record in records:
                copy.write_row(record)
    log.info("demand: %d rows for %d (part, site) over %d period(s), %d component risks",
             len(records), len(terms.keys), len(windows), len(risk))
    return len(records)
