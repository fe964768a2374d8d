"""The ground truth of the simulated world, flattened in one place.

:func:`fleet_truth` turns the component timelines (:mod:`assetwatch.sim.lifecycle`) into
time-ordered failures and planned maintenance; :func:`write_ground_truth` writes the failures
of a run as JSON lines, one object per failure inside the window: ``asset_tag, site_id,
model_id, component_type, failure_mode, part_no, serial_no, onset_at, failed_at,
replaced_at`` (ISO 8601 UTC; ``replaced_at`` is null when the repair falls after the window's
end; ``onset_at`` may lie before the window's start for a part already wearing when the run
began).

Only the simulated world and the benchmarks read it: it is what the pipeline is scored
against, never an input of the pipeline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assetwatch.sim.fleet import Fleet
from assetwatch.sim.lifecycle import AssetTimeline, build_timeline

__all__ = ["Failure", "FleetTruth", "Maintenance", "fleet_truth", "ground_truth_rows",
           "write_ground_truth"]


@dataclass(frozen=True)
class Failure:
    """One component generation that fails (and is replaced) in the simulated window."""

    asset_tag: str
    site_id: str
    model_id: str
    component_type: str
    failure_mode: str
    part_no: str
    failed_at: datetime
    replaced_at: datetime
    new_serial: str | None


@dataclass(frozen=True)
class Maintenance:
    asset_tag: str
    site_id: str
    task: str
    part_no: str | None
    at: datetime


@dataclass
class FleetTruth:
    fleet: Fleet
    timelines: dict[str, AssetTimeline]
    failures: list[Failure]
    maintenance: list[Maintenance]


def fleet_truth(fleet: Fleet, end: datetime) -> FleetTruth:
    """Timelines, failures and planned maintenance of every asset up to ``end``."""

    def at(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)

    end_ms = int(end.timestamp() * 1000)
    timelines = {a.asset_tag: build_timeline(fleet, a, end_ms) for a in fleet.assets}
    failures: list[Failure] = []
    maintenance: list[Maintenance] = []
    for tag, tl in timelines.items():
        asset = tl.asset
        for chain in tl.lives.values():
            for i, life in enumerate(chain):
                if tl.start_ms <= life.failed_ms < end_ms:
                    nxt = chain[i + 1] if i + 1 < len(chain) else None
                    failures.append(Failure(tag, asset.site_id, asset.model_id,
                                            life.component_type, life.failure_mode,
                                            life.part_no, at(life.failed_ms),
                                            at(life.replaced_ms),
                                            nxt.serial_no if nxt else None))
        for event, _ in tl.events:
            if event.kind == "maintenance":
                maintenance.append(Maintenance(tag, asset.site_id, event.code or "",
                                               event.part_no, at(event.ts_ms)))
    failures.sort(key=lambda f: f.failed_at)
    maintenance.sort(key=lambda m: m.at)
    return FleetTruth(fleet, timelines, failures, maintenance)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def ground_truth_rows(timelines: list[AssetTimeline]) -> list[dict[str, Any]]:
    """One row per failure inside the window, sorted by failure time."""
    rows = []
    for tl in timelines:
        for life in tl.failures():
            rows.append({
                "asset_tag": tl.asset.asset_tag, "site_id": tl.asset.site_id,
                "model_id": tl.asset.model_id, "component_type": life.component_type,
                "failure_mode": life.failure_mode, "part_no": life.part_no,
                "serial_no": life.serial_no, "onset_at": _iso(life.onset_ms),
                "failed_at": _iso(life.failed_ms),
                "replaced_at": _iso(life.replaced_ms) if life.replaced_ms < tl.end_ms else None,
            })
    rows.sort(key=lambda r: (r["failed_at"], r["asset_tag"], r["component_type"]))
    return rows


def write_ground_truth(path: Path, timelines: list[AssetTimeline]) -> int:
    """Write the ground truth as JSON lines (atomically); return the number of failures."""
    rows = ground_truth_rows(timelines)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    tmp.replace(path)
    return len(rows)
