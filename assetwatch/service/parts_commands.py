"""``assetwatch parts``: stock, shortages, replenishment orders and rules, returns, claims.

Cheap to import: each handler imports what it needs. Refused operations print one line and
exit non-zero (:class:`~assetwatch.service.errors.PartsError`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assetwatch.core.settings import Settings
from assetwatch.service.cli_format import number, table
from assetwatch.service.errors import OrderError
from assetwatch.service.returns_commands import register_returns

__all__ = ["register"]

#: what ``parts export`` can write: name -> (view, order)
EXPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "plan": ("v_replenishment_plan", ("site_id", "part_no")),
    "orders": ("v_replenishment_order", ("order_id",)),
    "stock": ("v_stock_available", ("site_id", "part_no")),
    "shortages": ("v_ticket_parts", ("site_id", "ticket_id", "part_no")),
}


def order_id(text: str) -> int:
    """``42`` or ``RO-000042`` -> 42."""
    return number(text, "RO", "an order number (e.g. RO-000042)")


def register(commands: argparse._SubParsersAction) -> None:
    parts = commands.add_parser("parts", help="stock, shortages, replenishment orders")
    actions = parts.add_subparsers(dest="action", required=True)
    stock = actions.add_parser("stock", help="on hand, reserved, available, on order")
    stock.add_argument("--site", default=None)
    stock.add_argument("--part", default=None)
    stock.set_defaults(func=stock_show)
    shortages = actions.add_parser("shortages", help="open tickets short of parts")
    shortages.add_argument("--site", default=None)
    shortages.set_defaults(func=shortages_show)
    replenish = actions.add_parser("replenish", help="evaluate the rules and raise orders now")
    replenish.add_argument("--auto-approve", action="store_true",
                           help="send reorder-point orders at once instead of proposing")
    replenish.set_defaults(func=replenish_now)
    export = actions.add_parser("export", help="the planner's export")
    export.add_argument("what", choices=sorted(EXPORTS), nargs="?", default="plan")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv")
    export.add_argument("--output", "-o", type=Path, default=None)
    export.add_argument("--site", default=None)
    export.add_argument("--part", default=None)
    export.set_defaults(func=parts_export)
    _register_orders(actions)
    _register_rules(actions)
    register_returns(actions)


def _register_orders(actions: argparse._SubParsersAction) -> None:
    orders = actions.add_parser("orders", help="replenishment orders")
    o_actions = orders.add_subparsers(dest="order_action", required=True)
    listing = o_actions.add_parser("list", help="list orders")
    listing.add_argument("--state", default="open",
                         choices=("open", "proposed", "ordered", "received", "cancelled", "all"))
    listing.add_argument("--site", default=None)
    listing.set_defaults(func=orders_list)
    approve = o_actions.add_parser("approve", help="send proposed orders to the supplier")
    approve.add_argument("order_ids", type=order_id, nargs="+", metavar="ORDER")
    approve.set_defaults(func=orders_approve)
    receive = o_actions.add_parser("receive", help="book a receipt (whole or partial)")
    receive.add_argument("order_id", type=order_id, metavar="ORDER")
    receive.add_argument("--qty", type=int, default=None,
                         help="quantity received (default: all outstanding)")
    receive.set_defaults(func=orders_receive)
    cancel = o_actions.add_parser("cancel", help="cancel an open order")
    cancel.add_argument("order_id", type=order_id, metavar="ORDER")
    cancel.set_defaults(func=orders_cancel)


def _register_rules(actions: argparse._SubParsersAction) -> None:
    rules = actions.add_parser("rules", help="replenishment rules per part and site")
    r_actions = rules.add_subparsers(dest="rule_action", required=True)
    listing = r_actions.add_parser("list", help="rules with their position now")
    listing.add_argument("--site", default=None)
    listing.set_defaults(func=rules_list)
    set_ = r_actions.add_parser("set", help="set the rule of a part at a site")
    set_.add_argument("part_no")
    set_.add_argument("site_id")
    set_.add_argument("--method", choices=("reorder_point", "kanban"), required=True)
    set_.add_argument("--reorder-point", type=int, default=None)
    set_.add_argument("--order-up-to", type=int, default=None)
    set_.add_argument("--bin-qty", type=int, default=None)
    set_.add_argument("--cards", type=int, default=None, help="2 = two-bin")
    set_.set_defaults(func=rules_set)


def stock_show(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT site_id, part_no, on_hand, reserved, available, short, ordered, proposed"
            " FROM v_stock_available WHERE (%(s)s::text IS NULL OR site_id = %(s)s)"
            " AND (%(p)s::text IS NULL OR part_no = %(p)s) ORDER BY site_id, part_no",
            {"s": args.site, "p": args.part}).fetchall()
    table("Stock", ("site", "part", "on hand", "reserved", "available", "short", "ordered",
                     "proposed"), rows)
    return 0


def shortages_show(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT ticket_id, site_id, asset_tag, part_no, short_qty, transfer_site_id,"
            " transfer_lead_time_days, expedite_lead_time_days FROM v_ticket_parts"
            " WHERE short_qty > 0 AND (%(s)s::text IS NULL OR site_id = %(s)s)"
            " ORDER BY priority, due_at, ticket_id, part_no", {"s": args.site}).fetchall()
    table("Tickets short of parts", ("ticket", "site", "asset", "part", "short",
                                      "transfer from", "transfer d", "expedite d"), rows)
    return 0


def replenish_now(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.replenishment import evaluate_replenishment

    with connect(settings, autocommit=True) as conn:
        summary = evaluate_replenishment(conn, auto_approve=args.auto_approve)
    print(f"replenishment: {summary}")
    return 0


def parts_export(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.export import export_view

    view, order = EXPORTS[args.what]
    with connect(settings, autocommit=True) as conn:
        n = export_view(conn, view, args.format, args.output,
                        filters={"site_id": args.site, "part_no": args.part}, order_by=order)
    if args.output is not None:
        print(f"{n} rows written to {args.output}")
    return 0


def orders_list(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT order_no, site_id, part_no, kind, state, qty, received_qty, due_at"
            " FROM v_replenishment_order"
            " WHERE (%(state)s = 'all' OR state = %(state)s"
            "        OR %(state)s = 'open' AND state IN ('proposed', 'ordered'))"
            " AND (%(s)s::text IS NULL OR site_id = %(s)s) ORDER BY order_id",
            {"state": args.state, "s": args.site}).fetchall()
    table(f"Replenishment orders ({args.state})", ("order", "site", "part", "kind", "state",
                                                    "qty", "received", "due"), rows)
    return 0


def orders_approve(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.orders import approve_order, order_no

    with connect(settings, autocommit=True) as conn, conn.transaction():
        for oid in args.order_ids:       # all or none
            approve_order(conn, oid)
    print(f"ordered: {', '.join(order_no(o) for o in args.order_ids)}")
    return 0


def orders_receive(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.orders import order_no, receive_order

    if args.qty is not None and args.qty <= 0:
        raise OrderError(f"receipt quantity for {order_no(args.order_id)} must be a positive"
                         f" whole number, not {args.qty}")
    with connect(settings, autocommit=True) as conn:
        order = receive_order(conn, args.order_id, args.qty)
    print(f"{order_no(order.order_id)} ({order.part_no} at {order.site_id}): "
          f"{order.received_qty} of {order.qty} received, {order.state}")
    return 0


def orders_cancel(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.orders import cancel_order, order_no

    with connect(settings, autocommit=True) as conn:
        cancel_order(conn, args.order_id)
    print(f"{order_no(args.order_id)} cancelled")
    return 0


def rules_list(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT site_id, part_no, method, reorder_point, order_up_to, bin_qty, cards,"
            " available, on_order, position FROM v_replenishment_rule"
            " WHERE (%(s)s::text IS NULL OR site_id = %(s)s) ORDER BY site_id, part_no",
            {"s": args.site}).fetchall()
    table("Replenishment rules", ("site", "part", "method", "reorder pt", "up to", "bin",
                                   "cards", "available", "on order", "position"), rows)
    return 0


def rules_set(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.replenishment import set_rule

    with connect(settings, autocommit=True) as conn:
        set_rule(conn, args.part_no, args.site_id, args.method,
                 reorder_point=args.reorder_point, order_up_to=args.order_up_to,
                 bin_qty=args.bin_qty, cards=args.cards)
    print(f"rule of {args.part_no} at {args.site_id}: {args.method}")
    return 0

