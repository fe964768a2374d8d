"""A large synthetic installed base for timing the demand computation (no simulator needed).

:func:`seed_scale` registers ``assets`` assets of the sample models over ``sites`` sites, loads
the sample master data plus extra consumable parts so the BOM names ``part_numbers`` stocked
part numbers, and stores one prediction per asset, component and horizon (Weibull-shaped
probabilities with random ages). Everything is written by COPY in a few seconds.
"""

from __future__ import annotations

import math
import random
import tempfile
from datetime import datetime
from pathlib import Path

import psycopg
import yaml

from assetwatch.service.bom import exploded_bom
from assetwatch.service.masterdata_load import load_masterdata, sample_path

__all__ = ["seed_scale"]

_LIFE = {"bearing": (2.2, 260.0), "mechanical_seal": (1.8, 300.0), "impeller": (3.0, 600.0),
         "motor": (2.5, 950.0), "inlet_valve": (1.9, 260.0), "oil_separator": (2.8, 200.0)}
HORIZONS = (7, 30, 90)


def seed_scale(conn: psycopg.Connection, *, assets: int, sites: int, part_numbers: int,
               as_of: datetime, seed: int = 1) -> int:
    """Seed the database; return the number of distinct stocked part numbers in the BOM."""
    rng = random.Random(seed)
    site_ids = [f"site-{i:02d}" for i in range(1, sites + 1)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO site (site_id, name, sla_hours) VALUES (%s, %s, %s)",
                        [(s, f"Site {s}", rng.choice((24, 48, 72))) for s in site_ids])
    load_masterdata(conn, sample_path(), skip_unknown_sites=True)
    _extra_parts(conn, part_numbers)
    models = [("CP-200" if rng.random() < 0.6 else "SC-75") for _ in range(assets)]
    with conn.cursor() as cur, cur.copy(
            "COPY asset (asset_tag, site_id, model_id, criticality) FROM STDIN") as copy:
        for i, model in enumerate(models):
            copy.write_row((f"X{i:06d}", site_ids[i % sites], model, rng.choice((1, 2, 2, 3))))
    mv = conn.execute("INSERT INTO model_version (model_name, version, is_current) VALUES"
                      " ('failure-risk', 1, true) RETURNING model_version_id").fetchone()
    assert mv is not None
    components = {m: sorted(c for mm, c in exploded_bom(conn) if mm == m)
                  for m in ("CP-200", "SC-75")}
    ids = conn.execute("SELECT asset_id, model_id FROM asset ORDER BY asset_id").fetchall()
    with conn.cursor() as cur, cur.copy(
            "COPY failure_prediction (predicted_at, asset_id, component_type, horizon_days,"
            " failure_probability, rul_days, rul_low_days, rul_high_days, model_version_id)"
            " FROM STDIN") as copy:
        for asset_id, model in ids:
            for component in components[model]:
                beta, eta = _LIFE.get(component, (2.0, 400.0))
                age = rng.uniform(0, eta * 1.2)
                survive = math.exp(-((age / eta) ** beta))
                rul = max(1.0, eta * (1.0 - 0.5 * rng.random()) - age * 0.5)
                for h in HORIZONS:
                    later = math.exp(-(((age + h) / eta) ** beta))
                    p = min(1.0, max(0.0, 1.0 - later / max(survive, 1e-12)))
                    copy.write_row((as_of, asset_id, component, h, p, rul, 0.6 * rul,
                                    1.5 * rul, mv[0]))
    return len({p for parts in exploded_bom(conn).values() for p in parts})


def _extra_parts(conn: psycopg.Connection, part_numbers: int) -> None:
    stocked = {p for parts in exploded_bom(conn).values() for p in parts}
    extra = max(0, part_numbers - len(stocked))
    if not extra:
        return
    pairs = sorted(exploded_bom(conn))
    doc = {
        "parts": [{"part_no": f"CONS-{i:03d}", "description": f"Consumable {i}",
                   "unit_cost": 5 + i, "lead_time_days": 3 + i % 20} for i in range(extra)],
        "bom": [{"model_id": pairs[i % len(pairs)][0], "component_type": pairs[i % len(pairs)][1],
                 "part_no": f"CONS-{i:03d}", "qty": 1 + i % 3} for i in range(extra)],
        "stock": [{"part_no": f"CONS-{i:03d}", "site_id": "*", "on_hand": 4}
                  for i in range(extra)],
    }
    # bom rows of a (model, component) replace that pair: keep the existing ones too
    for (model, component), parts in exploded_bom(conn).items():
        del parts
        for part_no, qty in conn.execute("SELECT part_no, qty FROM bom_item WHERE model_id = %s"
                                         " AND component_type = %s", (model, component)):
            doc["bom"].append({"model_id": model, "component_type": component,
                               "part_no": part_no, "qty": qty})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "extra.yaml"
        path.write_text(yaml.safe_dump(doc))
        load_masterdata(conn, path)
