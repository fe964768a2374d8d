"""``assetwatch flows serve`` and ``assetwatch flows run NAME [-p KEY=VALUE ...]``.

The flows themselves live one per module in :mod:`assetwatch.flows`; :data:`FLOWS` maps each
name to ``"module:function"`` and its default schedule (cron), so this module stays cheap to
import and the Prefect import happens only when a flow runs.

Prefect runs against ``ASSETWATCH_PREFECT_API_URL`` when set (a ``prefect server start``),
else against a temporary local server that Prefect starts by itself; either way nothing
outside this machine is needed. :func:`prefect_environment` keeps Prefect's state under
``<data_dir>/prefect`` and its console logs at warnings.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.errors import AssetwatchError

__all__ = ["FLOWS", "FlowError", "load_flow", "prefect_environment", "register"]

#: name -> (import path of the flow function, default cron schedule)
FLOWS: dict[str, tuple[str, str]] = {
    "train": ("assetwatch.flows.train:train_flow", "0 3 * * 0"),
    "score": ("assetwatch.flows.score:score_flow", "0 * * * *"),
    "demand": ("assetwatch.flows.demand:demand_flow", "30 * * * *"),
    "tickets": ("assetwatch.flows.tickets:tickets_flow", "15 * * * *"),
    "replenish": ("assetwatch.flows.replenish:replenish_flow", "20 * * * *"),
    "housekeeping": ("assetwatch.flows.housekeeping:housekeeping_flow", "0 2 * * *"),
    "pipeline": ("assetwatch.flows.pipeline:pipeline_flow", "45 * * * *"),
    "alerts": ("assetwatch.flows.alerts:alerts_flow", "* * * * *"),
    "dispatch": ("assetwatch.flows.dispatch:dispatch_flow", "0 5 * * *"),
}


class FlowError(AssetwatchError):
    """A flow is unknown or failed."""


def prefect_environment(settings: Settings, *, verbose: bool = False) -> None:
    """Set Prefect's environment before Prefect is imported (existing variables win)."""
    if "PREFECT_HOME" not in os.environ:
        home = (settings.data_dir / "prefect").resolve()
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
    if settings.prefect_api_url:
        os.environ["PREFECT_API_URL"] = settings.prefect_api_url
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    if not verbose:  # the API client logs every request at INFO
        logging.getLogger("httpx").setLevel(logging.WARNING)


def load_flow(name: str) -> Any:
    """The Prefect flow object called ``name``."""
    if name not in FLOWS:
        raise FlowError(f"unknown flow {name!r}; choose one of {', '.join(FLOWS)}")
    module_name, _, attr = FLOWS[name][0].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == module_name:
            raise FlowError(f"flow {name!r} is not installed ({module_name})") from None
        raise
    return getattr(module, attr)


def register(commands: argparse._SubParsersAction) -> None:
    flows = commands.add_parser("flows", help="run or serve the Prefect flows")
    actions = flows.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run one flow now")
    run.add_argument("name", choices=sorted(FLOWS))
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a flow parameter (VALUE is JSON, else a string); repeatable")
    run.set_defaults(func=run_flow)
    serve = actions.add_parser("serve", help="serve every flow on its schedule (Ctrl-C stops)")
    serve.add_argument("--only", action="append", choices=sorted(FLOWS),
                       help="serve only these flows (repeatable)")
    serve.set_defaults(func=serve_flows)


def _parameters(pairs: list[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FlowError(f"bad parameter {pair!r}: expected KEY=VALUE")
        try:
            parameters[key] = json.loads(value)
        except json.JSONDecodeError:
            parameters[key] = value
    return parameters


def run_flow(settings: Settings, args: argparse.Namespace) -> int:
    prefect_environment(settings, verbose=getattr(args, "verbose", False))
    parameters = _parameters(args.param)
    flow = load_flow(args.name)
    try:
        result = flow(**parameters)
    except AssetwatchError:
        raise
    except Exception as e:  # a failed flow run: one line, the cause named
        raise FlowError(f"flow {args.name} failed: {type(e).__name__}: {e}") from e
    print(f"flow {args.name}: {json.dumps(result, default=str)}")
    return 0


def serve_flows(settings: Settings, args: argparse.Namespace) -> int:
    prefect_environment(settings, verbose=getattr(args, "verbose", False))
    from prefect import serve

    names = args.only or list(FLOWS)
    deployments = []
    for name in names:
        try:
            flow = load_flow(name)
        except FlowError as e:
            print(f"assetwatch: skipping {e}")
            continue
        deployments.append(flow.to_deployment(name=name, cron=FLOWS[name][1]))
    if not deployments:
        raise FlowError("no flow to serve")
    print(f"serving {len(deployments)} flows: "
          + ", ".join(f"{d.name} ({FLOWS[d.name][1]})" for d in deployments))
    serve(*deployments, print_starting_message=False)
    return 0
