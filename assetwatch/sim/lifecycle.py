"""Component lives of a simulated asset: wear, failure, repair, and the events they cause.

Every component of an asset lives a chain of generations. A generation is installed, starts
to show wear at ``onset`` (``onset_fraction`` of its Weibull life), fails at end of life, and
is replaced after a repair delay by a new part (the next generation, new serial number). The
first generation is the part installed at the fleet's start, already part-way through its life.
All of it is drawn from random streams seeded by (fleet seed, asset, component, generation),
so a timeline is a pure function of the fleet and the simulated window.

The ground truth that scores the pipeline is flattened from these timelines in one place,
:mod:`assetwatch.sim.truth`.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

from assetwatch.core.wire import AssetEvent
from assetwatch.sim.catalogue import model_spec
from assetwatch.sim.fleet import (
    Fleet,
    FleetAsset,
    component_life_rng,
    component_serial,
    epoch_ms,
    initial_age_days,
)

__all__ = ["AssetTimeline", "ComponentLife", "build_timeline", "load_factor"]

DAY_MS = 86_400_000
#: Repair takes this many days after a failure (uniform), parts and technician included.
REPAIR_DAYS = (0.5, 4.0)
#: Controller alarms per day at full wear (a Poisson process, thinned by the wear level).
ALARMS_PER_DAY_AT_END_OF_LIFE = 0.4
#: Spurious controller alarms per day on a healthy asset.
SPURIOUS_ALARMS_PER_DAY = 1 / 120


@dataclass(frozen=True, slots=True)
class ComponentLife:
    """One generation of one component, times in ms since the epoch."""

    component_type: str
    failure_mode: str
    part_no: str
    serial_no: str
    generation: int
    installed_ms: int
    onset_ms: int
    failed_ms: int
    replaced_ms: int
    effects: tuple[tuple[str, float], ...]

    def wear(self, t_ms: int) -> float:
        """0 before onset, rising to 1 at failure (quadratic), 1 while failed."""
        if t_ms < self.onset_ms:
            return 0.0
        if t_ms >= self.failed_ms:
            return 1.0
        x = (t_ms - self.onset_ms) / max(1, self.failed_ms - self.onset_ms)
        return x * x


@dataclass
class AssetTimeline:
    """Component lives and events of one asset over a window ``[start_ms, end_ms)``."""

    asset: FleetAsset
    start_ms: int
    end_ms: int
    lives: dict[str, list[ComponentLife]]
    events: list[tuple[AssetEvent, bool]] = field(default_factory=list)  # (event, changed)
    _event_ts: list[int] = field(default_factory=list)

    def life_at(self, component_type: str, t_ms: int) -> ComponentLife:
        """The generation of a component installed at ``t_ms``."""
        chain = self.lives[component_type]
        i = 0
        while i + 1 < len(chain) and chain[i + 1].installed_ms <= t_ms:
            i += 1
        return chain[i]

    def events_before(self, t_ms: int) -> int:
        """How many events happen strictly before ``t_ms``."""
        if len(self._event_ts) != len(self.events):
            self._event_ts = [e.ts_ms for e, _ in self.events]
        return bisect.bisect_left(self._event_ts, t_ms)

    def failures(self) -> list[ComponentLife]:
        """Generations failing inside the window, in time order."""
        found = [life for chain in self.lives.values() for life in chain
                 if self.start_ms <= life.failed_ms < self.end_ms]
        return sorted(found, key=lambda life: life.failed_ms)


def _generation(fleet: Fleet, asset: FleetAsset, ctype: str, cspec: dict[str, Any],
                generation: int, installed_ms: int | None) -> ComponentLife:
    rng = component_life_rng(fleet.seed, asset.asset_tag, ctype, generation)
    life_days = rng.weibullvariate(cspec["weibull_eta_days"], cspec["weibull_beta"])
    start_ms = epoch_ms(fleet.start)
    if generation == 0:
        asset_age = (fleet.start.date() - asset.commissioned_on).days
        installed_ms = start_ms - int(initial_age_days(rng, life_days, asset_age) * DAY_MS)
    assert installed_ms is not None
    serial = component_serial(rng, cspec["part_no"])
    repair_days = rng.uniform(*REPAIR_DAYS)
    life_ms = max(DAY_MS // 24, int(life_days * DAY_MS))
    failed_ms = installed_ms + life_ms
    return ComponentLife(
        component_type=ctype, failure_mode=cspec["failure_mode"], part_no=cspec["part_no"],
        serial_no=serial, generation=generation, installed_ms=installed_ms,
        onset_ms=installed_ms + int(cspec.get("onset_fraction", 0.7) * life_ms),
        failed_ms=failed_ms, replaced_ms=failed_ms + int(repair_days * DAY_MS),
        effects=tuple(cspec.get("effects", {}).items()))


def build_timeline(fleet: Fleet, asset: FleetAsset, end_ms: int) -> AssetTimeline:
    """Component lives and events of ``asset`` from the fleet's start to ``end_ms``."""
    spec = model_spec(asset.model_id)
    start_ms = epoch_ms(fleet.start)
    lives: dict[str, list[ComponentLife]] = {}
    for ctype, cspec in spec["components"].items():
        chain = [_generation(fleet, asset, ctype, cspec, 0, None)]
        while chain[-1].replaced_ms < end_ms:
            chain.append(_generation(fleet, asset, ctype, cspec, len(chain),
                                     chain[-1].replaced_ms))
        lives[ctype] = chain
    timeline = AssetTimeline(asset, start_ms, end_ms, lives)
    rng = random.Random(f"{fleet.seed}/{asset.asset_tag}/events")
    events: list[tuple[AssetEvent, bool]] = []
    tag = asset.asset_tag
    for ctype, chain in lives.items():
        code = spec["components"][ctype].get("controller_code", "E900")
        for life in chain:
            if start_ms <= life.failed_ms < end_ms:
                events.append((AssetEvent(
                    f"{tag}-F-{ctype[:4]}-{life.failed_ms}", life.failed_ms, "failure",
                    component_type=ctype, part_no=life.part_no, code=life.failure_mode,
                    detail={"failure_mode": life.failure_mode, "serial_no": life.serial_no}),
                    False))
        for prev, life in itertools.pairwise(chain):
            if start_ms <= prev.replaced_ms < end_ms:
                events.append((AssetEvent(
                    f"{tag}-R-{ctype[:4]}-{prev.replaced_ms}", prev.replaced_ms,
                    "part_replaced", component_type=ctype, part_no=life.part_no,
                    serial_removed=prev.serial_no, serial_installed=life.serial_no,
                    code=prev.failure_mode,
                    detail={"reason": "failure", "failure_mode": prev.failure_mode}), True))
        for life in chain:
            events.extend((e, False) for e in _alarms(rng, tag, ctype, code, life,
                                                     start_ms, end_ms))
    events.extend((e, False) for e in _spurious_alarms(rng, tag, start_ms, end_ms))
    events.extend((e, False) for e in _maintenance(rng, tag, spec, start_ms, end_ms))
    events.sort(key=lambda item: (item[0].ts_ms, item[0].event_id))
    timeline.events = events
    return timeline


def _alarms(rng: random.Random, tag: str, ctype: str, code: str, life: ComponentLife,
            start_ms: int, end_ms: int) -> list[AssetEvent]:
    """Controller alarms while the component wears (rate grows with the wear level)."""
    lo, hi = max(life.onset_ms, start_ms), min(life.failed_ms, end_ms)
    out: list[AssetEvent] = []
    t = lo
    while t < hi:
        t += int(rng.expovariate(ALARMS_PER_DAY_AT_END_OF_LIFE) * DAY_MS) + 1
        if t < hi and rng.random() < life.wear(t):
            out.append(AssetEvent(f"{tag}-E-{ctype[:4]}-{t}", t, "controller_error",
                                  component_type=ctype, code=code,
                                  detail={"severity": "warning", "wear_alarm": True}))
    return out


def _spurious_alarms(rng: random.Random, tag: str, start_ms: int, end_ms: int
                     ) -> list[AssetEvent]:
    out: list[AssetEvent] = []
    t = start_ms
    while True:
        t += int(rng.expovariate(SPURIOUS_ALARMS_PER_DAY) * DAY_MS) + 1
        if t >= end_ms:
            return out
        out.append(AssetEvent(f"{tag}-E-misc-{t}", t, "controller_error", code="E100",
                              detail={"severity": "info", "wear_alarm": False}))


def _maintenance(rng: random.Random, tag: str, spec: dict[str, Any], start_ms: int,
                 end_ms: int) -> list[AssetEvent]:
    """Planned maintenance tasks of the model, every ``interval_days`` from a random phase."""
    out: list[AssetEvent] = []
    for task in spec.get("maintenance", []):
        period = int(task["interval_days"] * DAY_MS)
        t = start_ms + int(rng.uniform(0, 1) * period)
        while t < end_ms:
            out.append(AssetEvent(f"{tag}-M-{task['task'][:8]}-{t}", t, "maintenance",
                                  part_no=task.get("part_no"), code=task["task"],
                                  detail={"planned": True}))
            t += period
    return out


def load_factor(t_ms: int, phase: float) -> float:
    """A daily load cycle between -1 and 1 (process demand follows the day)."""
    return math.sin(2 * math.pi * (t_ms / DAY_MS) + phase)
