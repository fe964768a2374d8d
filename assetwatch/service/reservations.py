"""Stock reserved for tickets: the kit an open ticket needs is committed at its site.

The contract (a stable API for ticketing and field service):

* :func:`reserve_kit` (called when a ticket opens or is updated) reserves every part of the
  ticket's kit at the asset's site, up to what is *available* there (on hand minus what other
  open tickets reserved). It is idempotent and tops up an earlier shortage. What cannot be
  reserved is a **shortage**: the ticket gets ``parts_short`` and, in ``shortage``, the
  options to cover it: a transfer from the other site with the most available stock (with
  the receiving site's transfer lead time) and an expedited order (the part's expedite lead
  time, else its lead time to the site). ``v_ticket_parts`` and ``v_ticket_shortage`` show the
  same live.
* :func:`consume` (closing with a replacement) takes the parts used (default: the kit) out of
  stock through the stock ledger. A part is taken from the ticket's reservation first, then
  from available stock; more than that is a :class:`~assetwatch.service.errors.StockError`
  naming part, site and ticket, and nothing changes. What the ticket reserved and did not use
  is released.
* :func:`release` (closing without a replacement, cancelling) frees the reservation.
* Freed or received stock goes to the tickets still short at the site, most urgent first
  (:func:`reallocate`); :func:`transfer_stock` moves available stock between sites.
  Expedited orders and covering a shortage with its first option are in
  :mod:`assetwatch.service.orders`.

Every function runs in one transaction (the caller's, if any) and locks the ``stock`` rows it
reads in part-number order, so two tickets never reserve the same unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.service.bom import explode, kit_contents
from assetwatch.service.errors import StockError, TicketError
from assetwatch.service.stock_ledger import lock_stock, move_stock

__all__ = ["KitReservation", "ReservationLine", "consume", "reallocate", "release", "reserve_kit",
           "shortage_options", "transfer_stock"]


@dataclass(frozen=True)
class ReservationLine:
    """One part of a ticket's kit: how many it needs and how many are reserved."""

    part_no: str
    required: int
    reserved: int

    @property
    def short(self) -> int:
        return self.required - self.reserved


@dataclass
class KitReservation:
    """The state of one ticket's kit after :func:`reserve_kit`."""

    ticket_id: int
    site_id: str
    lines: list[ReservationLine] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)

    @property
    def short(self) -> bool:
        return any(line.short > 0 for line in self.lines)


def reserve_kit(conn: psycopg.Connection, ticket_id: int, *,
                at: datetime | None = None) -> KitReservation:
    """Reserve the ticket's kit at its site (see the module docstring); return the result."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        status, kit, site_id = _ticket(conn, ticket_id)
        if status == "closed":
            raise TicketError(f"ticket {ticket_id} is closed; its kit cannot be reserved")
        required = _kit_parts(conn, kit)
        current = _reservations(conn, ticket_id)
        gone = sorted(p for p, (_, _, state) in current.items()
                      if state == "active" and p not in required)
        if gone:
            conn.execute("UPDATE stock_reservation SET state = 'released', updated_at = %s"
                         " WHERE ticket_id = %s AND part_no = ANY(%s)", (at, ticket_id, gone))
        result = KitReservation(ticket_id, site_id)
        for part_no in sorted(required):
            need = required[part_no]
            on_hand = lock_stock(conn, part_no, site_id)
            free = on_hand - _reserved_by_others(conn, part_no, site_id, ticket_id)
            reserved = max(0, min(need, free))
            conn.execute(
                "INSERT INTO stock_reservation (ticket_id, part_no, site_id, required_qty,"
                " reserved_qty, state, reserved_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, 'active', %s, %s)"
                " ON CONFLICT (ticket_id, part_no) DO UPDATE SET required_qty ="
                " EXCLUDED.required_qty, reserved_qty = EXCLUDED.reserved_qty,"
                " site_id = EXCLUDED.site_id, state = 'active', updated_at = EXCLUDED.updated_at",
                (ticket_id, part_no, site_id, need, reserved, at, at))
            result.lines.append(ReservationLine(part_no, need, reserved))
        for part_no in gone:
            reallocate(conn, part_no, site_id, at=at)
        result.options = shortage_options(conn, ticket_id) if result.short else []
        _flag(conn, ticket_id, result.options if result.short else None, at)
    return result


def release(conn: psycopg.Connection, ticket_id: int, *, at: datetime | None = None) -> int:
    """Free everything the ticket reserved and give it to tickets still short at the site;
    return the number of units freed."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        _, _, site_id = _ticket(conn, ticket_id)
        freed = conn.execute(
            "UPDATE stock_reservation SET state = 'released', updated_at = %s"
            " WHERE ticket_id = %s AND state = 'active' RETURNING part_no, reserved_qty",
            (at, ticket_id)).fetchall()
        _flag(conn, ticket_id, None, at)
        for part_no, qty in sorted(freed):
            if qty:
                reallocate(conn, part_no, site_id, at=at)
    return sum(int(qty) for _, qty in freed)


def consume(conn: psycopg.Connection, ticket_id: int,
            parts_used: Mapping[str, int] | Iterable[Mapping[str, Any]] | None = None, *,
            at: datetime | None = None) -> dict[str, int]:
    """Take the parts used by the ticket out of its site's stock (default: its kit); return
    ``{part_no: qty}`` taken. Raises :class:`StockError` (nothing changed) for a negative or
    zero quantity, or when a part is neither reserved nor available."""
    at = at or datetime.now(UTC)
    with conn.transaction():
        _, kit, site_id = _ticket(conn, ticket_id)
        used = _kit_parts(conn, kit if parts_used is None else parts_used, ticket_id=ticket_id)
        current = _reservations(conn, ticket_id)
        for part_no in sorted(used):
            qty = used[part_no]
            on_hand = lock_stock(conn, part_no, site_id)
            _, own, state = current.get(part_no, (0, 0, "released"))
            own = own if state == "active" else 0
            free = on_hand - own - _reserved_by_others(conn, part_no, site_id, ticket_id)
            if qty > own + max(free, 0):
                raise StockError(
                    f"no stock of {part_no} at {site_id} for ticket {ticket_id}: needs {qty},"
                    f" {own} reserved, {max(free, 0)} available ({on_hand} on hand)")
            move_stock(conn, part_no, site_id, -qty, "consumption", at=at, ticket_id=ticket_id)
        conn.execute(
            "UPDATE stock_reservation SET state = CASE WHEN part_no = ANY(%s) THEN 'consumed'"
            " ELSE 'released' END, updated_at = %s WHERE ticket_id = %s AND state = 'active'",
            (sorted(used), at, ticket_id))
        _flag(conn, ticket_id, None, at)
        for part_no, (_, own, state) in sorted(current.items()):
            if state == "active" and own > used.get(part_no, 0):
                reallocate(conn, part_no, site_id, at=at)
    return used


def reallocate(conn: psycopg.Connection, part_no: str, site_id: str, *,
               at: datetime | None = None) -> int:
    """Give the part's free stock at the site to the open tickets still short of it, most
    urgent first (priority, due date, age); return the units newly reserved."""
    at = at or datetime.now(UTC)
    given = 0
    with conn.transaction():
        on_hand = lock_stock(conn, part_no, site_id)
        free = on_hand - _reserved_by_others(conn, part_no, site_id, -1)
        short = conn.execute(
            "SELECT r.ticket_id, r.required_qty - r.reserved_qty FROM stock_reservation r"
            " JOIN service_ticket t USING (ticket_id) WHERE r.part_no = %s AND r.site_id = %s"
            " AND r.state = 'active' AND r.reserved_qty < r.required_qty"
            " ORDER BY t.priority, t.due_at NULLS LAST, t.opened_at, r.ticket_id",
            (part_no, site_id)).fetchall()
        for ticket_id, missing in short:
            if free <= 0:
                break
            take = min(free, int(missing))
            conn.execute("UPDATE stock_reservation SET reserved_qty = reserved_qty + %s,"
                         " updated_at = %s WHERE ticket_id = %s AND part_no = %s",
                         (take, at, ticket_id, part_no))
            free -= take
            given += take
            still = conn.execute("SELECT bool_or(reserved_qty < required_qty) FROM"
                                 " stock_reservation WHERE ticket_id = %s AND state = 'active'",
                                 (ticket_id,)).fetchone()
            _flag(conn, int(ticket_id),
                  shortage_options(conn, int(ticket_id)) if still and still[0] else None, at)
    return given


def transfer_stock(conn: psycopg.Connection, part_no: str, from_site: str, to_site: str,
                   qty: int, *, at: datetime | None = None, ticket_id: int | None = None) -> None:
    """Move ``qty`` of a part from one site to another (only what is available at the source:
    stock reserved there stays); the receiving site's short tickets get it, ``ticket_id``
    first when given."""
    at = at or datetime.now(UTC)
    if qty <= 0:
        raise StockError(f"a transfer of {part_no} needs a positive quantity, not {qty}")
    if from_site == to_site:
        raise StockError(f"a transfer of {part_no} from {from_site} to itself moves nothing")
    with conn.transaction():
        for site in sorted((from_site, to_site)):   # lock order: no deadlock with a reverse move
            lock_stock(conn, part_no, site)
        on_hand = lock_stock(conn, part_no, from_site)
        free = on_hand - _reserved_by_others(conn, part_no, from_site, -1)
        if qty > free:
            raise StockError(f"cannot transfer {qty} x {part_no} from {from_site} to {to_site}"
                             f": {max(free, 0)} available there")
        reference = f"transfer {from_site} -> {to_site}"
        move_stock(conn, part_no, from_site, -qty, "transfer_out", at=at, ticket_id=ticket_id,
                   reference=reference)
        move_stock(conn, part_no, to_site, qty, "transfer_in", at=at, ticket_id=ticket_id,
                   reference=reference)
        if ticket_id is not None:
            reserve_kit(conn, ticket_id, at=at)
        reallocate(conn, part_no, to_site, at=at)


def shortage_options(conn: psycopg.Connection, ticket_id: int) -> list[dict[str, Any]]:
    """Per part the ticket is short of: ``{part_no, short_qty, transfer_site_id,
    transfer_available, transfer_lead_time_days, expedite_lead_time_days}`` (transfer fields
    None when no other site has enough available)."""
    rows = conn.execute(
        "SELECT part_no, short_qty, transfer_site_id, transfer_available,"
        " transfer_lead_time_days, expedite_lead_time_days FROM v_ticket_parts"
        " WHERE ticket_id = %s AND short_qty > 0 ORDER BY part_no", (ticket_id,)).fetchall()
    return [{"part_no": r[0], "short_qty": int(r[1]), "transfer_site_id": r[2],
             "transfer_available": None if r[3] is None else int(r[3]),
             "transfer_lead_time_days": None if r[4] is None else float(r[4]),
             "expedite_lead_time_days": None if r[5] is None else float(r[5])} for r in rows]


def _ticket(conn: psycopg.Connection, ticket_id: int) -> tuple[str, Any, str]:
    row = conn.execute(
        "SELECT t.status, t.kit, a.site_id FROM service_ticket t JOIN asset a USING (asset_id)"
        " WHERE t.ticket_id = %s FOR UPDATE OF t", (ticket_id,)).fetchone()
    if row is None:
        raise TicketError(f"no ticket {ticket_id}")
    return str(row[0]), row[1] or [], str(row[2])


def _kit_parts(conn: psycopg.Connection,
               items: Mapping[str, int] | Iterable[Mapping[str, Any]],
               ticket_id: int | None = None) -> dict[str, int]:
    """``{stocked part_no: qty}`` of a kit (``[{"part_no", "qty"}]`` or a mapping), kits
    exploded; a zero or negative quantity is an error."""
    pairs = (list(items.items()) if isinstance(items, Mapping)
             else [(str(i["part_no"]), i.get("qty", 1)) for i in items])
    kits = kit_contents(conn)
    parts: dict[str, int] = defaultdict(int)
    for part_no, qty in pairs:
        if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
            where = f" for ticket {ticket_id}" if ticket_id is not None else ""
            raise StockError(f"quantity of {part_no}{where} must be a positive whole number,"
                             f" not {qty!r}")
        for leaf, leaf_qty in explode(part_no, qty, kits).items():
            parts[leaf] += leaf_qty
    return dict(parts)


def _reservations(conn: psycopg.Connection, ticket_id: int) -> dict[str, tuple[int, int, str]]:
    return {r[0]: (int(r[1]), int(r[2]), str(r[3])) for r in conn.execute(
        "SELECT part_no, required_qty, reserved_qty, state FROM stock_reservation"
        " WHERE ticket_id = %s", (ticket_id,))}


def _reserved_by_others(conn: psycopg.Connection, part_no: str, site_id: str,
                        ticket_id: int) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(reserved_qty), 0) FROM stock_reservation WHERE part_no = %s"
        " AND site_id = %s AND state = 'active' AND ticket_id <> %s",
        (part_no, site_id, ticket_id)).fetchone()
    return int(row[0]) if row else 0


def _flag(conn: psycopg.Connection, ticket_id: int, options: list[dict[str, Any]] | None,
          at: datetime) -> None:
    """Set the ticket's shortage flag; a change is written to its history."""
    row = conn.execute("SELECT parts_short, shortage FROM service_ticket WHERE ticket_id = %s",
                       (ticket_id,)).fetchone()
    assert row is not None
    short = options is not None
    if bool(row[0]) == short and (row[1] or None) == options:
        return
    conn.execute("UPDATE service_ticket SET parts_short = %s, shortage = %s"
                 " WHERE ticket_id = %s", (short, Jsonb(options) if short else None, ticket_id))
    if short or row[0]:
        conn.execute("INSERT INTO ticket_history (ticket_id, at, change, detail)"
                     " VALUES (%s, %s, %s, %s)",
                     (ticket_id, at, "parts_short" if short else "parts_reserved",
                      Jsonb({"shortage": options or []})))
