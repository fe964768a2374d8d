"""``python -m assetwatch.edge_agent edge ...``: the edge commands alone, for gateways.

The full ``assetwatch`` command line loads every stage's commands (and with them server-side
packages); on a gateway with only paho-mqtt installed use this entry point instead. It takes
the same arguments as ``assetwatch edge``: ``python -m assetwatch.edge_agent run --config F``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from assetwatch.edge_agent import commands
from assetwatch.errors import AssetwatchError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assetwatch.edge_agent")
    parser.add_argument("-v", "--verbose", action="store_true")
    top = parser.add_subparsers(dest="command", required=True)
    commands.register(top)
    given = list(argv if argv is not None else sys.argv[1:])
    flags = [a for a in given if a in ("-v", "--verbose")]
    args = parser.parse_args([*flags, "edge", *(a for a in given if a not in flags)])
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(None, args) or 0)
    except AssetwatchError as e:
        print(f"assetwatch: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
