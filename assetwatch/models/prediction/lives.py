"""Datasheet lives from master data: the Weibull law of each (asset model, component type).

They are what the manufacturer states (master data section ``component_life``), not what a
fleet shows: the failure models start from them (a prior) and learn the rest from the
fleet's own failures.
"""

from __future__ import annotations

import psycopg

__all__ = ["Lives", "component_lives"]

#: ``component_type -> {model_id: (beta, eta_days)}``
Lives = dict[str, dict[str, tuple[float, float]]]


def component_lives(conn: psycopg.Connection) -> Lives:
    """Every datasheet life the master data holds (empty when none is loaded)."""
    lives: Lives = {}
    for model_id, component_type, beta, eta in conn.execute(
            "SELECT model_id, component_type, weibull_beta, weibull_eta_days"
            " FROM component_life ORDER BY model_id, component_type"):
        lives.setdefault(component_type, {})[model_id] = (float(beta), float(eta))
    return lives
