"""Simulating a stocking policy against actual parts consumption, for the service benchmark.

Continuous review with daily reviews: when the inventory position (on hand + on order) is at
or below the reorder point, order up to the order-up-to level; an order arrives after the
part's lead time at the site. Demand that finds no stock is lost (expedited from elsewhere),
so each demand is filled now or counted as a stock-out. The two policies compared:

* the computed policy (``inventory_policy`` rows: reorder point, and reorder point plus one
  Kanban container as the order-up-to level);
* :func:`naive_levels`: reorder point from historical averages, ``mean * P + z * sd * sqrt(P)``
  of daily consumption over a trailing window with the same protection interval ``P`` (lead
  time plus the one-day review period), order quantity one month of average demand. With
  service levels per ABC class (:class:`~assetwatch.service.service_levels.ServiceLevels`)
  the naive policy classes its keys the same way, by the historical usage value (average
  daily consumption x 365 x unit cost), and ``z`` is its class's level.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from scipy.special import ndtri

from assetwatch.service.service_levels import ServiceLevels

__all__ = ["InventorySimulator", "PolicyResult", "naive_levels"]

Key = tuple[str, str]  # (part_no, site_id)


@dataclass
class PolicyResult:
    """How a policy did."""

    name: str
    demanded: int = 0
    filled: int = 0
    stockouts: int = 0
    orders: int = 0
    units_ordered: int = 0
    inventory_units: float = 0.0      # average on hand
    inventory_value: float = 0.0      # average on-hand value

    @property
    def fill_rate(self) -> float:
        return self.filled / self.demanded if self.demanded else 1.0


@dataclass
class InventorySimulator:
    """On-hand stock and open orders of every (part, site) under one policy."""

    name: str
    on_hand: dict[Key, int]
    lead_days: dict[Key, float]
    unit_cost: dict[str, float]
    _pipeline: dict[Key, list[tuple[datetime, int]]] = field(
        default_factory=lambda: defaultdict(list))
    _samples: int = 0
    result: PolicyResult = field(init=False)

    def __post_init__(self) -> None:
        self.on_hand = defaultdict(int, self.on_hand)
        self.result = PolicyResult(self.name)

    def consume(self, key: Key, qty: int) -> int:
        """Take ``qty`` parts; return how many were on hand."""
        filled = min(self.on_hand[key], qty)
        self.on_hand[key] -= filled
        self.result.demanded += qty
        self.result.filled += filled
        self.result.stockouts += filled < qty
        return filled

    def receive(self, t: datetime) -> None:
        for key, orders in self._pipeline.items():
            due = [o for o in orders if o[0] <= t]
            if due:
                self.on_hand[key] += sum(q for _, q in due)
                self._pipeline[key] = [o for o in orders if o[0] > t]

    def review(self, t: datetime, levels: dict[Key, tuple[float, float]]) -> None:
        """Order up to the level where the position is at or below the reorder point."""
        for key, (reorder_point, order_up_to) in levels.items():
            position = self.on_hand[key] + sum(q for _, q in self._pipeline[key])
            if position <= reorder_point:
                qty = max(1, math.ceil(order_up_to - position))
                lead = self.lead_days.get(key, 14.0)
                self._pipeline[key].append((t + timedelta(days=lead), qty))
                self.result.orders += 1
                self.result.units_ordered += qty

    def sample(self) -> None:
        """Add today's stock to the running averages."""
        units = sum(self.on_hand.values())
        value = sum(q * self.unit_cost.get(k[0], 0.0) for k, q in self.on_hand.items())
        n = self._samples
        self.result.inventory_units = (self.result.inventory_units * n + units) / (n + 1)
        self.result.inventory_value = (self.result.inventory_value * n + value) / (n + 1)
        self._samples += 1


def naive_levels(history: list[tuple[datetime, Key, int]], t: datetime, *, window_days: int,
                 lead_days: dict[Key, float], keys: set[Key],
                 service_level: float | ServiceLevels, unit_cost: dict[str, float] | None = None,
                 container_days: float = 30.0,
                 review_period_days: float = 1.0) -> dict[Key, tuple[float, float]]:
    """Reorder point and order-up-to level per key from consumption in the trailing window
    (``unit_cost`` per part number classes the keys when the levels differ per class)."""
    levels = ServiceLevels.coerce(service_level)
    start = t - timedelta(days=window_days)
    daily: dict[Key, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for at, key, qty in history:
        if start <= at < t:
            daily[key][(at - start).days] += qty
    ordered = sorted(keys)
    usage = np.array([sum(daily.get(k, {}).values()) / window_days * 365.0
                      * (unit_cost or {}).get(k[0], 0.0) for k in ordered])
    z = dict(zip(ordered, ndtri(levels.of(levels.classes(usage))), strict=True))
    out = {}
    for key in ordered:
        counts = daily.get(key, {})
        total = sum(counts.values())
        mean = total / window_days
        var = sum((counts.get(d, 0) - mean) ** 2 for d in range(window_days)) / max(
            1, window_days - 1)
        protection = lead_days.get(key, 14.0) + review_period_days
        reorder_point = math.ceil(mean * protection + float(z[key]) * math.sqrt(var * protection)
                                  - 1e-9)
        quantity = max(1, math.ceil(mean * container_days - 1e-9))
        out[key] = (float(reorder_point), float(reorder_point + quantity))
    return out
