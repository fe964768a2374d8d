"""The ground truth of the simulated world, flattened in one place.

Only the simulated world and the benchmarks read it: it is what the pipeline is scored
against, never an input of the pipeline.

In memory: :func:`fleet_truth` (or :func:`simulator_truth` for a running simulator) builds
a :class:`FleetTruth` (timelines, failures with their
mode and whether they had a precursor, planned maintenance, sensor faults, operating regimes,
datasheet against true lives) and :meth:`FleetTruth.apply_maintenance` lets a benchmark act as
the service organisation (right parts fix a fault, wrong parts leave it).
:func:`dropped_readings` counts the readings sensor dropouts remove from a run.

On disk: :func:`write_ground_truth` writes JSON lines, one object per record, each with a
``record`` key (times ISO 8601 UTC unless the key ends in ``_ms``):

``world``            ``seed``, ``options`` (every knob of :class:`~assetwatch.sim.world.
                     WorldConfig`), ``start``, ``end`` of the window
``life_parameters``  ``model_id, component_type, datasheet_beta, datasheet_eta_days,
                     true_beta, true_eta_days`` (true eta in wear-days at the fleet's average
                     duty)
``failure``          one per failure in the window: ``asset_tag, site_id, model_id,
                     component_type, failure_mode, part_no, serial_no, parts`` (what a repair
                     of that mode needs), ``precursor`` (false for a shock), ``fate``,
                     ``onset_at`` (null for a shock; may lie before the window),
                     ``failed_at``, ``replaced_at`` (null when after the window or never)
``life``             one per component life overlapping the window: ``asset_tag,
                     component_type, generation, serial_no, failure_mode, fate``
                     (``wear_out``, ``shock``, ``stabilised``), ``precursor, installed_at,
                     onset_at`` (null if wear never shows), ``failed_at`` (null if it does
                     not fail), ``ended_at, end_reason`` (``failure``, ``overhaul``,
                     ``restored`` by a planned task, ``repair`` by an action), ``plateau``
``maintenance``      planned tasks: ``asset_tag, site_id, task, part_no, at, done``
``sensor_fault``     ``asset_tag, sensor, kind`` (``dropout, stuck, spike, drift,
                     replaced``), ``start_at, end_at, value`` (see :mod:`~assetwatch.sim.
                     sensor_faults`)
``regimes``          one per asset: ``asset_tag, profile, speed_ratios, end_ms`` and
                     ``segments``: ``[start_ms, level]`` pairs (level 0 stopped, ``i`` runs
                     at ``speed_ratios[i - 1]``; each holds until the next)
``action``           maintenance applied through :meth:`FleetTruth.apply_maintenance`

:func:`read_ground_truth` reads it back, grouped by record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assetwatch.sim.catalogue import failure_modes
from assetwatch.sim.fleet import Fleet, epoch_ms
from assetwatch.sim.lifecycle import (
    NEVER,
    AssetTimeline,
    ComponentLife,
    MaintenanceOutcome,
    build_timeline,
)
from assetwatch.sim.operation import STOPPED
from assetwatch.sim.sensor_faults import SensorFault, merged_dropouts
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.sim.world import DEFAULT_WORLD, WorldConfig, datasheet_life, true_life

__all__ = ["ComponentState", "Failure", "FleetTruth", "Maintenance", "OperatingState",
           "dropped_readings", "fleet_truth", "ground_truth_records", "ground_truth_rows",
           "read_ground_truth", "simulator_truth", "write_ground_truth"]


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _iso(ms: int | None) -> str | None:
    if ms is None or ms >= NEVER:
        return None
    return _at(ms).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Failure:
    """One component life that fails in the simulated window.

    ``precursor`` is False for a shock (no wear shows before it); ``onset_at`` is when wear
    started to show (None for a shock); ``parts`` is what a repair of ``failure_mode`` needs;
    ``replaced_at`` is None when the failure is not repaired by the simulator.
    """

    asset_tag: str
    site_id: str
    model_id: str
    component_type: str
    failure_mode: str
    part_no: str
    failed_at: datetime
    replaced_at: datetime | None
    new_serial: str | None
    serial_no: str = ""
    precursor: bool = True
    onset_at: datetime | None = None
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Maintenance:
    """One planned maintenance task done in the window."""

    asset_tag: str
    site_id: str
    task: str
    part_no: str | None
    at: datetime


@dataclass(frozen=True)
class OperatingState:
    """How an asset runs at a moment: ``level`` 0 stopped, else its load level (1 lowest)
    at ``speed_ratio`` of nominal speed; ``since`` is when its schedule's segment began;
    ``failed`` is True when a failed component keeps it stopped whatever the schedule says
    (then ``level`` is 0)."""

    level: int
    speed_ratio: float
    since: datetime
    profile: str
    failed: bool = False

    @property
    def running(self) -> bool:
        return self.level != STOPPED


@dataclass(frozen=True)
class ComponentState:
    """The true state of one component at a moment.

    ``wear`` 0 healthy to 1 failed; ``fate`` of the current life (``wear_out``, ``shock``,
    ``stabilised``); ``fails_at`` None when this life does not fail (it is renewed first).
    """

    asset_tag: str
    component_type: str
    serial_no: str
    failure_mode: str
    fate: str
    wear: float
    onset_at: datetime | None
    fails_at: datetime | None
    failed: bool
    parts: tuple[str, ...]


@dataclass
class FleetTruth:
    """The ground truth of a simulated window ``[fleet.start, end)``."""

    fleet: Fleet
    timelines: dict[str, AssetTimeline]
    failures: list[Failure]
    maintenance: list[Maintenance]
    world: WorldConfig = DEFAULT_WORLD
    sensor_faults: list[SensorFault] = field(default_factory=list)

    def state_at(self, asset_tag: str, at: datetime) -> OperatingState:
        """The asset's operating regime at ``at``."""
        tl = self.timelines[asset_tag]
        schedule = tl.schedule
        assert schedule is not None
        t = epoch_ms(at)
        i = schedule.index(t)
        level = schedule.levels[i]
        failed = any(life.failed_ms <= t < life.replaced_ms
                     for ctype in tl.lives for life in (tl.life_at(ctype, t),))
        if failed:
            level = STOPPED
        ratio = 0.0 if level == STOPPED else self.world.speed_ratios[level - 1]
        return OperatingState(level, ratio, _at(schedule.starts[i]), schedule.profile, failed)

    def regimes(self, asset_tag: str) -> list[tuple[datetime, datetime, int]]:
        """``(start, end, level)`` segments of the asset's operation over the window."""
        schedule = self.timelines[asset_tag].schedule
        assert schedule is not None
        return [(_at(a), _at(b), level) for a, b, level in schedule.segments()]

    def component_state(self, asset_tag: str, component_type: str, at: datetime
                        ) -> ComponentState:
        """What is really going on in one component at ``at``."""
        t = epoch_ms(at)
        life = self.timelines[asset_tag].life_at(component_type, t)
        failed = life.failed_ms <= t < life.replaced_ms
        return ComponentState(
            asset_tag, component_type, life.serial_no, life.failure_mode, life.fate,
            life.wear(t), None if life.fate == "shock" or life.onset_ms >= life.replaced_ms
            else _at(life.onset_ms),
            None if life.failed_ms >= NEVER else _at(life.failed_ms), failed, life.parts)

    def apply_maintenance(self, asset_tag: str, component_type: str, at: datetime,
                          parts: list[str] | tuple[str, ...]) -> MaintenanceOutcome:
        """Fit ``parts`` to ``component_type`` of ``asset_tag`` at ``at`` (see
        :meth:`~assetwatch.sim.lifecycle.AssetTimeline.apply_maintenance`); the failures
        from then on are redrawn."""
        outcome = self.timelines[asset_tag].apply_maintenance(component_type, epoch_ms(at),
                                                              parts)
        self.failures = _failures(self.timelines)
        return outcome

    def datasheet_life(self, model_id: str, component_type: str) -> tuple[float, float]:
        """``(beta, eta_days)`` the master data give (the catalogue's datasheet)."""
        return datasheet_life(model_id, component_type)

    def true_life(self, model_id: str, component_type: str) -> tuple[float, float]:
        """``(beta, eta)`` the simulated parts follow (eta in wear-days)."""
        return true_life(self.fleet.seed, model_id, component_type, self.world)

    @staticmethod
    def mode_parts(model_id: str, component_type: str, failure_mode: str) -> tuple[str, ...]:
        """The parts a repair of ``failure_mode`` needs."""
        return tuple(failure_modes(model_id, component_type)[failure_mode].get("parts", ()))


def _failures(timelines: Mapping[str, AssetTimeline]) -> list[Failure]:
    failures: list[Failure] = []
    for tag, tl in timelines.items():
        asset = tl.asset
        for chain in tl.lives.values():
            for i, life in enumerate(chain):
                if tl.start_ms <= life.failed_ms < tl.end_ms:
                    nxt = chain[i + 1] if i + 1 < len(chain) else None
                    failures.append(Failure(
                        tag, asset.site_id, asset.model_id, life.component_type,
                        life.failure_mode, life.part_no, _at(life.failed_ms),
                        None if life.replaced_ms >= NEVER else _at(life.replaced_ms),
                        nxt.serial_no if nxt else None, life.serial_no, life.precursor,
                        _at(life.onset_ms) if life.precursor else None, life.parts))
    failures.sort(key=lambda f: (f.failed_at, f.asset_tag, f.component_type))
    return failures


def fleet_truth(fleet: Fleet, end: datetime, world: WorldConfig | None = None, *,
                planned_until: datetime | None = None) -> FleetTruth:
    """Timelines, failures, planned maintenance and sensor faults of every asset up to
    ``end``, in ``world`` (default :data:`~assetwatch.sim.world.DEFAULT_WORLD`); the world
    does its planned tasks itself until ``planned_until`` (None: to the end; see
    :func:`~assetwatch.sim.lifecycle.build_timeline`)."""
    world = world or DEFAULT_WORLD
    end_ms = epoch_ms(end)
    until_ms = None if planned_until is None else epoch_ms(planned_until)
    return _truth(fleet, {a.asset_tag: build_timeline(fleet, a, end_ms, world,
                                                      planned_until_ms=until_ms)
                          for a in fleet.assets}, world)


def _truth(fleet: Fleet, timelines: dict[str, AssetTimeline], world: WorldConfig
           ) -> FleetTruth:
    maintenance = sorted(
        (Maintenance(tag, tl.asset.site_id, p.task, p.part_no, _at(p.at_ms))
         for tag, tl in timelines.items() for p in tl.planned
         if p.done and tl.start_ms <= p.at_ms < tl.end_ms), key=lambda m: (m.at, m.asset_tag))
    faults = sorted((f for tl in timelines.values() for f in tl.sensor_faults),
                    key=lambda f: (f.start_ms, f.asset_tag, f.sensor))
    return FleetTruth(fleet, timelines, _failures(timelines), maintenance, world, faults)


def simulator_truth(simulator: FleetSimulator) -> FleetTruth:
    """The ground truth of a running :class:`~assetwatch.sim.simulator.FleetSimulator`,
    sharing its timelines: :meth:`FleetTruth.apply_maintenance` on it changes what the
    simulator streams from then on (apply it at or after the simulator's clock)."""
    return _truth(simulator.fleet, {tl.asset.asset_tag: tl for tl in simulator.timelines},
                  simulator.world)


def dropped_readings(timelines: list[AssetTimeline] | Mapping[str, AssetTimeline],
                     sample_interval_s: float, until_ms: Mapping[str, int] | None = None
                     ) -> int:
    """How many readings sensor dropouts remove from a run sampled every
    ``sample_interval_s`` from the window's start (samples at ``start + k * interval``),
    counting only samples before ``until_ms[asset]`` (default: the window's end)."""
    items = timelines.values() if isinstance(timelines, Mapping) else timelines
    step = int(sample_interval_s * 1000)
    total = 0
    for tl in items:
        limit = min(tl.end_ms, (until_ms or {}).get(tl.asset.asset_tag, tl.end_ms))
        for spans in merged_dropouts(tl.sensor_faults).values():
            for a, b in spans:
                b = min(b, limit)
                if b <= a:
                    continue
                first = -(-(a - tl.start_ms) // step)   # first sample index >= a
                last = -(-(b - tl.start_ms) // step)    # first sample index >= b
                total += max(0, last - first)
    return total


def ground_truth_rows(timelines: list[AssetTimeline]) -> list[dict[str, Any]]:
    """One ``failure`` record per failure inside the window, sorted by failure time."""
    rows = []
    for tl in timelines:
        for life in tl.failures():
            chain = tl.lives[life.component_type]
            rows.append({
                "record": "failure",
                "asset_tag": tl.asset.asset_tag, "site_id": tl.asset.site_id,
                "model_id": tl.asset.model_id, "component_type": life.component_type,
                "failure_mode": life.failure_mode, "part_no": life.part_no,
                "serial_no": life.serial_no, "parts": list(life.parts),
                "precursor": life.precursor, "fate": life.fate,
                "onset_at": _iso(life.onset_ms) if life.precursor else None,
                "failed_at": _iso(life.failed_ms),
                "replaced_at": _iso(life.replaced_ms) if life.replaced_ms < tl.end_ms
                else None,
                "generation": chain.index(life),
            })
    rows.sort(key=lambda r: (r["failed_at"], r["asset_tag"], r["component_type"]))
    for r in rows:
        del r["generation"]
    return rows


def _life_row(tl: AssetTimeline, life: ComponentLife) -> dict[str, Any]:
    visible = life.fate != "shock" and life.onset_ms < min(life.replaced_ms, life.failed_ms)
    return {
        "record": "life", "asset_tag": tl.asset.asset_tag, "component_type":
        life.component_type, "generation": life.generation, "serial_no": life.serial_no,
        "failure_mode": life.failure_mode, "fate": life.fate, "precursor": life.precursor,
        "installed_at": _iso(life.installed_ms),
        "onset_at": _iso(life.onset_ms) if visible else None,
        "failed_at": _iso(life.failed_ms), "ended_at": _iso(life.replaced_ms),
        "end_reason": life.end_reason, "plateau": round(life.plateau, 4),
    }


def ground_truth_records(timelines: list[AssetTimeline]) -> list[dict[str, Any]]:
    """Every record of the ground truth file (see the module's table), in file order."""
    if not timelines:
        return []
    first = timelines[0]
    world = first.world
    records: list[dict[str, Any]] = [{
        "record": "world", "seed": first.seed, "options": world.as_options(),
        "start": _iso(first.start_ms), "end": _iso(first.end_ms)}]
    seen: set[tuple[str, str]] = set()
    for tl in timelines:
        for ctype in tl.lives:
            key = (tl.asset.model_id, ctype)
            if key in seen:
                continue
            seen.add(key)
            d_beta, d_eta = datasheet_life(*key)
            t_beta, t_eta = true_life(tl.seed, *key, world)
            records.append({"record": "life_parameters", "model_id": key[0],
                            "component_type": ctype, "datasheet_beta": d_beta,
                            "datasheet_eta_days": d_eta, "true_beta": round(t_beta, 4),
                            "true_eta_days": round(t_eta, 2)})
    records.extend(ground_truth_rows(timelines))
    for tl in timelines:
        for chain in tl.lives.values():
            records.extend(_life_row(tl, life) for life in chain
                           if life.installed_ms < tl.end_ms and life.replaced_ms >= tl.start_ms)
        records.extend({"record": "maintenance", "asset_tag": tl.asset.asset_tag,
                        "site_id": tl.asset.site_id, "task": p.task, "part_no": p.part_no,
                        "at": _iso(p.at_ms), "done": p.done} for p in tl.planned)
        records.extend({"record": "sensor_fault", "asset_tag": f.asset_tag, "sensor": f.sensor,
                        "kind": f.kind, "start_at": _iso(f.start_ms),
                        "end_at": _iso(f.end_ms), "value": round(f.value, 6)}
                       for f in tl.sensor_faults)
        if tl.schedule is not None:
            records.append({"record": "regimes", "asset_tag": tl.asset.asset_tag,
                            "profile": tl.schedule.profile,
                            "speed_ratios": list(world.speed_ratios),
                            "end_ms": tl.end_ms,
                            "segments": [[a, level] for a, _, level
                                         in tl.schedule.segments()]})
        records.extend({"record": "action", "asset_tag": a.asset_tag,
                        "component_type": a.component_type, "at": _iso(a.at_ms),
                        "parts": list(a.parts), "result": a.result,
                        "failure_mode": a.failure_mode, "imperfect": a.imperfect}
                       for a in tl.actions)
    return records


def write_ground_truth(path: Path, timelines: list[AssetTimeline]) -> int:
    """Write the ground truth as JSON lines (atomically); return the number of failures."""
    records = ground_truth_records(timelines)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
    tmp.replace(path)
    return sum(r["record"] == "failure" for r in records)


def read_ground_truth(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The records of a ground truth file, grouped by ``record`` (file order kept)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            out.setdefault(row["record"], []).append(row)
    return out

