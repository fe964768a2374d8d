"""``assetwatch edge config show|set|push ASSET`` and ``assetwatch alerts run|list``.

Registered under the ``edge`` command group (:mod:`assetwatch.edge_agent.commands` makes the
group; this module adds the server-side commands to it, so the gateway package never imports
server code). Cheap to import.
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import Any

from assetwatch.core.settings import Settings

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    _register_config(commands)
    _register_alerts(commands)


def _register_config(commands: argparse._SubParsersAction) -> None:
    edge = commands.choices["edge"]
    config = edge.edge_commands.add_parser(  # type: ignore[attr-defined]
        "config", help="remote configuration of an asset's agent, from the server")
    actions = config.add_subparsers(dest="config_action", required=True)
    show = actions.add_parser("show", help="desired and reported configuration, and drift")
    show.add_argument("asset")
    show.set_defaults(func=_show)
    set_ = actions.add_parser(
        "set", help="check and store a desired configuration (KEY=VALUE ... or --file)")
    set_.add_argument("asset")
    set_.add_argument("values", nargs="*", metavar="KEY=VALUE",
                      help="e.g. sampling_interval_s=60 'sensors_enabled=[\"flow\"]' "
                           "(values are JSON; bare words are strings)")
    set_.add_argument("--file", type=Path, default=None, help="a JSON configuration document")
    set_.add_argument("--push", action="store_true", help="publish it right away")
    set_.set_defaults(func=_set)
    push = actions.add_parser("push", help="publish the desired configuration (retained)")
    push.add_argument("asset")
    push.set_defaults(func=_push)


def _register_alerts(commands: argparse._SubParsersAction) -> None:
    alerts = commands.add_parser("alerts", help="evaluate the alert rules and notify people")
    alert_actions = alerts.add_subparsers(dest="alerts_action", required=True)
    alert_actions.add_parser("run", help="connectivity tickets for silent assets, then "
                                         "evaluate the rules once and send what is due "
                                         "(webhook, e-mail)").set_defaults(func=_alerts_run)
    alert_actions.add_parser("list", help="the open alerts").set_defaults(func=_alerts_list)


def _alerts_run(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.fleet.connectivity import run_connectivity
    from assetwatch.fleet.errors import FleetError
    from assetwatch.fleet.notifier import run_alerts

    tickets = run_connectivity(settings)
    print(f"connectivity tickets: {tickets.opened} opened, {tickets.closed} closed, "
          f"{tickets.open_tickets} open")
    report = run_alerts(settings)
    print(f"alerts: {report.opened} opened, {report.resolved} resolved, {report.open_alerts} "
          f"open; notifications {report.delivered} delivered, {report.failed} failed")
    if report.failed:
        raise FleetError(f"{report.failed} notification(s) failed (kept in "
                         f"notification_delivery): {report.errors[0]}")
    return 0


def _alerts_list(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect

    with connect(settings) as conn:
        rows = conn.execute("SELECT severity, rule_uid, subject, value, first_seen_at,"
                            " notifications FROM v_alert WHERE is_open"
                            " ORDER BY severity, first_seen_at").fetchall()
    print(f"{'severity':<10}{'rule':<22}{'subject':<34}{'value':>10}  since")
    for severity, uid, subject, value, since, _ in rows:
        print(f"{severity:<10}{uid:<22}{subject:<34}{value:>10.3g}  {since:%Y-%m-%d %H:%M}")
    return 0


def _document(args: argparse.Namespace) -> dict[str, Any]:
    from assetwatch.fleet.errors import FleetError

    doc: dict[str, Any] = {}
    if args.file is not None:
        try:
            loaded = json.loads(args.file.read_text())
        except OSError as e:
            raise FleetError(f"cannot read {args.file} ({e.strerror})") from None
        except ValueError as e:
            raise FleetError(f"{args.file}: not valid JSON ({e})") from None
        if not isinstance(loaded, dict):
            raise FleetError(f"{args.file}: must be a JSON object")
        doc.update(loaded)
    for item in args.values:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise FleetError(f"{item!r}: expected KEY=VALUE")
        try:
            doc[key] = json.loads(text)
        except ValueError:
            doc[key] = text
    return doc


def _set(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.fleet.remote_config import push, set_desired

    with connect(settings) as conn:
        digest = set_desired(conn, args.asset, _document(args), set_by=getpass.getuser())
        print(f"{args.asset}: desired configuration {digest} stored")
        if args.push:
            push(settings, conn, args.asset)
            print(f"{args.asset}: published (retained) on its config topic")
    return 0


def _push(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.fleet.remote_config import push

    with connect(settings) as conn:
        digest = push(settings, conn, args.asset)
    print(f"{args.asset}: desired configuration {digest} published (retained)")
    return 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.db import connect
    from assetwatch.fleet.remote_config import show

    with connect(settings) as conn:
        state = show(conn, args.asset)
    print(f"asset     {state.asset_tag}")
    print(f"desired   {json.dumps(state.desired, sort_keys=True) if state.desired else '-'}"
          f"  (hash {state.desired_hash or '-'}, pushed {state.pushed_at or 'not yet'})")
    print(f"reported  {state.reported_state or '-'}"
          f"{': ' + state.reason if state.reason else ''}  (active hash "
          f"{state.active_hash or '-'}, at {state.reported_at or '-'})")
    print(f"drift     {'YES' if state.drift else 'no'}")
    return 0
