"""``assetwatch masterdata | demand | inventory | tickets``: service management commands.

Cheap to import: each handler imports what it needs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assetwatch.core.settings import Settings

if TYPE_CHECKING:
    from assetwatch.service.service_levels import ServiceLevels

__all__ = ["register"]


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def register(commands: argparse._SubParsersAction) -> None:
    md = commands.add_parser("masterdata", help="parts, kits, BOM, lead times, stock")
    md_actions = md.add_subparsers(dest="action", required=True)
    for name, help_text, func in (
            ("load", "validate and load master data (all or nothing)", masterdata_load),
            ("check", "validate master data without loading it", masterdata_check)):
        p = md_actions.add_parser(name, help=help_text)
        p.add_argument("path", nargs="?", type=Path,
                       help="directory of <section>.csv files or a .yaml file")
        p.add_argument("--sample", action="store_true",
                       help="the sample master data of the simulated fleet")
        p.set_defaults(func=func)

    demand = commands.add_parser("demand", help="parts demand signal")
    d_actions = demand.add_subparsers(dest="action", required=True)
    compute = d_actions.add_parser("compute", help="compute demand, inventory policy and"
                                   " warranty forecast now (without Prefect)")
    compute.add_argument("--as-of", type=_time, default=None)
    compute.add_argument("--horizon-days", type=int, default=90)
    compute.add_argument("--period-days", type=int, default=30)
    compute.add_argument("--quantile", type=float, default=0.95)
    compute.add_argument("--service-level", type=_service_levels, default="0.95",
                         help="the policy's cycle service level: one (0.95) or per ABC class"
                              " of usage value, A/B/C (0.95/0.98/0.995)")
    compute.set_defaults(func=demand_compute)
    export = d_actions.add_parser("export", help="export the newest demand run")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv")
    export.add_argument("--output", "-o", type=Path, default=None,
                        help="file to write (csv default: stdout)")
    export.add_argument("--site", default=None)
    export.add_argument("--part", default=None)
    export.set_defaults(func=demand_export, view="v_parts_demand_export",
                        order=("site_id", "part_no", "period_start"))

    inventory = commands.add_parser("inventory", help="inventory policy per part and site")
    i_actions = inventory.add_subparsers(dest="action", required=True)
    show = i_actions.add_parser("show", help="show the newest policy")
    show.add_argument("--site", default=None)
    show.add_argument("--flagged", action="store_true",
                      help="only parts at stock-out risk or over-stocked")
    show.set_defaults(func=inventory_show)
    i_export = i_actions.add_parser("export", help="export the newest policy")
    i_export.add_argument("--format", choices=("csv", "parquet"), default="csv")
    i_export.add_argument("--output", "-o", type=Path, default=None)
    i_export.add_argument("--site", default=None)
    i_export.add_argument("--part", default=None)
    i_export.set_defaults(func=demand_export, view="v_inventory_policy",
                          order=("site_id", "part_no"))

    _register_tickets(commands)


def _register_tickets(commands: argparse._SubParsersAction) -> None:
    tickets = commands.add_parser("tickets", help="service tickets")
    t_actions = tickets.add_subparsers(dest="action", required=True)
    update = t_actions.add_parser("update", help="open/update/close tickets from the signals")
    update.add_argument("--as-of", type=_time, default=None)
    update.add_argument("--daily-cap", type=int, default=25)
    update.set_defaults(func=tickets_update)
    listing = t_actions.add_parser("list", help="list tickets")
    listing.add_argument("--status", choices=("open", "scheduled", "in_progress", "closed",
                                              "active"), default="active")
    listing.add_argument("--site", default=None)
    listing.set_defaults(func=tickets_list)
    schedule = t_actions.add_parser("schedule", help="plan a visit")
    schedule.add_argument("ticket_id", type=int)
    schedule.add_argument("--for", dest="scheduled_for", type=_time, required=True)
    schedule.set_defaults(func=tickets_schedule)
    start = t_actions.add_parser("start", help="work has started")
    start.add_argument("ticket_id", type=int)
    start.set_defaults(func=tickets_start)
    close = t_actions.add_parser("close", help="close with a resolution code")
    close.add_argument("ticket_id", type=int)
    close.add_argument("--resolution", required=True,
                       choices=("confirmed_failure", "no_fault_found", "preventive_replacement",
                                "duplicate", "cancelled"))
    close.add_argument("--part-no", default=None, help="part fitted (replacing resolutions)")
    close.add_argument("--serial", default=None, help="serial of the fitted component")
    close.add_argument("--note", default=None)
    close.set_defaults(func=tickets_close)


def masterdata_load(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.errors import MasterDataError
    from assetwatch.service.masterdata_load import load_masterdata, sample_path

    path = sample_path() if args.sample else args.path
    if path is None:
        print("assetwatch: error: give a PATH or --sample", file=sys.stderr)
        return 2
    try:
        with connect(settings, autocommit=True) as conn:
            summary = load_masterdata(conn, path, skip_unknown_sites=args.sample)
    except MasterDataError as e:
        for problem in e.problems[1:]:
            print(f"  {problem}", file=sys.stderr)
        raise
    print(summary)
    return 0


def masterdata_check(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.errors import MasterDataError
    from assetwatch.service.masterdata import read_masterdata
    from assetwatch.service.masterdata_load import known_masterdata, sample_path

    path = sample_path() if args.sample else args.path
    if path is None:
        print("assetwatch: error: give a PATH or --sample", file=sys.stderr)
        return 2
    with connect(settings, autocommit=True) as conn:
        known = known_masterdata(conn)
    try:
        data = read_masterdata(path, known, skip_unknown_sites=args.sample)
    except MasterDataError as e:
        for problem in e.problems:
            print(problem)
        return e.exit_code
    rows = sum(len(v) for v in data.sections.values())
    print(f"{path}: {rows} rows in {len(data.sections)} sections, no problems")
    return 0


def _service_levels(text: str) -> ServiceLevels:
    from assetwatch.service.service_levels import ServiceLevels

    try:
        return ServiceLevels.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def demand_compute(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.configuration import compute_warranty_forecast
    from assetwatch.service.demand import compute_demand, resolve_as_of
    from assetwatch.service.policy import compute_inventory_policy

    computed_at = datetime.now(UTC)
    with connect(settings, autocommit=True) as conn:
        as_of = resolve_as_of(conn, args.as_of)
        demand = compute_demand(conn, as_of=as_of, horizon_days=args.horizon_days,
                                period_days=args.period_days, quantile=args.quantile,
                                computed_at=computed_at)
        policy = compute_inventory_policy(conn, as_of=as_of, service_level=args.service_level,
                                          horizon_days=args.horizon_days,
                                          computed_at=computed_at)
        warranty = compute_warranty_forecast(conn, as_of=as_of, computed_at=computed_at)
    print(f"as of {as_of.isoformat()}: {demand} demand rows, {policy} policy rows, "
          f"{warranty} warranty forecasts")
    return 0


def demand_export(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.export import export_view

    with connect(settings, autocommit=True) as conn:
        n = export_view(conn, args.view, args.format, args.output,
                        filters={"site_id": args.site, "part_no": args.part},
                        order_by=args.order)
    if args.output is not None:
        print(f"{n} rows written to {args.output}")
    return 0


def inventory_show(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT site_id, part_no, lead_time_days, on_hand, on_order, lead_time_demand,"
            " safety_stock, reorder_point, kanban_bin_qty, kanban_cards, stockout_probability,"
            " stockout_risk, overstock FROM v_inventory_policy"
            " WHERE (%s::text IS NULL OR site_id = %s)"
            " AND (NOT %s OR stockout_risk OR overstock) ORDER BY site_id, part_no",
            (args.site, args.site, args.flagged)).fetchall()
    table = Table(title="Inventory policy (newest run)")
    for name in ("site", "part", "lead d", "on hand", "on order", "LT demand", "safety",
                 "reorder pt", "bin", "cards", "P(short)", "flags"):
        table.add_column(name)
    for r in rows:
        flags = " ".join(f for f, on in (("STOCK-OUT", r[11]), ("OVERSTOCK", r[12])) if on)
        table.add_row(r[0], r[1], f"{r[2]:g}", str(r[3]), str(r[4]), f"{r[5]:.2f}",
                      f"{r[6]:.2f}", f"{r[7]:g}", str(r[8]), str(r[9]), f"{r[10]:.2f}", flags)
    Console().print(table)
    return 0


def tickets_update(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.tickets import TicketPolicy, update_tickets

    with connect(settings, autocommit=True) as conn:
        summary = update_tickets(conn, as_of=args.as_of,
                                 policy=TicketPolicy(daily_cap_per_site=args.daily_cap))
    print(f"tickets: {summary}")
    return 0


def tickets_list(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT ticket_id, site_id, asset_tag, failure_mode, status, priority, risk, due_at,"
            " resolution_code, jsonb_array_length(kit) FROM v_service_ticket"
            " WHERE (%s = 'active' AND status <> 'closed' OR status = %s)"
            " AND (%s::text IS NULL OR site_id = %s) ORDER BY priority, risk DESC",
            (args.status, args.status, args.site, args.site)).fetchall()
    table = Table(title=f"Service tickets ({args.status})")
    for name in ("id", "site", "asset", "failure mode", "status", "prio", "risk", "due",
                 "resolution", "kit items"):
        table.add_column(name)
    for r in rows:
        table.add_row(str(r[0]), r[1], r[2], r[3], r[4], str(r[5]), f"{r[6]:.2f}",
                      r[7].strftime("%Y-%m-%d %H:%M") if r[7] else "", r[8] or "", str(r[9]))
    Console().print(table)
    return 0


def tickets_schedule(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.ticket_lifecycle import schedule_ticket

    with connect(settings, autocommit=True) as conn:
        schedule_ticket(conn, args.ticket_id, scheduled_for=args.scheduled_for)
    print(f"ticket {args.ticket_id} scheduled for {args.scheduled_for.isoformat()}")
    return 0


def tickets_start(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.ticket_lifecycle import start_ticket

    with connect(settings, autocommit=True) as conn:
        start_ticket(conn, args.ticket_id)
    print(f"ticket {args.ticket_id} in progress")
    return 0


def tickets_close(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.ticket_lifecycle import close_ticket

    with connect(settings, autocommit=True) as conn:
        close_ticket(conn, args.ticket_id, resolution_code=args.resolution,
                     part_no=args.part_no, serial_installed=args.serial, note=args.note)
    print(f"ticket {args.ticket_id} closed ({args.resolution})")
    return 0
