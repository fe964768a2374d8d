"""The ``assetwatch`` command line.

Each stage registers its own sub-commands from a ``commands`` module that imports nothing heavy
at module level. Expected failures (:class:`~assetwatch.errors.AssetwatchError`) print one line
and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from assetwatch import __version__
from assetwatch.errors import AssetwatchError

__all__ = ["main"]

_COMMAND_MODULES = (
    "assetwatch.stack.commands",
    "assetwatch.edge_agent.commands",
    "assetwatch.fleet.commands",
    "assetwatch.ingest.commands",
    "assetwatch.models.commands",
    "assetwatch.models.registry_commands",
    "assetwatch.flows.commands",
    "assetwatch.service.commands",
    "assetwatch.service.parts_commands",
    "assetwatch.service.field.commands",
    "assetwatch.dashboards.commands",
    "assetwatch.report.commands",
    "assetwatch.demo",
    "assetwatch.bench.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assetwatch",
        description="Remote asset monitoring and predictive maintenance pipeline.",
    )
    parser.add_argument("--version", action="version", version=f"assetwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if getattr(args, "edge_only", False):
            return int(args.func(None, args) or 0)
        from assetwatch.core.settings import load_settings

        return int(args.func(load_settings(), args) or 0)
    except AssetwatchError as e:
        print(f"assetwatch: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("assetwatch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
