"""``assetwatch parts returns | claims``: removed parts (test, RMA, repair, scrap) and warranty
claims. Cheap to import: each handler imports what it needs."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from assetwatch.core.settings import Settings
from assetwatch.service.cli_format import number, table

__all__ = ["register_returns"]


def return_id(text: str) -> int:
    """``42`` or ``RET-000042`` -> 42."""
    return number(text, "RET", "a return number (e.g. RET-000042)")


def claim_id(text: str) -> int:
    """``42`` or ``WC-000042`` -> 42."""
    return number(text, "WC", "a claim number (e.g. WC-000042)")


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (e.g. 2026-03-01T12:00)")\
            from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)



def register_returns(actions: argparse._SubParsersAction) -> None:
    """Add ``returns`` and ``claims`` to the ``parts`` command."""
    _register_returns(actions)
    _register_claims(actions)


def _register_returns(actions: argparse._SubParsersAction) -> None:
    returns = actions.add_parser("returns", help="removed parts: test, RMA, repair, scrap")
    r_actions = returns.add_subparsers(dest="return_action", required=True)
    listing = r_actions.add_parser("list", help="returns and their state")
    listing.add_argument("--open", action="store_true", help="only returns not settled")
    listing.set_defaults(func=returns_list)
    add = r_actions.add_parser("add", help="a return for a removed serial no event reported")
    add.add_argument("serial_no")
    add.add_argument("--failure-mode", default=None)
    add.set_defaults(func=returns_add)
    for name, help_text in (("nff", "tested fine: no fault found, back to stock"),
                            ("faulty", "tested: fault confirmed"),
                            ("scrap", "scrap it"),
                            ("rma", "return to the supplier under warranty"),
                            ("repair", "send to repair (repairable parts)"),
                            ("repaired", "back from repair into stock")):
        p = r_actions.add_parser(name, help=help_text)
        p.add_argument("return_id", type=return_id, metavar="RETURN")
        if name == "rma":
            p.add_argument("--rma-no", default=None, help="the supplier's RMA number")
        p.set_defaults(func=returns_step, step=name)
    credit = r_actions.add_parser("credit", help="the supplier's answer to an RMA")
    credit.add_argument("return_id", type=return_id, metavar="RETURN")
    credit.add_argument("--amount", type=float, default=None, help="default: the unit cost")
    credit.add_argument("--rejected", action="store_true")
    credit.set_defaults(func=returns_credit)
    process = r_actions.add_parser("process", help="what the flow does: register removals,"
                                   " default dispositions, repairs due")
    process.set_defaults(func=returns_process)


def _register_claims(actions: argparse._SubParsersAction) -> None:
    claims = actions.add_parser("claims", help="warranty claims")
    c_actions = claims.add_subparsers(dest="claim_action", required=True)
    listing = c_actions.add_parser("list", help="claims and their state")
    listing.set_defaults(func=claims_list)
    open_ = c_actions.add_parser("open", help="claim a failure reported by hand")
    open_.add_argument("serial_no")
    open_.add_argument("--failed-at", type=_time, required=True)
    open_.add_argument("--failure-mode", default=None)
    open_.set_defaults(func=claims_open)
    submit = c_actions.add_parser("submit", help="send a claim to the supplier")
    submit.add_argument("claim_id", type=claim_id, metavar="CLAIM")
    submit.set_defaults(func=claims_submit)
    settle = c_actions.add_parser("settle", help="the supplier's answer")
    settle.add_argument("claim_id", type=claim_id, metavar="CLAIM")
    settle.add_argument("--recovered", type=float, default=None,
                        help="default: the claimed amount")
    settle.add_argument("--rejected", action="store_true")
    settle.set_defaults(func=claims_settle)


def returns_list(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT return_no, serial_no, part_no, site_id, failure_mode, under_warranty,"
            " state, rma_no, coalesce(credit, repair_cost) FROM v_part_return"
            " WHERE NOT %s OR closed_at IS NULL ORDER BY return_id", (args.open,)).fetchall()
    table("Returns", ("return", "serial", "part", "site", "failure mode", "warranty", "state",
                       "RMA", "credit / cost"), rows)
    return 0


def returns_add(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.returns import record_return, return_no

    with connect(settings, autocommit=True) as conn:
        rid = record_return(conn, args.serial_no, failure_mode=args.failure_mode)
    print(f"{return_no(rid)}: serial {args.serial_no} returned")
    return 0


def returns_step(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service import returns

    with connect(settings, autocommit=True) as conn:
        rid = args.return_id
        if args.step in ("nff", "faulty"):
            outcome = returns.inspect_return(conn, rid, fault_found=args.step == "faulty")
        elif args.step == "scrap":
            returns.scrap_return(conn, rid)
            outcome = "scrapped"
        elif args.step == "rma":
            outcome = f"RMA {returns.open_rma(conn, rid, rma_no=args.rma_no)} opened"
        elif args.step == "repair":
            outcome = f"in repair, due {returns.send_to_repair(conn, rid):%Y-%m-%d}"
        else:
            returns.complete_repair(conn, rid)
            outcome = "repaired, back in stock"
    print(f"{returns.return_no(rid)}: {outcome}")
    return 0


def returns_credit(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.returns import close_rma, return_no

    with connect(settings, autocommit=True) as conn:
        amount = close_rma(conn, args.return_id, accepted=not args.rejected, credit=args.amount)
    print(f"{return_no(args.return_id)}: RMA {'rejected' if args.rejected else 'credited'}"
          f" ({amount})")
    return 0


def returns_process(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.returns import process_returns

    with connect(settings, autocommit=True) as conn:
        print(f"returns: {process_returns(conn)}")
    return 0


def claims_list(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT claim_no, asset_tag, serial_no, part_no, supplier, failed_at, state,"
            " claimed_amount, recovered_amount, anomaly_events FROM v_warranty_claim"
            " ORDER BY claim_id").fetchall()
    table("Warranty claims", ("claim", "asset", "serial", "part", "supplier", "failed",
                               "state", "claimed", "recovered", "anomalies"), rows)
    return 0


def claims_open(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.warranty_claims import claim_no, open_claim

    with connect(settings, autocommit=True) as conn:
        cid = open_claim(conn, args.serial_no, args.failed_at, failure_mode=args.failure_mode)
    print(f"{claim_no(cid)} opened for serial {args.serial_no}")
    return 0


def claims_submit(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.warranty_claims import claim_no, submit_claim

    with connect(settings, autocommit=True) as conn:
        submit_claim(conn, args.claim_id)
    print(f"{claim_no(args.claim_id)} submitted")
    return 0


def claims_settle(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.service.warranty_claims import claim_no, settle_claim

    with connect(settings, autocommit=True) as conn:
        amount = settle_claim(conn, args.claim_id, accepted=not args.rejected,
                              recovered=args.recovered)
    print(f"{claim_no(args.claim_id)} {'rejected' if args.rejected else 'accepted'},"
          f" {amount} recovered")
    return 0
