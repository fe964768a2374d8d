"""Replenishment rules and their evaluation: the orders a (part, site) needs now.

Every stocked (part, site) has a rule (``replenishment_rule``; :func:`ensure_rules` gives the
ones without a rule the default):

* ``reorder_point`` (s, S): the **position** is on hand minus every open ticket's kit
  (reserved or short) plus open orders. When it is below the reorder point ``s`` an order
  brings it up to ``S``. Without numbers of its own the rule takes the newest inventory
  policy's reorder point (rounded up) and orders up to it plus one Kanban container (30 days
  of expected demand); a part the policy expects no demand for is ordered only to cover
  tickets (position below 0).
* ``kanban`` (``cards`` bins of ``bin_qty``; 2 cards = two-bin): a bin emptied releases its
  card, and each released card is one order of ``bin_qty``, sent at once. Cards out =
  ``cards - ceil(net stock / bin_qty)`` with net stock = on hand minus open tickets' kits:
  with two bins of 3, the first card is released when the net stock falls to 3.

:func:`evaluate_replenishment` (the ``replenish`` flow) raises the orders: reorder-point orders
are ``proposed`` for the planner to approve (or ``ordered`` with ``auto_approve``), Kanban
orders ``ordered``. It runs under an advisory lock, so two runs never order twice.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from assetwatch.service.errors import OrderError
from assetwatch.service.orders import place_order

__all__ = ["ReplenishmentSummary", "ensure_rules", "evaluate_replenishment", "kanban_cards_out",
           "set_rule"]

log = logging.getLogger(__name__)

_LOCK = 0x61776F72  # advisory lock key of the evaluation ("awor")


@dataclass
class ReplenishmentSummary:
    """What one evaluation did."""

    rules_created: int = 0
    proposed: int = 0
    ordered: int = 0
    cards_released: int = 0

    def __str__(self) -> str:
        return (f"{self.proposed} orders proposed, {self.ordered} ordered, "
                f"{self.cards_released} Kanban cards released, {self.rules_created} rules added")


def kanban_cards_out(cards: int, bin_qty: int, net_stock: int) -> int:
    """How many of ``cards`` should be travelling with an order for ``net_stock`` on hand.

    >>> [kanban_cards_out(2, 3, s) for s in (6, 5, 4, 3, 1, 0, -2)]
    [0, 0, 0, 1, 1, 2, 2]
    """
    return max(0, min(cards, cards - math.ceil(max(net_stock, 0) / bin_qty)))


def ensure_rules(conn: psycopg.Connection) -> int:
    """Give every stocked (part, site) without a rule the default policy-driven reorder-point
    rule; return how many were added."""
    return conn.execute(
        "INSERT INTO replenishment_rule (part_no, site_id, method)"
        " SELECT s.part_no, s.site_id, 'reorder_point' FROM stock s JOIN part p USING (part_no)"
        " WHERE NOT p.is_kit ON CONFLICT (part_no, site_id) DO NOTHING").rowcount


def set_rule(conn: psycopg.Connection, part_no: str, site_id: str, method: str, *,
             reorder_point: int | None = None, order_up_to: int | None = None,
             bin_qty: int | None = None, cards: int | None = None) -> None:
    """Set the rule of (part, site). A Kanban rule without sizes takes the newest policy's
    container and card count."""
    if method not in ("reorder_point", "kanban"):
        raise OrderError(f"unknown replenishment method {method!r}; use reorder_point or kanban")
    for name, value, low in (("reorder point", reorder_point, 0), ("order-up-to", order_up_to, 1),
                             ("bin quantity", bin_qty, 1), ("cards", cards, 2)):
        if value is not None and value < low:
            raise OrderError(f"{name} of {part_no} at {site_id} must be at least {low},"
                             f" not {value}")
    if order_up_to is not None and reorder_point is not None and order_up_to <= reorder_point:
        raise OrderError(f"order-up-to {order_up_to} of {part_no} at {site_id} must exceed the"
                         f" reorder point {reorder_point}")
    with conn.transaction():
        known = conn.execute("SELECT EXISTS (SELECT 1 FROM part WHERE part_no = %s AND NOT"
                             " is_kit), EXISTS (SELECT 1 FROM site WHERE site_id = %s)",
                             (part_no, site_id)).fetchone()
        assert known is not None
        if not known[0]:
            raise OrderError(f"unknown stocked part {part_no!r}")
        if not known[1]:
            raise OrderError(f"unknown site {site_id!r}")
        if method == "kanban" and (bin_qty is None or cards is None):
            sized = conn.execute("SELECT kanban_bin_qty, kanban_cards FROM v_inventory_policy"
                                 " WHERE part_no = %s AND site_id = %s",
                                 (part_no, site_id)).fetchone()
            if sized is None:
                raise OrderError(f"no inventory policy sizes the Kanban of {part_no} at"
                                 f" {site_id}; give --bin-qty and --cards")
            bin_qty, cards = bin_qty or int(sized[0]), cards or int(sized[1])
        conn.execute(
            "INSERT INTO replenishment_rule (part_no, site_id, method, reorder_point,"
            " order_up_to, bin_qty, cards, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now())"
            " ON CONFLICT (part_no, site_id) DO UPDATE SET method = EXCLUDED.method,"
            " reorder_point = EXCLUDED.reorder_point, order_up_to = EXCLUDED.order_up_to,"
            " bin_qty = EXCLUDED.bin_qty, cards = EXCLUDED.cards, updated_at = now()",
            (part_no, site_id, method, reorder_point, order_up_to, bin_qty, cards))


def evaluate_replenishment(conn: psycopg.Connection, *, at: datetime | None = None,
                           auto_approve: bool = False) -> ReplenishmentSummary:
    """Evaluate every rule against available stock and open orders and raise the orders it
    needs (one transaction)."""
    at = at or datetime.now(UTC)
    summary = ReplenishmentSummary()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        # the view's repair loop counts units due back within the lead time from ``at``
        conn.execute("SELECT set_config('assetwatch.as_of', %s, true)", (at.isoformat(),))
        summary.rules_created = ensure_rules(conn)
        rules = conn.execute(
            "SELECT part_no, site_id, method, reorder_point, order_up_to, bin_qty, cards,"
            " available - short AS net_stock, position"
            " FROM v_replenishment_rule ORDER BY site_id, part_no").fetchall()
        for part_no, site_id, method, rop, up_to, bin_qty, cards, net, position in rules:
            if method == "kanban":
                _release_cards(conn, part_no, site_id, int(bin_qty), int(cards), int(net), at,
                               summary)
            elif (rop is not None and position < rop) or position < 0:
                target = max(int(up_to or 0), int(rop or 0), 0)
                qty = target - int(position)
                if qty <= 0:
                    continue
                place_order(conn, part_no, site_id, qty, kind="reorder_point", at=at,
                            ordered=auto_approve,
                            reason=f"position {position} below reorder point {rop or 0};"
                                   f" up to {target}")
                summary.ordered += auto_approve
                summary.proposed += not auto_approve
    log.info("replenishment at %s: %s", at.isoformat(), summary)
    return summary


def _release_cards(conn: psycopg.Connection, part_no: str, site_id: str, bin_qty: int,
                   cards: int, net_stock: int, at: datetime, summary: ReplenishmentSummary
                   ) -> None:
    out = {int(r[0]) for r in conn.execute(
        "SELECT card_no FROM replenishment_order WHERE part_no = %s AND site_id = %s"
        " AND kind = 'kanban' AND state IN ('proposed', 'ordered') AND card_no IS NOT NULL",
        (part_no, site_id))}
    release = kanban_cards_out(cards, bin_qty, net_stock) - len(out)
    free = [c for c in range(1, cards + 1) if c not in out]
    for card in free[:max(release, 0)]:
        place_order(conn, part_no, site_id, bin_qty, kind="kanban", at=at, ordered=True,
                    card_no=card, reason=f"Kanban card {card} of {cards}: bin emptied")
        summary.cards_released += 1
        summary.ordered += 1
