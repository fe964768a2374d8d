"""The demo's field crew: site coordinates, three technicians, a dispatch plan, a close-out.

The crew is master data like any other (written as CSV files and loaded with the master-data
loader): two day-shift technicians (06:00-18:00 every day) and one on call at night, based
around the demo's sites, which get coordinates and contract clocks (response 8 h, restore
48 h). Then the dispatch flow plans the open work, and the first visit whose parts are on
the shelf is closed out with its kit used but one part, which goes back to stock.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.service.errors import ServiceError

__all__ = ["plan_with_crew"]

_CREW = (("T1", "Alex Morgan", "North depot", "06:00", "18:00"),
         ("T2", "Sam Rivera", "South depot", "06:00", "18:00"),
         ("T3", "Kim Novak", "On call", "18:00", "23:59"),
         ("T3", "Kim Novak", "On call", "00:00", "06:00"))


def _place(rng: random.Random) -> str:
    return f"{48 + rng.uniform(0, 1):.4f},{11 + rng.uniform(0, 1.5):.4f}"


def _write_crew(conn: psycopg.Connection, folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    sites = conn.execute("SELECT site_id, name, sla_hours FROM site ORDER BY site_id").fetchall()
    (folder / "sites.csv").write_text(
        "site_id,name,sla_hours,latitude,longitude,response_hours,restore_hours\n" + "".join(
            f"{s},{name},{sla},{_place(rng)},8,48\n" for s, name, sla in sites))
    models = ";".join(r[0] for r in conn.execute(
        "SELECT model_id FROM asset_model ORDER BY model_id"))
    people = {t[0]: t for t in _CREW}
    (folder / "technicians.csv").write_text(
        "technician_id,name,home_base,home_latitude,home_longitude,skills\n" + "".join(
            f"{who},{name},{base},{_place(rng)},{models}\n"
            for who, name, base, *_ in people.values()))
    (folder / "technician_shifts.csv").write_text(
        "technician_id,weekday,starts,ends\n" + "".join(
            f"{who},{day},{starts},{ends}\n" for who, _, _, starts, ends in _CREW
            for day in range(1, 8)))


def plan_with_crew(demo: Settings, seed: int) -> tuple[dict[str, object], str | None]:
    """Load the crew, run the dispatch flow, close out the first visit; return the plan's
    figures and what the close-out did."""
    from assetwatch.flows.dispatch import dispatch_flow
    from assetwatch.service.field.closeout import close_visit
    from assetwatch.service.masterdata_load import load_masterdata

    with connect(demo, autocommit=True) as conn, tempfile.TemporaryDirectory() as folder:
        _write_crew(conn, Path(folder), seed)
        load_masterdata(conn, Path(folder))
    result = dispatch_flow()
    with connect(demo, autocommit=True) as conn:
        visits = conn.execute("SELECT visit_id, kit FROM v_visit WHERE status = 'planned'"
                              " ORDER BY starts_at, visit_id LIMIT 5").fetchall()
        for visit_id, kit in visits:  # the first whose parts are on the shelf
            used = {str(i["part_no"]): int(i["qty"]) for i in kit}
            if used:
                spare = sorted(used)[-1]
                used[spare] -= 1
            try:
                done = close_visit(conn, visit_id, on_site_minutes=75, parts_used=used,
                                   note="closed in the demo by the field technician")
            except ServiceError:
                continue
            return result, str(done)
    return result, None
