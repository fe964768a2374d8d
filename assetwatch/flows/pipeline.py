"""The ``pipeline`` flow: from scores to action in one run.

Trains the failure models when no model is current yet, then scores every asset, computes
the parts demand and inventory policy, updates the service tickets (reserving their kits) and
raises the replenishment orders, each as a subflow of its own (the same flows that
``flows serve`` schedules separately).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from assetwatch.flows.demand import demand_flow
from assetwatch.flows.hooks import STATE_HOOKS
from assetwatch.flows.replenish import replenish_flow
from assetwatch.flows.score import score_flow
from assetwatch.flows.tickets import tickets_flow
from assetwatch.flows.train import train_flow

__all__ = ["pipeline_flow"]


@flow(name="pipeline", **STATE_HOOKS)
def pipeline_flow(as_of: datetime | None = None, train: bool = True) -> dict[str, Any]:
    """Train (if ``train``), score, demand, tickets, replenish; return each subflow's
    result."""
    results: dict[str, Any] = {}
    if train:
        results["train"] = train_flow(as_of=as_of)
    results["score"] = score_flow(as_of=as_of)
    results["demand"] = demand_flow(as_of=as_of)
    results["tickets"] = tickets_flow(as_of=as_of)
    results["replenish"] = replenish_flow(at=as_of)
    return results
