"""Configuration records: the installed base over time and what is under warranty.

``installed_component`` holds one row per component serial and the interval it was installed
(``valid_from``/``valid_to``, open while installed); ``asset_configuration`` the firmware,
agent version and config hash over time. Birth messages (:func:`apply_status`) and part
replacements (:func:`replace_component`, from edge events or closed tickets) keep them up to
date; both are idempotent, so a redelivered message changes nothing. Both take the asset's
installed-base lock (:func:`assetwatch.core.locks.lock_installed_base`, the one ingest takes)
before reading the current records, so they never race an ingest worker on the same asset.
:func:`compute_warranty_forecast` estimates the warranty claims from predicted failures of
components still under warranty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from assetwatch.core.locks import lock_installed_base
from assetwatch.service.risk import load_risk

__all__ = ["apply_status", "compute_warranty_forecast", "replace_component", "warranty_end"]

log = logging.getLogger(__name__)


def warranty_end(conn: psycopg.Connection, part_no: str | None, installed_at: datetime) -> \
        date | None:
    """The last day of warranty of ``part_no`` installed at ``installed_at`` (None: none)."""
    if part_no is None:
        return None
    row = conn.execute("SELECT warranty_months FROM part WHERE part_no = %s",
                       (part_no,)).fetchone()
    if not row or not row[0]:
        return None
    months = int(row[0])
    day = installed_at.date()
    year, month = divmod(day.month - 1 + months, 12)
    target = date(day.year + year, month + 1, 1)
    last_of_month = (target.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(
        days=1)
    return target.replace(day=min(day.day, last_of_month.day))


def replace_component(conn: psycopg.Connection, asset_id: int, component_type: str, *,
                      serial_installed: str, at: datetime, part_no: str | None = None) -> bool:
    """Record that ``serial_installed`` replaced the installed ``component_type`` at ``at``.

    Closes the current record (``valid_to = at``) and opens the new one with its warranty end
    from the part's warranty months. Returns False (and changes nothing) when that serial is
    already the current one.
    """
    with conn.transaction():
        lock_installed_base(conn, [asset_id])
        return _replace(conn, asset_id, component_type, serial_installed, at, part_no)


def _replace(conn: psycopg.Connection, asset_id: int, component_type: str,
             serial_installed: str, at: datetime, part_no: str | None) -> bool:
    current = conn.execute(
        "SELECT installed_id, serial_no, part_no, valid_from FROM installed_component"
        " WHERE asset_id = %s AND component_type = %s AND valid_to IS NULL",
        (asset_id, component_type)).fetchone()
    if current and current[1] == serial_installed:
        return False
    part_no = part_no or (current[2] if current else None)
    if part_no is not None and conn.execute(
            "SELECT 1 FROM part WHERE part_no = %s", (part_no,)).fetchone() is None:
        log.warning("unknown part %s on asset %s; recorded without part number", part_no,
                    asset_id)
        part_no = None
    if current:
        conn.execute("UPDATE installed_component SET valid_to = greatest(%s, valid_from)"
                     " WHERE installed_id = %s", (at, current[0]))
    conn.execute(
        "INSERT INTO installed_component (asset_id, component_type, serial_no, part_no,"
        " valid_from, warranty_end) VALUES (%s, %s, %s, %s, %s, %s)",
        (asset_id, component_type, serial_installed, part_no,
         max(at, current[3]) if current else at, warranty_end(conn, part_no, at)))
    return True


def apply_status(conn: psycopg.Connection, asset_id: int, at: datetime, *,
                 firmware: str | None = None, agent_version: str | None = None,
                 config_hash: str | None = None,
                 components: Iterable[Mapping[str, str]] = ()) -> int:
    """Apply a birth message: a new configuration row when firmware, agent version or config
    hash changed, and a component record for every reported serial that is not the current
    one. Returns the number of records changed."""
    with conn.transaction():
        lock_installed_base(conn, [asset_id])
        return _apply_status(conn, asset_id, at, firmware, agent_version, config_hash,
                             components)


def _apply_status(conn: psycopg.Connection, asset_id: int, at: datetime, firmware: str | None,
                  agent_version: str | None, config_hash: str | None,
                  components: Iterable[Mapping[str, str]]) -> int:
    changed = 0
    current = conn.execute(
        "SELECT configuration_id, firmware, agent_version, config_hash FROM asset_configuration"
        " WHERE asset_id = %s AND valid_to IS NULL", (asset_id,)).fetchone()
    if current is None or tuple(current[1:]) != (firmware, agent_version, config_hash):
        if current:
            conn.execute("UPDATE asset_configuration SET valid_to = %s WHERE configuration_id"
                         " = %s", (at, current[0]))
        conn.execute("INSERT INTO asset_configuration (asset_id, firmware, agent_version,"
                     " config_hash, valid_from) VALUES (%s, %s, %s, %s, %s)",
                     (asset_id, firmware, agent_version, config_hash, at))
        changed += 1
    known_types = {r[0] for r in conn.execute("SELECT component_type FROM component_type")}
    for component in components:
        component_type, serial = component.get("component_type"), component.get("serial_no")
        if not serial or component_type not in known_types:
            continue
        changed += _replace(conn, asset_id, str(component_type), str(serial), at,
                            component.get("part_no"))
    return changed


def compute_warranty_forecast(conn: psycopg.Connection, *, as_of: datetime,
                              horizon_days: int = 365, computed_at: datetime | None = None,
                              max_prediction_age_days: float = 30.0) -> int:
    """Expected warranty claims: for every installed component still under warranty at
    ``as_of``, the probability it fails before its warranty ends (and within the horizon)
    times its part's unit cost. Stores a run in ``warranty_claim_forecast``; returns rows."""
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
        for (r, _), p in zip(chosen, probability, strict=True):
            records.append((computed_at, r[0], r[1], r[2], r[3], r[4], float(p),
                            round(float(p) * float(r[5]), 2)))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("DELETE FROM warranty_claim_forecast WHERE computed_at = %s",
                    (computed_at,))
        cur.executemany(
            "INSERT INTO warranty_claim_forecast (computed_at, asset_id, component_type,"
            " serial_no, part_no, warranty_end, failure_probability, expected_claim_cost)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", records)
    return len(records)
