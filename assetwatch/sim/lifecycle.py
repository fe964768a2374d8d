"""Component lives of a simulated asset: wear, failure, maintenance, and the events they cause.

Every component of an asset lives a chain of *lives*. A life begins when a part is installed
(or renewed by maintenance), draws a failure mode (by the catalogue's shares), a true life
length (Weibull, :func:`~assetwatch.sim.world.true_life`, in wear-days that accrue with
operation, :mod:`~assetwatch.sim.operation`) and a fate:

* ``wear_out``: wear shows from a random onset (``onset_fraction`` of the life, per unit) and
  grows (``x ** exponent``, per unit) until the part fails at the end of its life;
* ``shock``: the part fails at a random age with no precursor in the telemetry;
* ``stabilised``: wear shows, levels off at a plateau and never leads to a failure; the part
  is replaced at a later overhaul.

A life ends by failure (then a repair after ``repair_days`` installs a new part, sometimes an
imperfect one), by an overhaul, by a planned task that restores its failure mode (same part,
wear reset), or by :meth:`AssetTimeline.apply_maintenance` (a repair decided by whoever plays
the service organisation: right parts fix it, wrong parts leave the fault in place).

The first life is the part installed at the fleet's start, already part-way through its life.
Everything is drawn from random streams seeded by (fleet seed, asset, component, life), so a
timeline is a pure function of the fleet, the world and the simulated window. The ground
truth that scores the pipeline is flattened from these timelines in one place,
:mod:`assetwatch.sim.truth`.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field, replace
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
from assetwatch.sim.operation import (
    OperatingSchedule,
    build_schedule,
    site_ambient_mean,
)
from assetwatch.sim.sensor_faults import SensorFault, draw_sensor_faults
from assetwatch.sim.world import DEFAULT_WORLD, WorldConfig, true_life

__all__ = ["NEVER", "AssetTimeline", "ComponentLife", "MaintenanceOutcome", "PlannedTask",
           "build_timeline"]

DAY_MS = 86_400_000
#: A time that never comes (a life that does not fail, a failure nobody repairs): the
#: start of the year 9999, so it still converts to a ``datetime``.
NEVER = 253_370_764_800_000
#: Controller alarms per day at full wear (a Poisson process, thinned by the wear level).
ALARMS_PER_DAY_AT_END_OF_LIFE = 0.4
#: Spurious controller alarms per day on a healthy asset.
SPURIOUS_ALARMS_PER_DAY = 1 / 120


@dataclass(frozen=True, slots=True)
class ComponentLife:
    """One life of one component, times in ms since the epoch.

    ``failed_ms`` is :data:`NEVER` for a life that does not fail (stabilised, or renewed
    before it failed); ``replaced_ms`` is when the next life begins (after a repair, an
    overhaul or restoring maintenance; :data:`NEVER` if a failure is left unrepaired).
    ``onset_ms`` is when wear starts to show (equal to ``failed_ms`` for a shock).
    ``onset_wear``/``failed_wear`` are the same points in wear-days of the asset's schedule,
    ``origin_wear`` where this life's clock starts (before ``installed_ms`` when the part
    came with some life used: an imperfect repair, or the part found at the fleet's start);
    the true life length is ``life_wear = failed_wear - origin_wear`` unless a shock cut it.
    """

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
    fate: str = "wear_out"
    end_reason: str = "failure"
    parts: tuple[str, ...] = ()
    onset_wear: float = 0.0
    failed_wear: float = 1.0
    origin_wear: float = 0.0
    life_wear: float = 1.0
    exponent: float = 2.0
    plateau: float = 1.0
    schedule: OperatingSchedule | None = field(default=None, repr=False, compare=False)

    @property
    def precursor(self) -> bool:
        """Whether wear shows in the telemetry before this life ends (not for a shock)."""
        return self.fate != "shock"

    @property
    def fails(self) -> bool:
        return self.failed_ms < NEVER

    def wear_of(self, accrued: float) -> float:
        """The wear level (0 healthy, 1 failed) at ``accrued`` wear-days of the schedule."""
        if accrued <= self.onset_wear or self.fate == "shock":
            return 0.0
        x = (accrued - self.onset_wear) / max(1e-9, self.failed_wear - self.onset_wear)
        return min(self.plateau, 1.0 if x >= 1.0 else x ** self.exponent)

    def wear(self, t_ms: int) -> float:
        """0 before onset, rising towards 1 at failure (or to a plateau), 1 while failed."""
        if t_ms >= self.failed_ms:
            return 1.0
        if t_ms < self.onset_ms:
            return 0.0
        if self.schedule is None:  # pragma: no cover - lives are built with their schedule
            x = (t_ms - self.onset_ms) / max(1, self.failed_ms - self.onset_ms)
            return min(self.plateau, x * x)
        return self.wear_of(self.schedule.wear_at(t_ms))


@dataclass(frozen=True)
class PlannedTask:
    """One planned maintenance task of an asset; ``done`` is False when it was skipped."""

    at_ms: int
    task: str
    part_no: str | None
    done: bool


@dataclass(frozen=True)
class MaintenanceOutcome:
    """What a maintenance action did to a component.

    ``result``: ``fixed`` (the parts cover the failure mode: wear reset, the asset runs),
    ``no_fault_found`` (wrong parts: the fault stays), ``no_fault`` (nothing was wearing:
    the parts were renewed anyway). ``imperfect``: the fix left the new life partly used.
    """

    asset_tag: str
    component_type: str
    at_ms: int
    parts: tuple[str, ...]
    result: str
    failure_mode: str
    imperfect: bool
    was_failed: bool


@dataclass
class AssetTimeline:
    """Component lives, operation, sensor faults and events of one asset over
    ``[start_ms, end_ms)``."""

    asset: FleetAsset
    start_ms: int
    end_ms: int
    lives: dict[str, list[ComponentLife]]
    events: list[tuple[AssetEvent, bool]] = field(default_factory=list)  # (event, changed)
    _event_ts: list[int] = field(default_factory=list)
    schedule: OperatingSchedule | None = None
    ambient_mean_c: float = 20.0
    planned: list[PlannedTask] = field(default_factory=list)
    sensor_faults: list[SensorFault] = field(default_factory=list)
    actions: list[MaintenanceOutcome] = field(default_factory=list)
    world: WorldConfig = DEFAULT_WORLD
    seed: int = 0
    revision: int = 0  # bumped when maintenance changes the lives

    def life_at(self, component_type: str, t_ms: int) -> ComponentLife:
        """The life of a component in progress at ``t_ms``."""
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
        """Lives failing inside the window, in time order."""
        found = [life for chain in self.lives.values() for life in chain
                 if self.start_ms <= life.failed_ms < self.end_ms]
        return sorted(found, key=lambda life: life.failed_ms)

    def apply_maintenance(self, component_type: str, at_ms: int, parts: list[str] | tuple[str, ...]
                          ) -> MaintenanceOutcome:
        """A technician works on ``component_type`` at ``at_ms`` and fits ``parts``.

        When ``parts`` cover what the current life's failure mode needs (catalogue
        ``parts``), the fault is fixed: the life ends at ``at_ms`` and a new one begins
        (a new part when the component's ``part_no`` is among ``parts``; an imperfect repair
        with the world's ``imperfect_repair_share``). Otherwise the fault stays where it was
        (no fault found): the life, its wear and its failure time are unchanged. Lives and
        events from ``at_ms`` on are redrawn; earlier ones never change. Returns what
        happened (also kept in :attr:`actions`).
        """
        if component_type not in self.lives:
            raise KeyError(f"{self.asset.asset_tag} has no component {component_type!r}")
        chain = self.lives[component_type]
        i = max(0, bisect.bisect_right([life.installed_ms for life in chain], at_ms) - 1)
        life = chain[i]
        fitted = tuple(parts)
        was_failed = life.failed_ms <= at_ms
        wearing = at_ms >= life.onset_ms or was_failed
        if not set(life.parts) <= set(fitted):
            outcome = MaintenanceOutcome(self.asset.asset_tag, component_type, at_ms, fitted,
                                         "no_fault_found", life.failure_mode, False, was_failed)
            self.actions.append(outcome)
            return outcome
        spec = model_spec(self.asset.model_id)["components"][component_type]
        rng = random.Random(f"{self.seed}/{self.asset.asset_tag}/{component_type}/action/{at_ms}")
        imperfect = rng.random() < self.world.imperfect_repair_share
        ended = replace(life, failed_ms=life.failed_ms if was_failed else NEVER,
                        replaced_ms=at_ms, end_reason="repair")
        new_part = spec["part_no"] in fitted
        serial = component_serial(rng, spec["part_no"]) if new_part else life.serial_no
        ctx = _Context.of(self)
        nxt = ctx.draw_life(component_type, life.generation + 1, at_ms, serial,
                            used_share=rng.uniform(*self.world.imperfect_repair_used)
                            if imperfect else 0.0)
        self.lives[component_type] = [*chain[:i], ended,
                                      *ctx.continue_chain(component_type, nxt, self.end_ms)]
        self._redraw_events(component_type, at_ms)
        self.revision += 1
        outcome = MaintenanceOutcome(self.asset.asset_tag, component_type, at_ms, fitted,
                                     "fixed" if wearing else "no_fault", life.failure_mode,
                                     imperfect, was_failed)
        self.actions.append(outcome)
        return outcome

    def apply_planned_task(self, task: str, at_ms: int, part_no: str | None = None
                           ) -> list[str]:
        """A planned maintenance ``task`` is done at ``at_ms`` (by whoever plays the field
        service). Each component whose life in progress has a failure mode the task restores
        (catalogue ``restored_by``) is renewed with the world's ``pm_effectiveness`` (the
        same roll as the world's own planned tasks): that life ends ``restored`` at
        ``at_ms`` and the lives and events from then on are redrawn. Returns the renewed
        components (a task that renews nothing changes nothing)."""
        bisect.insort(self.planned, PlannedTask(at_ms, task, part_no, True),
                      key=lambda p: p.at_ms)
        renewed = []
        ctx = _Context.of(self)
        for ctype, chain in self.lives.items():
            i = max(0, bisect.bisect_right([life.installed_ms for life in chain], at_ms) - 1)
            life = chain[i]
            if min(life.failed_ms, life.replaced_ms) <= at_ms:
                continue     # failed or already renewed: the task finds nothing to restore
            fresh = ctx.continue_chain(ctype, life, self.end_ms)
            if fresh[0].replaced_ms != at_ms or fresh[0].end_reason != "restored":
                continue
            self.lives[ctype] = [*chain[:i], *fresh]
            self._redraw_events(ctype, at_ms)
            renewed.append(ctype)
        if renewed:
            self.revision += 1
        return renewed

    def _redraw_events(self, component_type: str, from_ms: int) -> None:
        keep = [(e, c) for e, c in self.events
                if e.ts_ms < from_ms or e.component_type != component_type
                or e.kind not in ("failure", "part_replaced", "controller_error")]
        rng = random.Random(f"{self.seed}/{self.asset.asset_tag}/{component_type}/events/"
                            f"{from_ms}")
        fresh = _component_events(self, rng, component_type, self.lives[component_type],
                                  max(from_ms, self.start_ms), self.end_ms)
        keep.extend((e, c) for e, c in fresh if e.ts_ms >= from_ms)
        keep.sort(key=lambda item: (item[0].ts_ms, item[0].event_id))
        self.events = keep


@dataclass
class _Context:
    """What drawing a component's lives needs: the asset, its schedule and the world."""

    seed: int
    asset: FleetAsset
    schedule: OperatingSchedule
    world: WorldConfig
    planned: list[PlannedTask]
    fleet_start_ms: int = 0

    @classmethod
    def of(cls, tl: AssetTimeline) -> _Context:
        assert tl.schedule is not None
        return cls(tl.seed, tl.asset, tl.schedule, tl.world, tl.planned, tl.start_ms)

    def draw_life(self, ctype: str, generation: int, installed_ms: int, serial: str,
                  used_share: float = 0.0, rng: random.Random | None = None,
                  survived_wear: float = 0.0) -> ComponentLife:
        """A new life installed at ``installed_ms`` (``used_share`` of it already used, for
        an imperfect repair; ``survived_wear`` wear-days already survived, for the part
        found installed at the fleet's start)."""
        world, schedule = self.world, self.schedule
        spec = model_spec(self.asset.model_id)["components"][ctype]
        if rng is None:
            rng = random.Random(f"{self.seed}/{self.asset.asset_tag}/{ctype}/{generation}/"
                                f"{installed_ms}")
        modes = spec["failure_modes"]
        names = list(modes)
        mode = rng.choices(names, weights=[modes[m]["share"] for m in names])[0]
        beta, eta = true_life(self.seed, self.asset.model_id, ctype, world)
        u = 1.0 - rng.random()
        life = eta * ((survived_wear / eta) ** beta - math.log(u)) ** (1.0 / beta)
        f, q = world.shock_share, world.stabilised_share
        shock_p = f * (1 - q) / (1 - f * q) if f * q < 1 else 1.0
        draw = rng.random()
        fate = "shock" if draw < shock_p else (
            "stabilised" if rng.random() < q else "wear_out")
        onset_f = rng.uniform(*world.onset_fraction)
        exponent = rng.uniform(*world.wear_exponent)
        scale = math.exp(rng.gauss(0.0, world.effect_spread)) if world.effect_spread else 1.0
        origin = schedule.wear_at(installed_ms) - used_share * life
        failed_wear = origin + life
        onset_wear = origin + onset_f * life
        plateau = 1.0
        if fate == "shock":
            lo = max(survived_wear, used_share * life) / life
            failed_wear = origin + life * rng.uniform(lo, 1.0)
            onset_wear = failed_wear
        elif fate == "stabilised":
            plateau = rng.uniform(*world.stabilised_level)
        repair_days = rng.uniform(*world.repair_days)
        onset_ms = max(installed_ms, schedule.time_at(onset_wear))
        if fate == "stabilised":
            failed_ms = NEVER
            replaced_ms = schedule.time_at(origin + life * rng.uniform(*world.overhaul_after))
            end_reason = "overhaul"
        else:
            failed_ms = max(installed_ms + 1, schedule.time_at(failed_wear))
            onset_ms = min(onset_ms, failed_ms)
            replaced_ms = (failed_ms + int(repair_days * DAY_MS) if world.auto_repair
                           else NEVER)
            end_reason = "failure"
        effects = tuple((s, e * scale) for s, e in modes[mode].get("effects", {}).items())
        return ComponentLife(
            component_type=ctype, failure_mode=mode, part_no=spec["part_no"], serial_no=serial,
            generation=generation, installed_ms=installed_ms, onset_ms=onset_ms,
            failed_ms=failed_ms, replaced_ms=max(replaced_ms, installed_ms + 1), effects=effects,
            fate=fate, end_reason=end_reason, parts=tuple(modes[mode].get("parts", ())),
            onset_wear=onset_wear, failed_wear=failed_wear, origin_wear=origin,
            life_wear=life, exponent=exponent, plateau=plateau,
            schedule=schedule)

    def first_life(self, ctype: str) -> ComponentLife:
        """The part installed at the fleet's start (same draws as the fleet's installed base)."""
        spec = model_spec(self.asset.model_id)["components"][ctype]
        rng = component_life_rng(self.seed, self.asset.asset_tag, ctype, 0)
        datasheet_life = rng.weibullvariate(spec["weibull_eta_days"], spec["weibull_beta"])
        asset_age = _day(self.fleet_start_ms) - self.asset.commissioned_on.toordinal()
        age_days = initial_age_days(rng, datasheet_life, asset_age)
        serial = component_serial(rng, spec["part_no"])
        installed_ms = self.fleet_start_ms - int(age_days * DAY_MS)
        survived = self.schedule.wear_at(self.fleet_start_ms) - self.schedule.wear_at(
            installed_ms)
        return self.draw_life(ctype, 0, installed_ms, serial, rng=rng,
                              survived_wear=max(0.0, survived))

    def continue_chain(self, ctype: str, life: ComponentLife, end_ms: int
                       ) -> list[ComponentLife]:
        """``life`` and the lives that follow it until one lasts past ``end_ms``."""
        spec = model_spec(self.asset.model_id)["components"][ctype]
        chain: list[ComponentLife] = []
        while True:
            life = self._planned_renewal(life)
            chain.append(life)
            if life.replaced_ms >= end_ms or life.replaced_ms >= NEVER:
                return chain
            rng = random.Random(f"{self.seed}/{self.asset.asset_tag}/{ctype}/"
                                f"{life.generation + 1}/{life.replaced_ms}/next")
            if life.end_reason == "restored":
                serial, used = life.serial_no, 0.0
            else:
                serial = component_serial(rng, spec["part_no"])
                used = (rng.uniform(*self.world.imperfect_repair_used)
                        if life.end_reason == "failure"
                        and rng.random() < self.world.imperfect_repair_share else 0.0)
            life = self.draw_life(ctype, life.generation + 1, life.replaced_ms, serial,
                                  used_share=used)

    def _planned_renewal(self, life: ComponentLife) -> ComponentLife:
        """The life, cut short by the first done planned task that restores its mode."""
        mode = model_spec(self.asset.model_id)["components"][life.component_type][
            "failure_modes"][life.failure_mode]
        tasks = set(mode.get("restored_by", ()))
        if not tasks:
            return life
        until = min(life.failed_ms, life.replaced_ms)
        for task in self.planned:
            if task.at_ms <= life.installed_ms or not task.done or task.task not in tasks:
                continue
            if task.at_ms >= until:
                break
            roll = random.Random(f"{self.seed}/{self.asset.asset_tag}/{life.component_type}/"
                                 f"pm/{task.at_ms}").random()
            if roll < self.world.pm_effectiveness:
                return replace(life, failed_ms=NEVER, replaced_ms=task.at_ms,
                               end_reason="restored",
                               onset_ms=min(life.onset_ms, task.at_ms))
        return life


def _day(ms: int) -> int:
    """Proleptic Gregorian ordinal of the UTC day holding ``ms``."""
    return 719_163 + ms // DAY_MS  # date(1970, 1, 1).toordinal() == 719163


def build_timeline(fleet: Fleet, asset: FleetAsset, end_ms: int,
                   world: WorldConfig = DEFAULT_WORLD, *,
                   planned_until_ms: int | None = None) -> AssetTimeline:
    """Operation, component lives, sensor faults and events of ``asset`` from the fleet's
    start to ``end_ms``. The world does the model's planned tasks on its own until
    ``planned_until_ms`` (None: to the end); from then on only the tasks someone does
    (:meth:`AssetTimeline.apply_planned_task`, a field service playing the world's
    maintenance) happen."""
    spec = model_spec(asset.model_id)
    start_ms = epoch_ms(fleet.start)
    schedule = build_schedule(fleet.seed, asset.asset_tag, start_ms, end_ms, world)
    rng = random.Random(f"{fleet.seed}/{asset.asset_tag}/events")
    planned = _planned_tasks(rng, spec, start_ms, end_ms, world)
    if planned_until_ms is not None:   # the same draws, the later tasks left to others
        planned = [p for p in planned if p.at_ms < planned_until_ms]
    ctx = _Context(fleet.seed, asset, schedule, world, planned, fleet_start_ms=start_ms)
    lives = {ctype: ctx.continue_chain(ctype, ctx.first_life(ctype), end_ms)
             for ctype in spec["components"]}
    timeline = AssetTimeline(
        asset, start_ms, end_ms, lives, schedule=schedule,
        ambient_mean_c=site_ambient_mean(fleet.seed, asset.site_id, world), planned=planned,
        sensor_faults=draw_sensor_faults(fleet.seed, asset, start_ms, end_ms, world),
        world=world, seed=fleet.seed)
    events: list[tuple[AssetEvent, bool]] = []
    for ctype, chain in lives.items():
        events.extend(_component_events(timeline, rng, ctype, chain, start_ms, end_ms))
    tag = asset.asset_tag
    events.extend((e, False) for e in _spurious_alarms(rng, tag, start_ms, end_ms))
    events.extend((AssetEvent(f"{tag}-M-{p.task[:8]}-{p.at_ms}", p.at_ms, "maintenance",
                              part_no=p.part_no, code=p.task, detail={"planned": True}), False)
                  for p in planned if p.done and start_ms <= p.at_ms < end_ms)
    events.sort(key=lambda item: (item[0].ts_ms, item[0].event_id))
    timeline.events = events
    return timeline


def _component_events(tl: AssetTimeline, rng: random.Random, ctype: str,
                      chain: list[ComponentLife], start_ms: int, end_ms: int
                      ) -> list[tuple[AssetEvent, bool]]:
    """Failures, replacements and wear alarms of one component in ``[start_ms, end_ms)``."""
    tag = tl.asset.asset_tag
    code = model_spec(tl.asset.model_id)["components"][ctype].get("controller_code", "E900")
    events: list[tuple[AssetEvent, bool]] = []
    for i, life in enumerate(chain):
        if start_ms <= life.failed_ms < end_ms:
            events.append((AssetEvent(
                f"{tag}-F-{ctype[:4]}-{life.failed_ms}", life.failed_ms, "failure",
                component_type=ctype, part_no=life.part_no, code=life.failure_mode,
                detail={"failure_mode": life.failure_mode, "serial_no": life.serial_no}),
                False))
        nxt = chain[i + 1] if i + 1 < len(chain) else None
        if (nxt is not None and start_ms <= life.replaced_ms < end_ms
                and nxt.serial_no != life.serial_no):
            reason = life.end_reason
            events.append((AssetEvent(
                f"{tag}-R-{ctype[:4]}-{life.replaced_ms}", life.replaced_ms,
                "part_replaced", component_type=ctype, part_no=nxt.part_no,
                serial_removed=life.serial_no, serial_installed=nxt.serial_no,
                code=life.failure_mode if life.fails else None,
                detail={"reason": reason, **({"failure_mode": life.failure_mode}
                                             if life.fails else {})}), True))
        events.extend((e, False) for e in _alarms(rng, tag, ctype, code, life, start_ms,
                                                 end_ms))
    return events


def _alarms(rng: random.Random, tag: str, ctype: str, code: str, life: ComponentLife,
            start_ms: int, end_ms: int) -> list[AssetEvent]:
    """Controller alarms while the component wears (rate grows with the wear level)."""
    lo = max(life.onset_ms, start_ms)
    hi = min(life.failed_ms, life.replaced_ms, end_ms)
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


def _planned_tasks(rng: random.Random, spec: dict[str, Any], start_ms: int, end_ms: int,
                   world: WorldConfig) -> list[PlannedTask]:
    """Planned maintenance tasks of the model, every ``interval_days`` from a random phase;
    ``pm_skipped_share`` of them are not done."""
    out: list[PlannedTask] = []
    for task in spec.get("maintenance", []):
        period = int(task["interval_days"] * DAY_MS)
        t = start_ms + int(rng.uniform(0, 1) * period)
        while t < end_ms:
            out.append(PlannedTask(t, task["task"], task.get("part_no"),
                                   rng.random() >= world.pm_skipped_share))
            t += period
    out.sort(key=lambda p: p.at_ms)
    return out
