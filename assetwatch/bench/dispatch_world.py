"""A generated field-service workload for ``bench dispatch``: sites, a crew, open work.

Seeded and standard-library random, so a seed is one workload. Sites are scattered over a
square region in clusters (towns); technicians live in the region, each with the skills of one
or two of the three asset models (every model has at least a third of the crew) and a Monday-
to-Friday 08:00-16:30 shift; a few are absent one day. Work is a mix of breakdown tickets (12
%; opened in the last 6 h, response deadline 8, 24, 48 or 72 h after opening), predicted-
failure tickets (38 %; due in 1-15 days) and preventive work orders (50 %; due in 0.5-20
days); about one kit in ten waits 1-3 days for parts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from assetwatch.service.field.crew import Technician
from assetwatch.service.field.geo import Place

__all__ = ["MODELS", "Workload", "WorkloadItem", "generate_workload"]

#: asset model -> its failure modes and minutes on site for a repair
MODELS: dict[str, dict[str, int]] = {
    "CP-200": {"bearing_wear": 60, "seal_leak": 45, "impeller_erosion": 60},
    "SC-75": {"valve_wear": 40, "separator_clog": 30, "bearing_wear": 60},
    "MX-9": {"motor_winding": 60, "bearing_wear": 60},
}
_KM_PER_DEGREE = 111.0


@dataclass(frozen=True)
class WorkloadItem:
    """One piece of open work: a ticket (failure mode) or a work order (mode None)."""

    site_id: str
    model_id: str
    failure_mode: str | None
    minutes: int
    opened_at: datetime
    deadline: datetime
    sla: bool               # a breakdown with a response deadline
    parts_days: float       # 0: kit in stock


@dataclass(frozen=True)
class Workload:
    start: datetime
    sites: dict[str, Place]
    crew: tuple[Technician, ...]
    items: tuple[WorkloadItem, ...]


def generate_workload(seed: int, *, technicians: int = 30, items: int = 1000,
                      sites: int = 250, region_km: float = 160.0,
                      start: datetime | None = None) -> Workload:
    """The workload of ``seed`` (see the module), planned on a Monday at 07:00 UTC."""
    rng = random.Random(seed)
    start = start or datetime.fromisoformat("2026-03-02T07:00:00+00:00")
    origin = (48.0, 11.0)

    def place(x_km: float, y_km: float) -> Place:
        return (round(origin[0] + y_km / _KM_PER_DEGREE, 5),
                round(origin[1] + x_km / (_KM_PER_DEGREE * 0.669), 5))

    towns = [(rng.uniform(0, region_km), rng.uniform(0, region_km)) for _ in range(12)]
    site_places = {}
    for s in range(sites):
        tx, ty = rng.choice(towns)
        site_places[f"S{s:03d}"] = place(min(region_km, max(0.0, rng.gauss(tx, 12))),
                                         min(region_km, max(0.0, rng.gauss(ty, 12))))
    models = list(MODELS)
    crew = []
    for k in range(technicians):
        own = [models[k % 3]] + ([models[(k + 1) % 3]] if rng.random() < 0.5 else [])
        absent = ()
        if rng.random() < 0.1:
            day = (start + timedelta(days=rng.randrange(5))).date()
            absent = ((day, day),)
        crew.append(Technician(
            f"T{k:02d}", f"Technician {k}", place(rng.uniform(0, region_km),
                                                  rng.uniform(0, region_km)),
            "UTC", frozenset((m, "*") for m in own),
            tuple((d, time(8), time(16, 30)) for d in range(1, 6)),
            tuple((date.fromordinal(a.toordinal()), b) for a, b in absent)))
    site_ids = list(site_places)
    weights = [rng.paretovariate(1.5) for _ in site_ids]
    model_of = {site: models[i % 3] for i, site in enumerate(site_ids)}
    work = []
    for _ in range(items):
        site = rng.choices(site_ids, weights)[0]
        model = model_of[site]
        kind = rng.random()
        if kind < 0.12:  # breakdown: response deadline from the contract
            mode = rng.choice(list(MODELS[model]))
            opened = start - timedelta(hours=rng.uniform(0, 6))
            item = WorkloadItem(site, model, mode, MODELS[model][mode], opened,
                                opened + timedelta(hours=rng.choice((8, 24, 48, 72))), True,
                                0.0)
        elif kind < 0.5:  # predicted failure
            mode = rng.choice(list(MODELS[model]))
            opened = start - timedelta(hours=rng.uniform(0, 48))
            item = WorkloadItem(site, model, mode, MODELS[model][mode], opened,
                                start + timedelta(days=rng.uniform(1, 15)), False,
                                rng.choice((1.0, 2.0, 3.0)) if rng.random() < 0.1 else 0.0)
        else:  # preventive work order
            item = WorkloadItem(site, model, None, rng.choice((20, 30, 40)),
                                start - timedelta(days=1),
                                start + timedelta(days=rng.uniform(0.5, 20)), False,
                                rng.choice((1.0, 2.0)) if rng.random() < 0.1 else 0.0)
        work.append(item)
    return Workload(start, site_places, tuple(crew), tuple(work))
