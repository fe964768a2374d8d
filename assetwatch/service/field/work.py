"""Open work for dispatch: equipment tickets and preventive work orders, merged per asset.

A ticket's deadline is the earliest of its SLA deadline and its due date (the predicted
failure): the response deadline while its response clock runs, then the restore deadline (a
ticket responded to by a visit that could not fix it must be restored by the contract's
restore time; the passed response deadline no longer counts). A work order's deadline is its
due date. A preventive work order at the asset of
an open ticket, due within ``merge_days`` of the ticket's deadline, is done on the same visit
(one work item). When the work order replaces a part of the ticket's component (its kit
shares a part with the component's BOM) it covers the predicted failure: the item carries
each part once (the larger quantity) and takes the longer of the two times on site instead
of both. Connectivity tickets (no parts, usually fixed remotely) are not dispatched.

A ticket whose response clock is running (no visit has started its work yet) and whose kit
comes too late for any working window of the crew to fit its work before its response
deadline is not left waiting for the parts (:func:`response_visits`): it becomes a *response
visit* (``response_only``), released now and carrying nothing, on which the technician
diagnoses; the close-out of such a visit (``fixed=False``) opens the ticket again and the
repair is planned once its kit can be there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from assetwatch.service.bom import exploded_bom
from assetwatch.service.field.parts import Kit, kits_ready_at

__all__ = ["WorkItem", "collect_work", "response_visits"]


@dataclass(frozen=True)
class WorkItem:
    """Work at one asset: what it needs, how long it takes, by when, from when, with what."""

    site_id: str
    asset_id: int
    model_id: str
    needs: tuple[str | None, ...]      # failure modes to fix; None: preventive work
    minutes: int
    deadline: datetime | None
    sla_deadline: datetime | None       # the response deadline of a ticket, if any
    release: datetime                   # not before: when the kit can be there
    kit: Kit
    ticket_ids: tuple[int, ...] = ()
    work_order_ids: tuple[int, ...] = ()
    covered: bool = False               # a preventive replacement covers the ticket
    awaiting_response: bool = False     # a ticket whose response clock is running
    response_only: bool = False         # a response visit: diagnosis now, no kit (module)


@dataclass
class _Open:
    site_id: str
    asset_id: int
    model_id: str
    mode: str | None
    component: str | None
    minutes: int
    deadline: datetime | None
    sla_deadline: datetime | None
    kit: dict[str, int]
    ticket_id: int | None = None
    work_order_id: int | None = None
    awaiting_response: bool = False


def collect_work(conn: psycopg.Connection, as_of: datetime, *,
                 merge_days: float = 14.0) -> list[WorkItem]:
    """Every open ticket and work order as work items, merged per asset (see module), with
    the time their kit can be at the site; most urgent first."""
    tickets = [_Open(site, asset, model, mode, component, minutes,
                     _earliest(None if responded_at else respond_by, restore_by, due_at),
                     respond_by, _kit(kit), ticket_id=tid,
                     awaiting_response=respond_by is not None and responded_at is None)
               for (tid, site, asset, model, mode, component, minutes, respond_by, responded_at,
                    restore_by, due_at, kit) in conn.execute(
                   "SELECT st.ticket_id, a.site_id, a.asset_id, a.model_id, st.failure_mode,"
                   " fm.component_type, coalesce(fm.repair_minutes, 120), sla.respond_by,"
                   " sla.responded_at, sla.restore_by, st.due_at, st.kit"
                   " FROM v_service_ticket st"
                   " JOIN v_ticket_sla sla USING (ticket_id)"
                   " JOIN v_asset a ON a.asset_id = st.asset_id"
                   " LEFT JOIN v_failure_mode fm ON fm.failure_mode = st.failure_mode"
                   " WHERE st.status IN ('open', 'scheduled') AND st.kind = 'equipment'"
                   " ORDER BY st.ticket_id")]
    orders = [_Open(site, asset, model, None, None, minutes, due_at, None, _kit(kit),
                    work_order_id=wid)
              for wid, site, asset, model, due_at, minutes, kit in conn.execute(
                  "SELECT work_order_id, site_id, asset_id, model_id, due_at, duration_minutes,"
                  " kit FROM v_pm_work_order WHERE status IN ('open', 'scheduled')"
                  " ORDER BY work_order_id")]
    bom = exploded_bom(conn)
    pending = defaultdict(list)
    for order in orders:
        pending[order.asset_id].append(order)
    merged: list[tuple[_Open, list[_Open], bool]] = []
    for ticket in tickets:
        joined, covered = [], False
        for order in list(pending[ticket.asset_id]):
            if ticket.deadline is None or order.deadline is None or (
                    order.deadline <= ticket.deadline + timedelta(days=merge_days)):
                pending[ticket.asset_id].remove(order)
                joined.append(order)
                covered |= bool(set(order.kit) & set(
                    bom.get((ticket.model_id, ticket.component or ""), {})))
        merged.append((ticket, joined, covered))
    merged += [(order, [], False) for left in pending.values() for order in left]
    reserved = {r[0] for r in conn.execute("SELECT DISTINCT ticket_id FROM v_ticket_parts")}
    pairs = sorted(((_item(head, joined, covered, as_of),
                     _unreserved(head, joined, reserved)) for head, joined, covered in merged),
                   key=lambda p: (p[0].deadline is None, p[0].deadline or as_of, p[0].site_id))
    ready = kits_ready_at(conn, [(w.site_id, kit, w.ticket_ids) for w, kit in pairs], as_of)
    return [WorkItem(**{**w.__dict__, "release": r})
            for (w, _), r in zip(pairs, ready, strict=True)]


def response_visits(items: list[WorkItem], windows: list[tuple[datetime, datetime]],
                    as_of: datetime) -> list[WorkItem]:
    """``items`` with each ticket still waiting for its response made a response visit
    (see the module) when its kit is not there now and no window of ``windows`` (the
    crew's working windows from ``as_of``) fits its work between the kit's arrival and the
    response deadline (a deadline already past included: the response is late, but not
    later than it need be); the others as they are."""
    out = []
    for item in items:
        if (item.awaiting_response and item.sla_deadline is not None
                and item.release > as_of and not _fits(item, item.release, windows)):
            item = WorkItem(**{**item.__dict__, "release": as_of, "kit": (),
                               "response_only": True})
        out.append(item)
    return out


def _fits(item: WorkItem, release: datetime, windows: list[tuple[datetime, datetime]]
          ) -> bool:
    assert item.sla_deadline is not None
    work = timedelta(minutes=item.minutes)
    return any(max(a, release) + work <= min(b, item.sla_deadline) for a, b in windows)


def _unreserved(head: _Open, joined: list[_Open], reserved: set[int]) -> Kit:
    """The parts of the work no ticket reservation holds (preventive kits, unreserved
    tickets)."""
    kit: dict[str, int] = defaultdict(int)
    for work in (head, *joined):
        if work.ticket_id is None or work.ticket_id not in reserved:
            for part_no, qty in work.kit.items():
                kit[part_no] += qty
    return tuple(sorted(kit.items()))


def _item(head: _Open, joined: list[_Open], covered: bool, as_of: datetime) -> WorkItem:
    parts = [head, *joined]
    kit: dict[str, int] = defaultdict(int)
    for work in parts:
        for part_no, qty in work.kit.items():
            kit[part_no] = max(kit[part_no], qty) if covered else kit[part_no] + qty
    minutes = max(w.minutes for w in parts) if covered else sum(w.minutes for w in parts)
    return WorkItem(head.site_id, head.asset_id, head.model_id,
                    tuple(w.mode for w in parts if w.mode is not None) or (None,),
                    minutes, _earliest(*(w.deadline for w in parts)), head.sla_deadline,
                    as_of, tuple(sorted(kit.items())),
                    tuple(w.ticket_id for w in parts if w.ticket_id is not None),
                    tuple(w.work_order_id for w in parts if w.work_order_id is not None),
                    covered, head.awaiting_response)


def _kit(items: list[dict[str, object]] | None) -> dict[str, int]:
    kit: dict[str, int] = defaultdict(int)
    for item in items or []:
        kit[str(item["part_no"])] += int(str(item.get("qty", 1)))
    return dict(kit)


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None
