"""Returns and repairs: what happens to a serialised part after it is removed.

Every removal (a ``part_replaced`` event with the removed serial, from the edge or from a
closed ticket) gets a return record (:func:`register_removals`, idempotent by event). From
``removed`` a return is:

* **inspected** (:func:`inspect_return`, the bench test): a part that tests fine is
  **no-fault-found**: it goes back into the site's serviceable stock, and counts in the NFF
  rate per part and per failure mode (``v_nff_rate``);
* **scrapped** (:func:`scrap_return`);
* **returned to the supplier under warranty** (:func:`open_rma`): an RMA with its number and
  supplier, then credited (the credit, default the unit cost) or rejected
  (:func:`close_rma`). A part out of warranty cannot go back under warranty;
* **sent to repair** (:func:`send_to_repair`, repairable parts only): cost and due date from
  the part's ``repair_cost`` and ``repair_turnaround_days``; :func:`complete_repair` puts it
  back into serviceable stock (a ``repair_return`` movement) for the site's short tickets.

:func:`process_returns` is what the ``replenish`` flow runs: register new removals, give each
untested one its default disposition (under warranty: RMA; else repairable: repair; else
scrap) and complete the repairs that are due. Every refusal is one
:class:`~assetwatch.service.errors.ReturnError` and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from assetwatch.service.errors import ReturnError
from assetwatch.service.reservations import reallocate
from assetwatch.service.stock_ledger import move_stock

__all__ = ["ReturnsSummary", "close_rma", "complete_repair", "inspect_return", "open_rma",
           "process_returns", "record_return", "register_removals", "return_no", "scrap_return",
           "send_to_repair"]

_REGISTER = """
INSERT INTO part_return (serial_no, part_no, asset_id, component_type, failure_mode, site_id,
                         event_id, ticket_id, removed_at, under_warranty, supplier, updated_at)
SELECT e.serial_removed, p.part_no, e.asset_id, e.component_type,
       coalesce(e.detail->>'failure_mode', t.failure_mode, fm.failure_mode), a.site_id,
       e.event_id, t.ticket_id, e.time, coalesce(ic.warranty_end >= e.time::date, false),
       p.supplier, e.time
FROM asset_event e
JOIN asset a USING (asset_id)
LEFT JOIN LATERAL (
    SELECT part_no, warranty_end FROM installed_component
    WHERE asset_id = e.asset_id AND serial_no = e.serial_removed
    ORDER BY valid_from DESC LIMIT 1) ic ON true
LEFT JOIN service_ticket t ON t.ticket_id = (e.detail->>'ticket_id')::bigint
LEFT JOIN failure_mode fm ON fm.failure_mode = e.code
LEFT JOIN part p ON p.part_no = coalesce(ic.part_no, e.part_no)
LEFT JOIN part_return r ON r.event_id = e.event_id
WHERE e.kind = 'part_replaced' AND e.serial_removed IS NOT NULL
  AND e.component_type IS NOT NULL AND r.return_id IS NULL
  AND (%(asset)s::integer IS NULL OR e.asset_id = %(asset)s)
ON CONFLICT (event_id) DO NOTHING
"""


@dataclass
class ReturnsSummary:
    """What one :func:`process_returns` did."""

    registered: int = 0
    rma: int = 0
    repair: int = 0
    scrapped: int = 0
    repaired: int = 0

    def __str__(self) -> str:
        return (f"{self.registered} removals registered; {self.rma} to the supplier (RMA), "
                f"{self.repair} to repair, {self.scrapped} scrapped; {self.repaired} repaired"
                " back in stock")


def return_no(return_id: int) -> str:
    """The return number on the tag of the part (``RET-000042``)."""
    return f"RET-{return_id:06d}"


def register_removals(conn: psycopg.Connection, *, asset_id: int | None = None) -> int:
    """A return record for every removal event without one; return how many were added."""
    return conn.execute(_REGISTER, {"asset": asset_id}).rowcount


def record_return(conn: psycopg.Connection, serial_no: str, *, at: datetime | None = None,
                  failure_mode: str | None = None, note: str | None = None) -> int:
    """A return for a removed serial that no event reported; return its id. The serial must
    have been installed, must not be installed now, and must not be returned already."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        row = conn.execute(
            "SELECT ic.asset_id, ic.component_type, ic.part_no, ic.valid_to, ic.warranty_end,"
            " a.site_id, a.asset_tag, p.supplier FROM installed_component ic"
            " JOIN asset a USING (asset_id) LEFT JOIN part p USING (part_no)"
            " WHERE ic.serial_no = %s ORDER BY ic.valid_from DESC LIMIT 1",
            (serial_no,)).fetchone()
        if row is None:
            raise ReturnError(f"serial {serial_no} was never installed; nothing to return")
        asset_id, component_type, part_no, removed_at, warranty_end, site_id, tag, supplier = row
        if removed_at is None:
            raise ReturnError(f"serial {serial_no} is still installed on {tag}"
                              f" ({component_type}); remove it first")
        done = conn.execute("SELECT return_id FROM part_return WHERE serial_no = %s"
                            " AND removed_at = %s", (serial_no, removed_at)).fetchone()
        if done is not None:
            raise ReturnError(f"serial {serial_no} is already returned as {return_no(done[0])}")
        created = conn.execute(
            "INSERT INTO part_return (serial_no, part_no, asset_id, component_type,"
            " failure_mode, site_id, removed_at, under_warranty, supplier, updated_at, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING return_id",
            (serial_no, part_no, asset_id, component_type, failure_mode, site_id, removed_at,
             warranty_end is not None and warranty_end >= removed_at.date(), supplier, at,
             note)).fetchone()
        assert created is not None
    return int(created[0])


def inspect_return(conn: psycopg.Connection, return_id: int, *, fault_found: bool,
                at: datetime | None = None) -> str:
    """Record the bench test. No fault found: the part goes back into the site's
    serviceable stock. Returns the new state."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        r = _return(conn, return_id, "removed")
        if fault_found:
            conn.execute("UPDATE part_return SET fault_found = true, updated_at = %s"
                         " WHERE return_id = %s", (at, return_id))
            return "removed"
        _set(conn, return_id, "no_fault_found", at, closed=True, fault_found=False)
        _back_to_stock(conn, r, at)
    return "no_fault_found"


def scrap_return(conn: psycopg.Connection, return_id: int, *, at: datetime | None = None) -> None:
    """Scrap the removed part."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        _return(conn, return_id, "removed")
        _set(conn, return_id, "scrapped", at, closed=True)


def open_rma(conn: psycopg.Connection, return_id: int, *, rma_no: str | None = None,
             at: datetime | None = None) -> str:
    """Return the part to its supplier under warranty; return the RMA number."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        r = _return(conn, return_id, "removed")
        if not r.under_warranty:
            raise ReturnError(f"{return_no(return_id)} (serial {r.serial_no}, {r.part_no}) was"
                              " out of warranty when removed; it cannot go back to the supplier")
        number = rma_no or f"RMA-{return_id:06d}"
        try:
            with conn.transaction():
                conn.execute("UPDATE part_return SET rma_no = %s WHERE return_id = %s",
                             (number, return_id))
        except psycopg.errors.UniqueViolation:
            raise ReturnError(f"RMA number {number} is already used") from None
        _set(conn, return_id, "rma_open", at, fault_found=True)
    return number


def close_rma(conn: psycopg.Connection, return_id: int, *, accepted: bool,
              credit: Decimal | float | None = None, at: datetime | None = None) -> Decimal:
    """The supplier's answer: credited (default credit: the unit cost) or rejected, which
    settles the serial's open warranty claim the same way; return the credit."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        r = _return(conn, return_id, "rma_open")
        amount = Decimal(0) if not accepted else (
            Decimal(str(credit)) if credit is not None else r.unit_cost)
        if amount < 0:
            raise ReturnError(f"credit for {return_no(return_id)} must not be negative")
        conn.execute("UPDATE part_return SET credit = %s WHERE return_id = %s",
                     (amount, return_id))
        _set(conn, return_id, "rma_credited" if accepted else "rma_rejected", at, closed=True)
        conn.execute(  # the warranty claim for the same failure is settled by the RMA
            "UPDATE warranty_claim SET state = %s, recovered_amount = %s, settled_at = %s,"
            " submitted_at = coalesce(submitted_at, %s), updated_at = %s"
            " WHERE serial_no = %s AND state IN ('open', 'submitted')",
            ("accepted" if accepted else "rejected", amount, at, at, at, r.serial_no))
    return amount


def send_to_repair(conn: psycopg.Connection, return_id: int, *,
                   at: datetime | None = None) -> datetime:
    """Send a repairable part to repair; return when it is due back."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        r = _return(conn, return_id, "removed")
        if not r.repairable:
            raise ReturnError(f"{r.part_no} is not repairable ({return_no(return_id)});"
                              " scrap it or return it to the supplier")
        due = at + timedelta(days=float(r.repair_turnaround_days))
        conn.execute("UPDATE part_return SET repair_cost = %s, repair_due_at = %s"
                     " WHERE return_id = %s", (r.repair_cost, due, return_id))
        _set(conn, return_id, "in_repair", at, fault_found=True)
    return due


def complete_repair(conn: psycopg.Connection, return_id: int, *,
                    at: datetime | None = None) -> None:
    """The repaired part is back: into the site's serviceable stock."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        r = _return(conn, return_id, "in_repair")
        _set(conn, return_id, "repaired", at, closed=True)
        _back_to_stock(conn, r, at)


def process_returns(conn: psycopg.Connection, *, at: datetime | None = None) -> ReturnsSummary:
    """Register new removals, give untested ones their default disposition (under warranty:
    RMA; repairable: repair; else scrap) and complete the repairs due by ``at``."""
    at = at or datetime.now(UTC)
    summary = ReturnsSummary()
    with conn.transaction():
        summary.registered = register_removals(conn)
        pending = conn.execute(
            "SELECT r.return_id, r.under_warranty, coalesce(p.repairable, false)"
            " FROM part_return r LEFT JOIN part p USING (part_no)"
            " WHERE r.state = 'removed' AND r.removed_at <= %s ORDER BY r.return_id",
            (at,)).fetchall()
        for return_id, under_warranty, repairable in pending:
            if under_warranty:
                open_rma(conn, return_id, at=at)
                summary.rma += 1
            elif repairable:
                send_to_repair(conn, return_id, at=at)
                summary.repair += 1
            else:
                scrap_return(conn, return_id, at=at)
                summary.scrapped += 1
        for (return_id,) in conn.execute(
                "SELECT return_id FROM part_return WHERE state = 'in_repair'"
                " AND repair_due_at <= %s ORDER BY return_id", (at,)).fetchall():
            complete_repair(conn, return_id, at=at)
            summary.repaired += 1
    return summary


@dataclass(frozen=True)
class _Return:
    serial_no: str
    part_no: str | None
    site_id: str
    under_warranty: bool
    repairable: bool
    repair_turnaround_days: Decimal
    repair_cost: Decimal | None
    unit_cost: Decimal


def _return(conn: psycopg.Connection, return_id: int, state: str) -> _Return:
    row = conn.execute(
        "SELECT r.state, r.serial_no, r.part_no, r.site_id, r.under_warranty,"
        " coalesce(p.repairable, false), coalesce(p.repair_turnaround_days, 0), p.repair_cost,"
        " coalesce(p.unit_cost, 0) FROM part_return r LEFT JOIN part p USING (part_no)"
        " WHERE r.return_id = %s FOR UPDATE OF r", (return_id,)).fetchone()
    if row is None:
        raise ReturnError(f"no return {return_no(return_id)}")
    if row[0] != state:
        raise ReturnError(f"{return_no(return_id)} (serial {row[1]}) is {row[0]}, not {state}")
    return _Return(*row[1:])


def _set(conn: psycopg.Connection, return_id: int, state: str, at: datetime, *,
         closed: bool = False, fault_found: bool | None = None) -> None:
    conn.execute("UPDATE part_return SET state = %s, updated_at = %s,"
                 " closed_at = CASE WHEN %s THEN %s ELSE closed_at END,"
                 " fault_found = coalesce(fault_found, %s) WHERE return_id = %s",
                 (state, at, closed, at, fault_found, return_id))


def _back_to_stock(conn: psycopg.Connection, r: _Return, at: datetime) -> None:
    if r.part_no is None:
        raise ReturnError(f"serial {r.serial_no} has no known part number; it cannot go into"
                          " stock")
    move_stock(conn, r.part_no, r.site_id, 1, "repair_return", at=at,
               reference=f"serial {r.serial_no}")
    reallocate(conn, r.part_no, r.site_id, at=at)
