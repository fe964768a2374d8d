"""Configuration records: the installed base over time and what is under warranty.

The records themselves (``installed_component``, ``asset_configuration``) have one writer,
:mod:`assetwatch.core.installed_base`, shared with ingest; :func:`replace_component` (a closed
ticket) and :func:`apply_status` (a birth) apply it in a transaction of their own.
:func:`compute_warranty_forecast` estimates the warranty claims from predicted failures of
components still under warranty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg

from assetwatch.core import installed_base
from assetwatch.service.risk import load_risk

__all__ = ["apply_status", "compute_warranty_forecast", "replace_component"]



def replace_component(conn: psycopg.Connection, asset_id: int, component_type: str, *,
                      serial_installed: str, at: datetime, part_no: str | None = None) -> bool:
    """Record that ``serial_installed`` replaced the installed ``component_type`` at ``at``
    (a closed ticket); the rules are the installed base's
    (:func:`assetwatch.core.installed_base.replace_component`). Returns False (and changes
    nothing) when that serial is already the current one."""
    with conn.transaction():
        return installed_base.replace_component(conn, asset_id, component_type,
                                                serial_installed, part_no, at)


def apply_status(conn: psycopg.Connection, asset_id: int, at: datetime, *,
                 firmware: str | None = None, agent_version: str | None = None,
                 config_hash: str | None = None,
                 components: Iterable[Mapping[str, str]] = ()) -> int:
    """Apply a birth message in a transaction of its own (as ingest does inside its own);
    returns the number of records changed."""
    with conn.transaction():
        return installed_base.apply_birth(conn, asset_id, at, firmware=firmware,
                                          agent_version=agent_version,
                                          config_hash=config_hash, components=components)


def compute_warranty_forecast(conn: psycopg.Connection, *, as_of: datetime,
                              horizon_days: int = 365, computed_at: datetime | None = None,
                              max_prediction_age_days: float = 30.0) -> int:
    """Expected warranty claims: for every installed component still under warranty at
    ``as_of``, the probability it fails before its warranty ends (and within the horizon)
    times its part's unit cost, and the same within the next 30 days (``month_probability``,
    ``expected_month_cost``: compared with actual claims per month in
    ``v_warranty_claims_monthly``). Stores a run in ``warranty_claim_forecast``; returns
    rows."""
    computed_at = computed_at or datetime.now(UTC)
    risk = load_risk(conn, as_of, max_age_days=max_prediction_age_days)
    index = {(int(a), str(c)): i for i, (a, c) in enumerate(
        zip(risk.asset_id, risk.component_type, strict=True))}
    rows = conn.execute(
        "SELECT ic.asset_id, ic.component_type, ic.serial_no, ic.part_no, ic.warranty_end,"
        " coalesce(p.unit_cost, 0) FROM installed_component ic LEFT JOIN part p USING (part_no)"
        " WHERE ic.valid_to IS NULL AND ic.warranty_end >= %s::date",
        (as_of,)).fetchall()
    chosen = [(r, index[(r[0], r[1])]) for r in rows if (r[0], r[1]) in index]
    records = []
    if chosen:
        risk_rows = np.array([i for _, i in chosen])
        ends = np.array([min(horizon_days, (datetime.combine(r[4], datetime.min.time(), UTC)
                                            + timedelta(days=1) - as_of).total_seconds()
                             / 86400.0) for r, _ in chosen])
        probability = risk.window(0.0, np.maximum(ends, 0.0), risk_rows)
        month = risk.window(0.0, np.clip(ends, 0.0, 30.0), risk_rows)
        for (r, _), p, m in zip(chosen, probability, month, strict=True):
            records.append((computed_at, r[0], r[1], r[2], r[3], r[4], float(p),
                            round(float(p) * float(r[5]), 2), float(m),
                            round(float(m) * float(r[5]), 2)))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM warranty_claim_forecast WHERE computed_at = %s",
                    (computed_at,))
        cur.executemany(
            "INSERT INTO warranty_claim_forecast (computed_at, asset_id, component_type,"
            " serial_no, part_no, warranty_end, failure_probability, expected_claim_cost,"
            " month_probability, expected_month_cost)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", records)
    return len(records)
