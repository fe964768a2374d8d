"""``assetwatch flows serve`` and ``assetwatch flows run NAME``.

The flows themselves live one per module in :mod:`assetwatch.flows`; :data:`FLOWS` maps each
name to ``"module:function"`` and its default schedule (cron), so this module stays cheap to
import and the Prefect import happens only when a flow runs.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.errors import AssetwatchError

__all__ = ["FLOWS", "load_flow", "register"]

#: name -> (import path of the flow function, default cron schedule)
FLOWS: dict[str, tuple[str, str]] = {
    "train": ("assetwatch.flows.train:train_flow", "0 3 * * 0"),
    "score": ("assetwatch.flows.score:score_flow", "0 * * * *"),
    "demand": ("assetwatch.flows.demand:demand_flow", "30 * * * *"),
    "tickets": ("assetwatch.flows.tickets:tickets_flow", "15 * * * *"),
    "housekeeping": ("assetwatch.flows.housekeeping:housekeeping_flow", "0 2 * * *"),
}


class FlowError(AssetwatchError):
    """A flow is unknown or failed."""


def load_flow(name: str) -> Any:
    """The Prefect flow object called ``name``."""
    if name not in FLOWS:
        raise FlowError(f"unknown flow {name!r}; choose one of {', '.join(FLOWS)}")
    module_name, _, attr = FLOWS[name][0].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def register(commands: argparse._SubParsersAction) -> None:
    flows = commands.add_parser("flows", help="run or serve the Prefect flows")
    actions = flows.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run one flow now")
    run.add_argument("name", choices=sorted(FLOWS))
    run.set_defaults(func=run_flow)
    serve = actions.add_parser("serve", help="serve every flow on its schedule (Ctrl-C stops)")
    serve.set_defaults(func=serve_flows)


def run_flow(settings: Settings, args: argparse.Namespace) -> int:
    flow = load_flow(args.name)
    result = flow()
    print(f"flow {args.name}: {result}")
    return 0


def serve_flows(settings: Settings, args: argparse.Namespace) -> int:
    from prefect import serve

    deployments = [load_flow(name).to_deployment(name=name, cron=cron)
                   for name, (_, cron) in FLOWS.items()]
    serve(*deployments)
    return 0
