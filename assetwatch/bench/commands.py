"""``assetwatch bench NAME``: benchmark commands that print their measured figures.

Each benchmark lives in its own module ``assetwatch.bench.<name>`` exposing
``register(benches)``; this module only collects them (cheaply: the modules import their
heavy dependencies inside the handlers).
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["register"]

_BENCHMARKS = ("edge", "ingest", "detect", "skab", "rul", "pdm", "service", "dispatch")


def register(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="run a benchmark and print its figures")
    benches = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name in _BENCHMARKS:
        qualified = f"assetwatch.bench.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as e:
            if e.name == qualified:
                continue
            raise
        module.register(benches)
