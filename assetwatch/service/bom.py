"""The bill of materials with kits exploded, and planned-maintenance demand.

Kits are phantom assemblies: a kit in the BOM stands for its parts, recursively (the loader
rejects cycles), and demand, stock and inventory policies are kept for those parts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
import psycopg

__all__ = ["explode", "exploded_bom", "kit_contents", "planned_demand", "repair_kit"]


def kit_contents(conn: psycopg.Connection) -> dict[str, dict[str, int]]:
    """kit part number -> {part number: quantity}, one level."""
    kits: dict[str, dict[str, int]] = defaultdict(dict)
    for kit, part_no, qty in conn.execute("SELECT kit_part_no, part_no, qty FROM kit_item"):
        kits[kit][part_no] = qty
    return dict(kits)


def explode(part_no: str, qty: int, kits: dict[str, dict[str, int]],
            _depth: int = 0) -> dict[str, int]:
    """The stocked parts (and quantities) that ``qty`` of ``part_no`` stands for."""
    if part_no not in kits:
        return {part_no: qty}
    if _depth > 20:
        raise ValueError(f"kit {part_no!r} nests too deep (a cycle?)")
    out: dict[str, int] = defaultdict(int)
    for child, child_qty in kits[part_no].items():
        for leaf, leaf_qty in explode(child, child_qty, kits, _depth + 1).items():
            out[leaf] += qty * leaf_qty
    return dict(out)


def exploded_bom(conn: psycopg.Connection) -> dict[tuple[str, str], dict[str, int]]:
    """(model_id, component_type) -> {stocked part number: quantity per replacement}."""
    kits = kit_contents(conn)
    bom: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for model_id, component_type, part_no, qty in conn.execute(
            "SELECT model_id, component_type, part_no, qty FROM bom_item"):
        for leaf, leaf_qty in explode(part_no, qty, kits).items():
            bom[(model_id, component_type)][leaf] += leaf_qty
    return {key: dict(parts) for key, parts in bom.items()}


def repair_kit(conn: psycopg.Connection, model_id: str, component_type: str,
               failure_mode: str | None = None) -> list[dict[str, object]]:
    """What a technician takes for a first-time fix of ``component_type`` on ``model_id``:
    the component's bill of materials plus the parts of the diagnosed ``failure_mode`` it
    lacks (master data ``failure_mode_parts``), as ``[{"part_no", "qty", "description",
    "kit"}]`` with kits exploded (``kit`` names the kit a part came from, or is None)."""
    kits = kit_contents(conn)
    descriptions: dict[str, str] = dict(
        conn.execute("SELECT part_no, description FROM part").fetchall())
    items: list[dict[str, object]] = []
    carried: set[str] = set()

    def add(rows: list[tuple[str, int]], *, once: bool) -> None:
        for part_no, qty in rows:
            source = part_no if part_no in kits else None
            for leaf, leaf_qty in sorted(explode(part_no, qty, kits).items()):
                if once and leaf in carried:
                    continue
                carried.add(leaf)
                items.append({"part_no": leaf, "qty": leaf_qty,
                              "description": descriptions.get(leaf), "kit": source})

    add(conn.execute(
        "SELECT b.part_no, b.qty FROM bom_item b WHERE b.model_id = %s AND b.component_type = %s"
        " ORDER BY b.part_no", (model_id, component_type)).fetchall(), once=False)
    if failure_mode is not None:   # the mode's parts the bill of materials lacks
        add(conn.execute("SELECT part_no, qty FROM failure_mode_part WHERE model_id = %s"
                         " AND failure_mode = %s ORDER BY part_no",
                         (model_id, failure_mode)).fetchall(), once=True)
    return items


def planned_demand(conn: psycopg.Connection, as_of: datetime,
                   windows: list[tuple[float, float]]) -> dict[tuple[str, str], np.ndarray]:
    """(part_no, site_id) -> planned quantity in each window ``[as_of + a, as_of + b)`` (days).

    Each asset of a model with a maintenance plan does each task every ``interval_days``,
    counted from the last ``maintenance`` event with that task as its code, else from the
    commissioning date; with neither, the expected number of services is spread evenly.
    Tasks planned by run hours or starts alone are left out here: their work orders
    (:mod:`assetwatch.service.field.pm`) carry their kits.
    """
    kits = kit_contents(conn)
    rows = conn.execute(
        """
        SELECT a.asset_id, a.site_id, mp.task, mp.interval_days, mp.part_no, mp.qty,
               coalesce(last.time, a.commissioned_on::timestamptz)
        FROM maintenance_plan mp
        JOIN asset a ON a.model_id = mp.model_id
        LEFT JOIN LATERAL (
            SELECT max(e.time) AS time FROM asset_event e
            WHERE e.asset_id = a.asset_id AND e.kind = 'maintenance' AND e.code = mp.task
              AND e.time <= %s) last ON true
        WHERE mp.interval_days IS NOT NULL
        """, (as_of,)).fetchall()
    out: dict[tuple[str, str], np.ndarray] = {}
    for _asset_id, site_id, _task, interval, part_no, qty, last in rows:
        counts = np.array([_services(as_of, last, interval, a, b) for a, b in windows])
        for leaf, leaf_qty in explode(part_no, qty, kits).items():
            key = (leaf, site_id)
            out[key] = out.get(key, np.zeros(len(windows))) + counts * leaf_qty
    return out


def _services(as_of: datetime, last: datetime | None, interval: int, a: float,
              b: float) -> float:
    if last is None:
        return (b - a) / interval
    start, end = as_of + timedelta(days=a), as_of + timedelta(days=b)
    elapsed_start = (start - last).total_seconds() / 86400.0
    elapsed_end = (end - last).total_seconds() / 86400.0
    # services happen at last + m * interval for m >= 1; count those in [start, end)
    first = max(1, int(np.ceil(elapsed_start / interval)))
    last_m = int(np.ceil(elapsed_end / interval)) - 1
    return float(max(0, last_m - first + 1))
