"""The ``assetwatch demo`` command line (cheap to import)."""

from __future__ import annotations

import argparse
from pathlib import Path

from assetwatch.core.settings import Settings
from assetwatch.demo.options import DemoOptions

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="run the whole pipeline on a simulated fleet")
    defaults = DemoOptions()
    demo.add_argument("--sites", type=int, default=defaults.sites)
    demo.add_argument("--assets-per-site", type=int, default=defaults.assets_per_site)
    demo.add_argument("--days", type=float, default=defaults.days,
                      help="simulated days of history, ending now (default %(default)s)")
    demo.add_argument("--sample-interval", type=int, default=defaults.sample_interval_s,
                      help="simulated seconds between samples of an asset (default %(default)s)")
    demo.add_argument("--seed", type=int, default=defaults.seed)
    demo.add_argument("--ingest-workers", type=int, default=defaults.ingest_workers)
    demo.add_argument("--out", type=Path, default=None,
                      help="where dashboards and the report go (default: <data dir>/out/demo)")
    demo.set_defaults(func=_command)


def _command(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.demo.pipeline import run_demo
    from assetwatch.demo.summary import print_summary

    options = DemoOptions(
        sites=args.sites, assets_per_site=args.assets_per_site, days=args.days,
        sample_interval_s=args.sample_interval, seed=args.seed,
        ingest_workers=args.ingest_workers, out_dir=args.out,
    )
    print_summary(run_demo(settings, options))
    return 0
