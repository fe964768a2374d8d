"""Write a generated workload (:mod:`assetwatch.bench.dispatch_world`) into a database, so
``bench dispatch`` plans it through the product's own path (views, jobs, solver, storage).

Each work item gets an asset of its own at its site (so tickets never collide on the
one-open-ticket rule): breakdowns and predicted failures become tickets (a breakdown's
``respond_by`` is its deadline; sites promise 30 days otherwise, so a predicted failure's
deadline is its due date), preventive work becomes work orders. A kit holds one stocked
part, plus one never stocked part with a lead time of 1, 2 or 3 days when the item waits
for parts.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.bench.dispatch_world import MODELS, Workload

__all__ = ["load_workload"]


def load_workload(conn: psycopg.Connection, world: Workload) -> None:
    """Insert sites, crew, assets, tickets and work orders of ``world`` (empty database)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("INSERT INTO site (site_id, name, latitude, longitude, response_hours)"
                        " VALUES (%s, %s, %s, %s, 720)",
                        [(s, s, lat, lon) for s, (lat, lon) in world.sites.items()])
        cur.executemany("INSERT INTO asset_model (model_id, kind) VALUES (%s, 'machine')",
                        [(m,) for m in MODELS])
        modes = {mode: minutes for by_mode in MODELS.values() for mode, minutes in
                 by_mode.items()}
        cur.executemany("INSERT INTO component_type (component_type) VALUES (%s)",
                        [(mode,) for mode in modes])
        cur.executemany("INSERT INTO failure_mode (failure_mode, component_type,"
                        " repair_minutes) VALUES (%s, %s, %s)",
                        [(mode, mode, minutes) for mode, minutes in modes.items()])
        cur.execute("INSERT INTO part (part_no, description, unit_cost, default_lead_time_days)"
                    " VALUES ('P-STOCK', 'stocked part', 10, 2), ('P-1D', 'from the hub', 10,"
                    " 1), ('P-2D', 'from the hub', 10, 2), ('P-3D', 'from the hub', 10, 3)")
        cur.executemany("INSERT INTO stock (part_no, site_id, on_hand) VALUES ('P-STOCK', %s,"
                        " 1000)", [(s,) for s in world.sites])
        _crew(cur, world)
        for n, item in enumerate(world.items):
            asset = cur.execute("INSERT INTO asset (asset_tag, site_id, model_id) VALUES"
                                " (%s, %s, %s) RETURNING asset_id",
                                (f"A{n:04d}", item.site_id, item.model_id)).fetchone()
            assert asset is not None
            kit = [{"part_no": "P-STOCK", "qty": 1}] + (
                [{"part_no": f"P-{int(item.parts_days)}D", "qty": 1}] if item.parts_days
                else [])
            if item.failure_mode is None:
                cur.execute("INSERT INTO pm_work_order (asset_id, task, basis, due_at, kit,"
                            " duration_minutes, opened_at) VALUES (%s, 'service', 'days', %s,"
                            " %s, %s, %s)", (asset[0], item.deadline, Jsonb(kit),
                                             item.minutes, item.opened_at))
            else:
                cur.execute("INSERT INTO service_ticket (asset_id, failure_mode, priority, risk,"
                            " due_at, opened_at, updated_at, kit, opened_by, respond_by)"
                            " VALUES (%s, %s, 2, 0.8, %s, %s, %s, %s, %s, %s)",
                            (asset[0], item.failure_mode,
                             None if item.sla else item.deadline, item.opened_at,
                             item.opened_at, Jsonb(kit),
                             "bench-breakdown" if item.sla else "bench-predicted",
                             item.deadline if item.sla
                             else item.opened_at + timedelta(days=30)))


def _crew(cur: psycopg.Cursor, world: Workload) -> None:
    for t in world.crew:
        cur.execute("INSERT INTO technician (technician_id, name, home_base, home_latitude,"
                    " home_longitude, timezone) VALUES (%s, %s, 'home', %s, %s, %s)",
                    (t.technician_id, t.name, *t.home, t.timezone))
        cur.executemany("INSERT INTO technician_skill (technician_id, model_id, failure_mode)"
                        " VALUES (%s, %s, %s)", [(t.technician_id, m, f) for m, f in t.skills])
        cur.executemany("INSERT INTO technician_shift (technician_id, weekday, starts, ends)"
                        " VALUES (%s, %s, %s, %s)",
                        [(t.technician_id, *shift) for shift in t.shifts])
        cur.executemany("INSERT INTO technician_absence (technician_id, first_day, last_day)"
                        " VALUES (%s, %s, %s)", [(t.technician_id, *a) for a in t.absences])
