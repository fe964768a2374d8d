"""Warranty claims: a failure of a component under warranty becomes a claim on its supplier.

:func:`open_warranty_claims` (the ``replenish`` flow) scans the ``failure`` events: when the
component installed at the failure was under warranty on that day, a claim is opened (once per
event) against the part's supplier, for the part's unit cost, with the **evidence**: the
telemetry window before the failure (per sensor: readings, min, max, mean, first and last
value) and the anomaly events of the asset in that window. :func:`open_claim` does the same
for a failure reported by hand. A claim goes ``open`` -> ``submitted`` -> ``accepted`` (the
recovered amount, default the claimed amount) or ``rejected`` (:func:`submit_claim`,
:func:`settle_claim`); an RMA credited for the same serial settles its claim too
(:func:`assetwatch.service.returns.close_rma`).

A claim for a serial that was never installed, or for a part whose warranty ended before the
failure, is one :class:`~assetwatch.service.errors.WarrantyClaimError` and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.errors import WarrantyClaimError

__all__ = ["EVIDENCE_DAYS", "claim_evidence", "claim_no", "open_claim", "open_warranty_claims",
           "settle_claim", "submit_claim"]

#: days of telemetry and anomaly events before a failure kept as a claim's evidence
EVIDENCE_DAYS = 7.0

_FAILURES = """
SELECT e.event_id, e.asset_id, e.component_type, e.time,
       coalesce(e.detail->>'failure_mode', fm.failure_mode), ic.serial_no, ic.part_no,
       ic.warranty_end, p.supplier, coalesce(p.unit_cost, 0)
FROM asset_event e
JOIN LATERAL (
    SELECT serial_no, part_no, warranty_end FROM installed_component
    WHERE asset_id = e.asset_id AND component_type = e.component_type
      AND valid_from < e.time AND (valid_to IS NULL OR valid_to >= e.time)
    ORDER BY valid_from DESC LIMIT 1) ic ON true
LEFT JOIN failure_mode fm ON fm.failure_mode = e.code
LEFT JOIN part p ON p.part_no = ic.part_no
LEFT JOIN warranty_claim c ON c.event_id = e.event_id
WHERE e.kind = 'failure' AND e.component_type IS NOT NULL AND c.claim_id IS NULL
  AND ic.warranty_end >= e.time::date
  AND NOT EXISTS (SELECT 1 FROM warranty_claim o
                  WHERE o.serial_no = ic.serial_no AND o.failed_at = e.time)
ORDER BY e.time, e.event_id
"""


def claim_no(claim_id: int) -> str:
    """The claim number the supplier sees (``WC-000042``)."""
    return f"WC-{claim_id:06d}"


def claim_evidence(conn: psycopg.Connection, asset_id: int, failed_at: datetime, *,
                   days: float = EVIDENCE_DAYS) -> dict[str, Any]:
    """The telemetry window and the anomaly events of the asset before ``failed_at``."""
    start = failed_at - timedelta(days=days)
    sensors = {
        name: {"readings": int(n), "min": float(lo), "max": float(hi), "mean": round(
            float(mean), 4), "first": float(first), "last": float(last)}
        for name, n, lo, hi, mean, first, last in conn.execute(
            "SELECT s.name, count(*), min(t.value), max(t.value), avg(t.value),"
            " (array_agg(t.value ORDER BY t.time))[1],"
            " (array_agg(t.value ORDER BY t.time DESC))[1]"
            " FROM telemetry t JOIN sensor s USING (sensor_id)"
            " WHERE t.asset_id = %s AND t.time >= %s AND t.time < %s GROUP BY s.name"
            " ORDER BY s.name", (asset_id, start, failed_at))}
    anomalies = [
        {"anomaly_event_id": int(i), "detector": d, "started_at": s.isoformat(),
         "ended_at": e.isoformat() if e else None,
         "peak_score": None if p is None else round(float(p), 4), "sensors": list(names)}
        for i, d, s, e, p, names in conn.execute(
            "SELECT anomaly_event_id, detector, started_at, ended_at, peak_score, sensors"
            " FROM anomaly_event WHERE asset_id = %s AND kind = 'anomaly'"
            " AND started_at < %s AND coalesce(ended_at, %s) >= %s ORDER BY started_at",
            (asset_id, failed_at, failed_at, start))]
    return {"window": {"from": start.isoformat(), "to": failed_at.isoformat()},
            "telemetry": sensors, "anomalies": anomalies}


def open_warranty_claims(conn: psycopg.Connection, *, at: datetime | None = None) -> int:
    """A claim for every failure of a component under warranty without one; return how
    many were opened."""
    at = at or datetime.now(UTC)
    opened = 0
    with conn.transaction():
        for (event_id, asset_id, component_type, failed_at, mode, serial, part_no,
             warranty_end, supplier, cost) in conn.execute(_FAILURES).fetchall():
            _insert(conn, serial, part_no, supplier, asset_id, component_type, mode, failed_at,
                    warranty_end, event_id, cost, at)
            opened += 1
    return opened


def open_claim(conn: psycopg.Connection, serial_no: str, failed_at: datetime, *,
               failure_mode: str | None = None, at: datetime | None = None) -> int:
    """Open a claim for a failure of ``serial_no`` at ``failed_at`` reported by hand; return
    its id."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        row = conn.execute(
            "SELECT ic.asset_id, ic.component_type, ic.part_no, ic.warranty_end, p.supplier,"
            " coalesce(p.unit_cost, 0) FROM installed_component ic LEFT JOIN part p"
            " USING (part_no) WHERE ic.serial_no = %s AND ic.valid_from <= %s"
            " ORDER BY ic.valid_from DESC LIMIT 1", (serial_no, failed_at)).fetchone()
        if row is None:
            raise WarrantyClaimError(f"serial {serial_no} was not installed on"
                                     f" {failed_at:%Y-%m-%d}; no claim")
        asset_id, component_type, part_no, warranty_end, supplier, cost = row
        if warranty_end is None or warranty_end < failed_at.date():
            ended = "has no warranty" if warranty_end is None else f"warranty ended {warranty_end}"
            raise WarrantyClaimError(f"serial {serial_no} ({part_no}) {ended}, before the failure"
                                     f" on {failed_at:%Y-%m-%d}; out of warranty, no claim")
        done = conn.execute("SELECT claim_id FROM warranty_claim WHERE serial_no = %s AND"
                            " failed_at = %s", (serial_no, failed_at)).fetchone()
        if done is not None:
            raise WarrantyClaimError(f"the failure of {serial_no} on {failed_at:%Y-%m-%d} is"
                                     f" already claimed as {claim_no(done[0])}")
        return _insert(conn, serial_no, part_no, supplier, asset_id, component_type,
                       failure_mode, failed_at, warranty_end, None, cost, at)


def submit_claim(conn: psycopg.Connection, claim_id: int, *, at: datetime | None = None) -> None:
    """Send an open claim to the supplier."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        _claim(conn, claim_id, ("open",))
        conn.execute("UPDATE warranty_claim SET state = 'submitted', submitted_at = %s,"
                     " updated_at = %s WHERE claim_id = %s", (at, at, claim_id))


def settle_claim(conn: psycopg.Connection, claim_id: int, *, accepted: bool,
                 recovered: Decimal | float | None = None,
                 at: datetime | None = None) -> Decimal:
    """The supplier's answer: accepted (recovered amount, default the claimed amount) or
    rejected; return the amount recovered."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        claimed = _claim(conn, claim_id, ("open", "submitted"))
        amount = (Decimal(str(recovered)) if recovered is not None else claimed) \
            if accepted else Decimal(0)
        if amount < 0:
            raise WarrantyClaimError(f"recovered amount of {claim_no(claim_id)} must not be"
                                     f" negative, not {amount}")
        conn.execute("UPDATE warranty_claim SET state = %s, recovered_amount = %s,"
                     " settled_at = %s, submitted_at = coalesce(submitted_at, %s),"
                     " updated_at = %s WHERE claim_id = %s",
                     ("accepted" if accepted else "rejected", amount, at, at, at, claim_id))
    return amount


def _claim(conn: psycopg.Connection, claim_id: int, states: tuple[str, ...]) -> Decimal:
    row = conn.execute("SELECT state, claimed_amount FROM warranty_claim WHERE claim_id = %s"
                       " FOR UPDATE", (claim_id,)).fetchone()
    if row is None:
        raise WarrantyClaimError(f"no warranty claim {claim_no(claim_id)}")
    if row[0] not in states:
        raise WarrantyClaimError(f"{claim_no(claim_id)} is {row[0]}; it must be"
                                 f" {' or '.join(states)}")
    return Decimal(row[1])


def _insert(conn: psycopg.Connection, serial: str, part_no: str | None, supplier: str | None,
            asset_id: int, component_type: str, mode: str | None, failed_at: datetime,
            warranty_end: Any, event_id: str | None, cost: Any, at: datetime) -> int:
    row = conn.execute(
        "INSERT INTO warranty_claim (serial_no, part_no, supplier, asset_id, component_type,"
        " failure_mode, failed_at, warranty_end, event_id, claimed_amount, evidence,"
        " opened_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING claim_id",
        (serial, part_no, supplier, asset_id, component_type, mode, failed_at, warranty_end,
         event_id, cost, Jsonb(claim_evidence(conn, asset_id, failed_at)), at, at)).fetchone()
    assert row is not None
    return int(row[0])
