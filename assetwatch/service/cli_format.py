"""Small helpers of the ``parts`` commands: document numbers and result tables."""

from __future__ import annotations

import argparse
import re
from typing import Any

__all__ = ["number", "table"]


def number(text: str, prefix: str, what: str) -> int:
    match = re.fullmatch(rf"(?:{prefix}-)?0*(\d+)", text.strip(), flags=re.IGNORECASE)
    if match is None:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}")
    return int(match[1])


def table(title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*("" if v is None else f"{v:%Y-%m-%d %H:%M}" if hasattr(v, "hour")
                        else str(v) for v in row))
    Console().print(table)
