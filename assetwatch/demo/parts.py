"""The demo's parts story: what the warehouse and the planner do after the pipeline has run.

On the simulated fleet, through the service API only (each step is what a user does):

1. **shortage**: a planner opens a ticket whose kit the site cannot supply (the kit with the
   least available stock, on the next asset if the first is covered); the ticket is flagged
   with its options (transfer, expedited order);
2. **replenishment**: the rules are evaluated, the order for the short part is raised,
   approved and received, and the receipt goes to the short ticket;
3. **two-bin**: a consumable is put on two bins of its net stock: one bin is left, so the
   first card is released as an order;
4. **warranty**: a component under warranty fails (a ticket closed as a confirmed failure,
   unless the history already holds such a removal): a warranty claim with its evidence, the
   part returned to the supplier (RMA) and credited, which settles the claim;
5. **repair loop**: a repairable part out of warranty is removed, repaired and back in stock;
6. **no fault found**: a part removed preventively tests fine and goes back to stock.

:func:`run_parts_story` returns a :class:`PartsStory` for the summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.service.bom import repair_kit
from assetwatch.service.orders import approve_order, cover_shortage, order_no, receive_order
from assetwatch.service.replenishment import evaluate_replenishment, set_rule
from assetwatch.service.returns import (
    close_rma,
    complete_repair,
    inspect_return,
    process_returns,
    register_removals,
    return_no,
    send_to_repair,
)
from assetwatch.service.ticket_lifecycle import close_ticket, open_ticket
from assetwatch.service.warranty_claims import claim_no, open_warranty_claims

__all__ = ["PartsStory", "run_parts_story"]

_NOTE = "parts story of the demo"


@dataclass
class PartsStory:
    """One line per step: what happened, with the numbers a user would look up."""

    steps: dict[str, str] = field(default_factory=dict)
    tickets_closed: int = 0      # planner tickets the story closed (training labels too)


def run_parts_story(demo: Settings) -> PartsStory:
    """Run the steps of the module docstring on the demo database."""
    story = PartsStory()
    with connect(demo, autocommit=True) as conn:
        short = _shortage(conn, story)
        _replenishment(conn, story, short)
        _two_bin(conn, story)
        open_warranty_claims(conn)
        process_returns(conn)
        _warranty(conn, story)
        _repair(conn, story)
        _no_fault_found(conn, story)
    return story


def _candidates(conn: psycopg.Connection, component_filter: str = "true",
                first: str = "a.asset_id IS NULL") -> list[tuple[Any, ...]]:
    """(asset, tag, site, model, component, failure mode, serial) without an open ticket for
    the mode, the component installed now; ``component_filter`` and ``first`` (rows where it
    is false come first) are fixed SQL expressions of this module."""
    return conn.execute(
        "SELECT a.asset_id, a.asset_tag, a.site_id, a.model_id, f.component_type,"
        " f.failure_mode, ic.serial_no FROM asset a"
        " JOIN installed_component ic ON ic.asset_id = a.asset_id AND ic.valid_to IS NULL"
        " JOIN failure_mode f ON f.component_type = ic.component_type"
        " JOIN part p ON p.part_no = ic.part_no"
        " WHERE NOT EXISTS (SELECT 1 FROM service_ticket t WHERE t.asset_id = a.asset_id"
        "   AND t.failure_mode = f.failure_mode AND t.status <> 'closed')"
        f" AND {component_filter} ORDER BY {first}, a.asset_tag, f.failure_mode").fetchall()


def _row(conn: psycopg.Connection, query: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None, query
    return row


def _open(conn: psycopg.Connection, asset_id: int, model_id: str, component: str,
          mode: str) -> int:
    return open_ticket(conn, asset_id, mode, risk=0.8, priority=2, opened_by="planner",
                       kit=repair_kit(conn, model_id, component, mode))


def _shortage(conn: psycopg.Connection, story: PartsStory) -> int | None:
    ranked = []
    for asset_id, tag, site, model, component, mode, _ in _candidates(conn):
        kit = repair_kit(conn, model, component, mode)
        if not kit:
            continue
        available = min(int(_row(
            conn, "SELECT coalesce((SELECT available FROM v_stock_available WHERE part_no = %s"
            " AND site_id = %s), 0)", (item["part_no"], site))[0])
            // int(str(item["qty"])) for item in kit)
        ranked.append((available, tag, asset_id, site, model, component, mode))
    for _, tag, asset_id, _, model, component, mode in sorted(ranked)[:4]:
        ticket = _open(conn, asset_id, model, component, mode)
        row = _row(conn, "SELECT parts_short, shortage FROM service_ticket WHERE ticket_id"
                   " = %s", (ticket,))
        if row[0]:
            options = "; ".join(
                f"{o['part_no']} x{o['short_qty']}: "
                + (f"transfer from {o['transfer_site_id']} ({o['transfer_lead_time_days']:g} d)"
                   if o["transfer_site_id"] else "no other site has it")
                + f", expedite {o['expedite_lead_time_days']:g} d" for o in row[1])
            story.steps["shortage"] = f"ticket {ticket} ({tag}, {mode}) short: {options}"
            return ticket
    story.steps["shortage"] = "none: every kit opened was in stock"
    return None


def _replenishment(conn: psycopg.Connection, story: PartsStory, ticket: int | None) -> None:
    summary = evaluate_replenishment(conn)
    row = conn.execute(
        "SELECT o.order_id, o.part_no, o.site_id, o.qty FROM replenishment_order o"
        " JOIN stock_reservation r ON r.part_no = o.part_no AND r.site_id = o.site_id"
        " WHERE r.ticket_id = %s AND r.reserved_qty < r.required_qty AND o.state = 'proposed'"
        " ORDER BY o.order_id LIMIT 1", (ticket or -1,)).fetchone() or conn.execute(
        "SELECT order_id, part_no, site_id, qty FROM replenishment_order"
        " WHERE state = 'proposed' ORDER BY order_id LIMIT 1").fetchone()
    if row is None:
        story.steps["replenishment order"] = f"none raised ({summary})"
        return
    order_id, part_no, site_id, qty = row
    approve_order(conn, order_id)
    receive_order(conn, order_id)
    covered = ticket is not None and not _row(
        conn, "SELECT parts_short FROM service_ticket WHERE ticket_id = %s", (ticket,))[0]
    story.steps["replenishment order"] = (
        f"{order_no(order_id)}: {qty} x {part_no} for {site_id} raised ({summary.proposed}"
        f" proposed), approved, received"
        + (f"; ticket {ticket}'s shortage covered" if covered else ""))


def _two_bin(conn: psycopg.Connection, story: PartsStory) -> None:
    row = conn.execute(
        "SELECT s.part_no, s.site_id, s.available - s.short FROM v_stock_available s"
        " JOIN part p USING (part_no) WHERE s.available - s.short >= 2 AND NOT p.repairable"
        " AND NOT EXISTS (SELECT 1 FROM replenishment_order o WHERE o.part_no = s.part_no"
        "   AND o.site_id = s.site_id AND o.state IN ('proposed', 'ordered'))"
        " ORDER BY p.unit_cost, s.site_id, s.part_no LIMIT 1").fetchone()
    if row is None:
        story.steps["two-bin card"] = "no consumable in stock"
        return
    part_no, site_id, net = row
    set_rule(conn, part_no, site_id, "kanban", bin_qty=int(net), cards=2)
    released = evaluate_replenishment(conn).cards_released
    story.steps["two-bin card"] = (f"{part_no} at {site_id}: two bins of {net}, one left; "
                                   f"{released} card released as an order of {net}")


def _replace(conn: psycopg.Connection, story: PartsStory, candidate: tuple[Any, ...],
             code: str) -> int:
    """A planner ticket for the candidate, its shortage covered, closed with ``code``;
    return the removed serial's return id."""
    asset_id, _, _, model, component, mode, serial = candidate
    ticket = _open(conn, asset_id, model, component, mode)
    cover_shortage(conn, ticket)
    close_ticket(conn, ticket, resolution_code=code, note=_NOTE)
    story.tickets_closed += 1
    register_removals(conn, asset_id=asset_id)
    return int(_row(conn, "SELECT return_id FROM part_return WHERE serial_no = %s"
                    " ORDER BY return_id DESC LIMIT 1", (serial,))[0])


def _warranty(conn: psycopg.Connection, story: PartsStory) -> None:
    row = conn.execute("SELECT return_id FROM part_return WHERE state = 'rma_open'"
                       " ORDER BY return_id LIMIT 1").fetchone()
    if row is None:
        candidates = _candidates(conn, "ic.warranty_end >= now()::date AND p.unit_cost > 0")
        if not candidates:
            story.steps["warranty claim"] = "no component under warranty"
            return
        _replace(conn, story, candidates[0], "confirmed_failure")
        open_warranty_claims(conn)
        process_returns(conn)
        row = _row(conn, "SELECT return_id FROM part_return WHERE state = 'rma_open'"
                   " ORDER BY return_id DESC LIMIT 1")
    return_id = int(row[0])
    serial, rma, supplier = _row(conn, "SELECT serial_no, rma_no, supplier FROM part_return"
                                       " WHERE return_id = %s", (return_id,))
    credit = close_rma(conn, return_id, accepted=True)
    claim = conn.execute("SELECT claim_id, state, recovered_amount, anomaly_events, failed_at"
                         " FROM v_warranty_claim WHERE serial_no = %s", (serial,)).fetchone()
    story.steps["return to supplier"] = (f"{return_no(return_id)} serial {serial}: {rma} to"
                                         f" {supplier}, credited {credit}")
    story.steps["warranty claim"] = (
        f"{claim_no(claim[0])} for serial {serial} (failed {claim[4]:%Y-%m-%d}, evidence: "
        f"{claim[3]} anomaly events): {claim[1]}, {claim[2]} recovered" if claim else
        f"no claim for serial {serial}")


def _repair(conn: psycopg.Connection, story: PartsStory) -> None:
    row = conn.execute("SELECT return_id FROM part_return WHERE state = 'in_repair'"
                       " ORDER BY repair_due_at LIMIT 1").fetchone()
    if row is None:
        # out of warranty first; a part still under warranty may be repaired in-house too
        candidates = _candidates(conn, "p.repairable",
                                 first="coalesce(ic.warranty_end >= now()::date, false)")
        if not candidates:
            story.steps["repair loop"] = "no repairable part out of warranty installed"
            return
        return_id = _replace(conn, story, candidates[0], "confirmed_failure")
        send_to_repair(conn, return_id)
        row = (return_id,)
    return_id = int(row[0])
    serial, part_no, site_id, cost, due = _row(
        conn, "SELECT serial_no, part_no, site_id, repair_cost, repair_due_at FROM part_return"
        " WHERE return_id = %s", (return_id,))
    complete_repair(conn, return_id, at=datetime.now(UTC))
    on_hand = _row(conn, "SELECT on_hand FROM stock WHERE part_no = %s AND site_id = %s",
                   (part_no, site_id))[0]
    story.steps["repair loop"] = (f"{return_no(return_id)} serial {serial} ({part_no}):"
                                  f" repaired for {cost} (due {due:%Y-%m-%d}), back in stock at"
                                  f" {site_id} ({on_hand} on hand)")


def _no_fault_found(conn: psycopg.Connection, story: PartsStory) -> None:
    candidates = _candidates(conn, "p.unit_cost > 0")
    if not candidates:
        story.steps["no fault found"] = "no component left to remove"
        return
    return_id = _replace(conn, story, candidates[0], "preventive_replacement")
    inspect_return(conn, return_id, fault_found=False)
    part_no, rate = _row(
        conn, "SELECT r.part_no, n.nff_rate FROM part_return r JOIN v_nff_rate n"
        " ON n.dimension = 'part' AND n.key = r.part_no WHERE r.return_id = %s", (return_id,))
    story.steps["no fault found"] = (f"{return_no(return_id)} ({part_no}) tested fine, back in"
                                     f" stock; NFF rate of {part_no}: {rate:.0%}")
