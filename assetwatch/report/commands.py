"""``assetwatch report``: write the static HTML report (cheap to import)."""

from __future__ import annotations

import argparse
from pathlib import Path

from assetwatch.core.settings import Settings

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="write the static HTML report")
    report.add_argument("--out", type=Path, default=None,
                        help="folder to write (default <data_dir>/out/report)")
    report.set_defaults(func=write_report)


def write_report(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.report import write_report as write

    path = write(settings, args.out or settings.output_dir / "report")
    print(f"report: {path.resolve()}")
    return 0
