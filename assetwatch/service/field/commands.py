"""``assetwatch dispatch plan | show | close``: field service from the command line.

Cheap to import: each handler imports what it needs.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from assetwatch.core.settings import Settings

__all__ = ["register"]


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _part(text: str) -> tuple[str, int]:
    part_no, sep, qty = text.partition("=")
    if not sep or not qty.isdigit():
        raise argparse.ArgumentTypeError(f"expected PART=QTY, got {text!r}")
    return part_no, int(qty)


def register(commands: argparse._SubParsersAction) -> None:
    dispatch = commands.add_parser("dispatch", help="field service: plan visits, show, close")
    actions = dispatch.add_subparsers(dest="action", required=True)
    plan = actions.add_parser("plan", help="open due preventive work, record SLA breaches and"
                              " plan the open work into visits")
    plan.add_argument("--as-of", type=_time, default=None)
    plan.add_argument("--horizon-days", type=float, default=5.0)
    plan.add_argument("--technician", action="append", default=None,
                      help="plan only for this technician (repeatable)")
    plan.add_argument("--solver", default=None,
                      help="ortools-routing (default), greedy or baseline")
    plan.add_argument("--time-limit", type=float, default=None, help="solver seconds")
    plan.set_defaults(func=dispatch_plan)
    show = actions.add_parser("show", help="the planned visits, per technician and day")
    show.add_argument("--technician", default=None)
    show.add_argument("--day", type=lambda t: datetime.fromisoformat(t).date(), default=None,
                      help="only this day (YYYY-MM-DD)")
    show.set_defaults(func=dispatch_show)
    close = actions.add_parser("close", help="the technician's close-out of a visit")
    close.add_argument("visit_id", type=int)
    close.add_argument("--on-site-minutes", type=float, required=True)
    close.add_argument("--used", type=_part, action="append", default=None,
                       metavar="PART=QTY", help="a part used (repeatable; default: the kit)")
    close.add_argument("--resolution", default="confirmed_failure",
                       choices=("confirmed_failure", "no_fault_found", "preventive_replacement"))
    close.add_argument("--not-fixed", action="store_true",
                       help="the work is not done: tickets stay open for another visit")
    close.add_argument("--note", default=None)
    close.set_defaults(func=dispatch_close)


def dispatch_plan(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.field.run import run_dispatch

    with connect(settings, autocommit=True) as conn:
        outcome = run_dispatch(conn, settings, as_of=args.as_of, horizon_days=args.horizon_days,
                               technicians=args.technician, solver=args.solver,
                               time_limit_s=args.time_limit)
    print(outcome)
    return 0


def dispatch_show(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.core.db import connect
    from assetwatch.service.field.crew import load_crew
    from assetwatch.service.field.day_sheet import planned_visits

    with connect(settings, autocommit=True) as conn:
        if args.technician:
            load_crew(conn, [args.technician])  # one clear error for an unknown name
        visits = planned_visits(conn, technician=args.technician, day=args.day)
    table = Table(title="Planned visits")
    for column in ("technician", "start", "end", "site", "travel min", "work", "kit"):
        table.add_column(column)
    for v in visits:
        table.add_row(f"{v.technician_id} {v.technician_name}",
                      v.starts_at.strftime("%a %Y-%m-%d %H:%M"), v.ends_at.strftime("%H:%M"),
                      v.site_id, f"{v.travel_minutes:.0f}", "\n".join(v.work),
                      ", ".join(f"{q} x {p}" for p, q in v.kit))
    Console().print(table)
    if not visits:
        print("no planned visits" + (f" for {args.technician}" if args.technician else ""))
    return 0


def dispatch_close(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.field.closeout import close_visit

    with connect(settings, autocommit=True) as conn:
        done = close_visit(conn, args.visit_id, on_site_minutes=args.on_site_minutes,
                           parts_used=dict(args.used) if args.used is not None else None,
                           resolution_code=args.resolution, fixed=not args.not_fixed,
                           note=args.note)
    print(done)
    return 0
