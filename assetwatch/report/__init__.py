"""The static HTML report: fleet health, the riskiest assets with plots, parts demand, the
technicians' day sheets.

:func:`write_report` reads the ``v_*`` views and writes ``index.html`` (charts as inline SVG,
no external files or scripts), so the report opens in any browser without Grafana, and one
printable ``daysheet-<technician>.html`` per technician with planned visits.
"""

from __future__ import annotations

from pathlib import Path

from assetwatch.core.settings import Settings

__all__ = ["write_report"]


def write_report(settings: Settings, out_dir: Path) -> Path:
    """Write ``out_dir/index.html`` from the database in ``settings``; return its path."""
    from assetwatch.core.db import connect
    from assetwatch.report.day_sheet import write_day_sheets
    from assetwatch.report.page import CSS, render_report
    from assetwatch.report.queries import load_report_data

    with connect(settings) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        data = load_report_data(conn)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    path.write_text(render_report(data), encoding="utf-8")
    write_day_sheets(data.day_sheets, out_dir, CSS)
    return path
