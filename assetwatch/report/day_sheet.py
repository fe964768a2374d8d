"""Per-technician day sheets: the visits of the next day with planned work, printable.

The day is the first day (UTC) from the report's time on which any visit is planned. Each
technician gets a block (a page of its own when printed) listing the visits in order: time,
site and its coordinates, the drive there, the work (asset, failure mode or preventive task,
deadline) and the kit to take. :func:`write_day_sheets` also writes one standalone page per
technician, ``daysheet-<technician>.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

__all__ = ["DaySheet", "load_day_sheets", "render_day_sheet", "write_day_sheets"]

_DAY = """
SELECT min((starts_at AT TIME ZONE 'UTC')::date) AS day FROM v_visit
WHERE status IN ('planned', 'started') AND starts_at >= date_trunc('day', %s::timestamptz)"""

_VISITS = """
SELECT v.visit_id, v.technician_id, v.technician_name, v.site_id, v.site_name, v.latitude,
       v.longitude, v.starts_at, v.ends_at, v.travel_minutes, v.kit,
       array_agg(w.asset_tag || ': ' || w.work
                 || CASE WHEN w.work_kind = 'preventive' THEN ' (preventive)' ELSE '' END
                 || coalesce(', due ' || to_char(w.deadline AT TIME ZONE 'UTC',
                                                 'YYYY-MM-DD HH24:MI'), '')
                 ORDER BY w.asset_tag, w.work) AS work
FROM v_visit v JOIN v_visit_work w USING (visit_id)
WHERE v.status IN ('planned', 'started') AND (v.starts_at AT TIME ZONE 'UTC')::date = %s
GROUP BY v.visit_id, v.technician_id, v.technician_name, v.site_id, v.site_name, v.latitude,
         v.longitude, v.starts_at, v.ends_at, v.travel_minutes, v.kit
ORDER BY v.technician_id, v.starts_at"""


@dataclass
class DaySheet:
    """One technician's planned visits on ``day``."""

    technician_id: str
    technician_name: str
    day: date
    visits: list[dict[str, Any]] = field(default_factory=list)


def load_day_sheets(conn: psycopg.Connection, at: datetime) -> list[DaySheet]:
    """The day sheets of the first day from ``at`` with planned visits (none: empty)."""
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(_DAY, (at,)).fetchone()
    if row is None or row["day"] is None:
        return []
    sheets: dict[str, DaySheet] = {}
    for visit in cur.execute(_VISITS, (row["day"],)):
        sheet = sheets.setdefault(visit["technician_id"], DaySheet(
            visit["technician_id"], visit["technician_name"], row["day"]))
        sheet.visits.append(visit)
    return list(sheets.values())


def render_day_sheet(sheet: DaySheet) -> str:
    """One technician's block: a heading and the visits table."""
    rows = []
    for v in sheet.visits:
        kit = "<br>".join(f"{int(i['qty'])} &times; {escape(str(i['part_no']))}"
                          for i in v["kit"]) or "&ndash;"
        where = (f"{v['latitude']:.4f}, {v['longitude']:.4f}"
                 if v["latitude"] is not None else "")
        rows.append(
            f"<tr><td>{v['starts_at']:%H:%M}&ndash;{v['ends_at']:%H:%M}</td>"
            f"<td><b>{escape(v['site_name'])}</b> ({escape(v['site_id'])})<br>"
            f'<span class="muted">{where}</span></td>'
            f'<td class="num">{v["travel_minutes"]:.0f}</td>'
            f"<td>{'<br>'.join(escape(w) for w in v['work'])}</td><td>{kit}</td>"
            "<td>&#9744;</td></tr>")
    return (f'<div class="daysheet"><h3>{escape(sheet.technician_name)} '
            f'<span class="muted">({escape(sheet.technician_id)}), '
            f"{sheet.day:%A %Y-%m-%d}</span></h3>"
            "<table><thead><tr><th>time (UTC)</th><th>site</th><th>drive (min)</th>"
            "<th>work</th><th>kit</th><th>done</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def write_day_sheets(sheets: list[DaySheet], out_dir: Path, css: str) -> list[Path]:
    """One standalone printable page per technician; return the paths."""
    paths = []
    for sheet in sheets:
        path = out_dir / f"daysheet-{sheet.technician_id}.html"
        path.write_text(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Day sheet {escape(sheet.technician_id)} {sheet.day}</title>"
            f"<style>{css}</style></head><body>{render_day_sheet(sheet)}</body></html>\n",
            encoding="utf-8")
        paths.append(path)
    return paths
