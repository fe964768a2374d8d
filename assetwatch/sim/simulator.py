"""The fleet simulator: a replayable :class:`~assetwatch.core.source.Source`.

Each asset is sampled every ``sample_interval_s`` simulated seconds (per asset, changeable by
remote configuration) from the fleet's start for ``days`` days, in a world configured by a
:class:`~assetwatch.sim.world.WorldConfig`. A sensor follows the asset's operation
(:mod:`~assetwatch.sim.operation`): at standstill it reads its ``stopped`` value (temperatures
cool to the ambient); running, its value follows the load level (``speed_ratio **
load_exponent`` of normal; for temperatures the rise above the ambient does), with a speed
ramp and transients after a start and thermal lag after a change; temperatures follow the
seasonal and daily ambient. On top come the wear of every component that affects it (effect
at end of life times the wear level) and Gaussian noise; while a component is failed and
awaiting repair the asset is stopped. Sensor faults (:mod:`~assetwatch.sim.sensor_faults`)
then change what is reported: dropped readings, stuck values, spikes, drift, a recalibrated
replacement. ``speed`` is the operating signal: 0 at standstill, the load level's speed
while running.

Events (failures, part replacements, controller alarms, planned maintenance) come from
:mod:`assetwatch.sim.lifecycle`, in time order with the samples.

Noise is drawn from a seeded table of normal deviates at a hash of (asset, timestamp), so the
readings are a pure function of the world and the time: the checkpoint is just the next
sample time per asset. Time runs as fast as possible, or ``speed`` simulated seconds per
wall-clock second.
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from assetwatch.core.source import AssetIdentity, CheckpointMismatch, Sample, Source, SourceEvent
from assetwatch.sim.catalogue import model_spec
from assetwatch.sim.fleet import Fleet, epoch_ms
from assetwatch.sim.lifecycle import DAY_MS, NEVER, AssetTimeline, ComponentLife, build_timeline
from assetwatch.sim.operation import ambient_c
from assetwatch.sim.sensor_faults import SensorFault
from assetwatch.sim.world import DEFAULT_WORLD, WorldConfig

__all__ = ["FleetSimulator"]

#: A stopped sensor without a ``stopped`` value in the catalogue reads this (by unit).
_STOPPED_BY_UNIT = {"bar": 1.0}
#: Temperatures' normal values are at this ambient; the rise above it follows the load.
_REFERENCE_AMBIENT_C = 25.0
_NEVER = NEVER
#: How a component stands in a sample (see ``FleetSimulator._component_state``).
_QUIET, _WEARING, _FAILED = 0, 1, 2
_UNKNOWN = (0, -1, _QUIET, None, ())
#: The ambient temperature is recomputed when a sample falls in a new step of this length.
_AMBIENT_STEP_MS = 600_000
#: Noise is read from a table of standard normal draws (seeded by the fleet) at a hash of
#: (time, asset): a pure function of the sample, so no random state needs checkpointing.
_NOISE_MASK = (1 << 16) - 1
_U64 = (1 << 64) - 1


class FleetSimulator(Source):
    """Readings and events of a simulated fleet over ``days`` days from ``fleet.start``.

    Parameters
    ----------
    fleet
        The fleet (see :func:`~assetwatch.sim.fleet.build_fleet`).
    days
        Length of the simulated window.
    sample_interval_s
        Default seconds between two samples of an asset.
    speed
        Simulated seconds per wall second; ``None`` runs as fast as possible.
    world
        How the world behaves (default :data:`~assetwatch.sim.world.DEFAULT_WORLD`).
    timelines
        The assets' timelines to stream (by asset tag; each must reach the window's end):
        shared with a :class:`~assetwatch.sim.truth.FleetTruth`, maintenance applied to it
        changes what is streamed from then on. None builds them from ``fleet`` and ``world``.
    """

    def __init__(self, fleet: Fleet, days: float, sample_interval_s: float,
                 speed: float | None = None, world: WorldConfig | None = None,
                 timelines: Mapping[str, AssetTimeline] | None = None) -> None:
        self.fleet = fleet
        self.world = world or DEFAULT_WORLD
        self.days = days
        self.sample_interval_s = sample_interval_s
        self.speed = speed
        self._assets = {a.asset_tag: a for a in fleet.assets}
        self._start_ms = epoch_ms(fleet.start)
        self._end_ms = self._start_ms + int(days * DAY_MS)
        self._timelines = {a.asset_tag: timelines[a.asset_tag] if timelines is not None
                           else build_timeline(fleet, a, self._end_ms, self.world)
                           for a in fleet.assets}
        self._interval_ms = {a.asset_tag: int(sample_interval_s * 1000) for a in fleet.assets}
        self._next_ms = {a.asset_tag: self._start_ms for a in fleet.assets}
        self._next_event = {a.asset_tag: 0 for a in fleet.assets}
        self._heap: list[tuple[int, int, str]] = []
        self._clock_ms = self._start_ms
        noise = random.Random(f"{fleet.seed}/noise")
        self._normals = [noise.gauss(0.0, 1.0) for _ in range(_NOISE_MASK + 1)]
        self._tau_ms = self.world.thermal_time_constant_min * 60_000
        self._startup_ms = max(1.0, self.world.startup_minutes * 60_000)
        #: how long after a change of level the transients are worth computing
        self._slow_ms = max(6 * self._tau_ms, self._startup_ms)
        self._models = {a.asset_tag: self._asset_model(a.asset_tag) for a in fleet.assets}
        self._stuck_cache: dict[tuple[str, int, int], float] = {}
        self._wall0: float | None = None
        self._sim0 = self._start_ms
        self._rebuild_heap()

    # -- Source interface -------------------------------------------------------------
    def assets(self) -> Sequence[AssetIdentity]:
        return [AssetIdentity(a.asset_tag, a.site_id, tuple(n for n, _ in a.sensors))
                for a in self.fleet.assets]

    @property
    def end_ms(self) -> int:
        """The end of the simulated window (ms since the epoch, exclusive)."""
        return self._end_ms

    @property
    def timelines(self) -> list[AssetTimeline]:
        """Component lives and events of every asset over the window (the ground truth)."""
        return list(self._timelines.values())

    @property
    def exhausted(self) -> bool:
        return not self._heap and all(
            self._next_event[tag] >= tl.events_before(self._end_ms)
            for tag, tl in self._timelines.items())

    def poll(self, max_readings: int, timeout_s: float) -> list[Sample | SourceEvent]:
        return self._poll(max_readings, timeout_s, self._paced_limit_ms())

    def poll_until(self, limit_ms: int, max_readings: int) -> list[Sample | SourceEvent]:
        """Like :meth:`poll` (unpaced), but nothing at or after ``limit_ms`` is computed: the
        world may still change from ``limit_ms`` on (maintenance applied to the shared
        timelines). Empty once every sample before ``limit_ms`` was returned."""
        return self._poll(max_readings, 0.0, limit_ms - 1)

    def _poll(self, max_readings: int, timeout_s: float, limit: float
              ) -> list[Sample | SourceEvent]:
        out: list[Sample | SourceEvent] = []
        budget = max_readings
        while self._heap and budget > 0:
            ts, _, tag = self._heap[0]
            if ts > limit:
                break
            heapq.heappop(self._heap)
            self._emit_events(tag, ts, out)
            values = self._sample(tag, ts)
            if values:
                out.append(Sample(tag, ts, values))
                budget -= len(values)
            self._clock_ms = ts
            nxt = ts + self._interval_ms[tag]
            self._next_ms[tag] = nxt
            if nxt < self._end_ms:
                heapq.heappush(self._heap, (nxt, self._assets[tag].index, tag))
            else:
                self._next_ms[tag] = self._end_ms
        if not self._heap:
            for tag in self._timelines:
                self._emit_events(tag, self._end_ms, out)
            self._clock_ms = max(self._clock_ms, self._end_ms - 1)
        if not out and self.speed is not None and self._heap:
            time.sleep(min(timeout_s, 0.05))
        return out

    def checkpoint(self) -> str | None:
        return json.dumps({"start_ms": self._start_ms, "end_ms": self._end_ms,
                           "seed": self.fleet.seed,
                           "next_ms": self._next_ms, "next_event": self._next_event,
                           "interval_ms": self._interval_ms}, sort_keys=True)

    def restore(self, checkpoint: str) -> None:
        state = json.loads(checkpoint)
        if (state.get("start_ms"), state.get("seed")) != (self._start_ms, self.fleet.seed):
            raise CheckpointMismatch("the spool's checkpoint is of another simulated run (other "
                                     "start or seed); give the same --start and --seed to "
                                     "resume it")
        for tag in self._next_ms:
            if tag in state["next_ms"]:
                self._next_ms[tag] = int(state["next_ms"][tag])
                self._next_event[tag] = int(state["next_event"][tag])
                self._interval_ms[tag] = int(state["interval_ms"][tag])
        self._clock_ms = min(self._next_ms.values(), default=self._start_ms)
        for model in self._models.values():
            model.active_until = -1
        self._sim0 = self._clock_ms
        self._wall0 = None
        self._rebuild_heap()

    def skip_to(self, ts_ms: int) -> None:
        """Start the stream at ``ts_ms``: no sample or event before it is produced (each
        asset's next sample is its first on its own sampling grid at or after ``ts_ms``).

        Readings are a pure function of the world and the time, so what follows is exactly
        what a run from the start would have produced from ``ts_ms`` on, without computing
        the samples before it.
        """
        for tag, nxt in self._next_ms.items():
            if nxt >= ts_ms:
                continue
            interval = self._interval_ms[tag]
            self._next_ms[tag] = nxt + -(-(ts_ms - nxt) // interval) * interval
            events = self._timelines[tag].events
            i = self._next_event[tag]
            while i < len(events) and events[i][0].ts_ms < ts_ms:
                i += 1
            self._next_event[tag] = i
        self._clock_ms = max(self._clock_ms, min(self._next_ms.values(), default=ts_ms))
        for model in self._models.values():
            model.active_until = -1
        self._sim0 = self._clock_ms
        self._wall0 = None
        self._rebuild_heap()

    def set_sampling_interval(self, asset_tag: str, seconds: float) -> None:
        if asset_tag in self._interval_ms:
            self._interval_ms[asset_tag] = max(1, int(seconds * 1000))
            self._models[asset_tag].active_until = -1

    def components(self, asset_tag: str, at_ms: int | None = None) -> list[dict[str, str]]:
        tl = self._timelines[asset_tag]
        t = at_ms if at_ms is not None else max(
            self._start_ms, min(self._next_ms[asset_tag], self._end_ms) - 1)
        return [{"component_type": ctype, "serial_no": life.serial_no, "part_no": life.part_no}
                for ctype in tl.lives for life in (tl.life_at(ctype, t),)]

    def firmware(self, asset_tag: str) -> str | None:
        model = self._assets[asset_tag].model_id
        return f"{model.replace('-', '').lower()}-ctl-3.{self._assets[asset_tag].index % 4}.2"

    def clock_ms(self) -> int:
        return self._clock_ms

    # -- internals ----------------------------------------------------------------------
    def _rebuild_heap(self) -> None:
        self._heap = [(ts, self._assets[tag].index, tag) for tag, ts in self._next_ms.items()
                      if ts < self._end_ms]
        heapq.heapify(self._heap)

    def _paced_limit_ms(self) -> float:
        if self.speed is None:
            return float("inf")
        now = time.monotonic()
        if self._wall0 is None:
            self._wall0 = now
        return self._sim0 + (now - self._wall0) * self.speed * 1000

    def _emit_events(self, tag: str, before_ms: int, out: list[Sample | SourceEvent]) -> None:
        tl = self._timelines[tag]
        i = self._next_event[tag]
        while i < len(tl.events) and tl.events[i][0].ts_ms < before_ms:
            event, changed = tl.events[i]
            out.append(SourceEvent(tag, event, changed))
            i += 1
        self._next_event[tag] = i

    def _asset_model(self, tag: str) -> _AssetModel:
        """Per-level tables of one asset's sensors: the steady value (ambient added for
        temperatures), the noise and how a wear effect scales."""
        asset = self._assets[tag]
        tl = self._timelines[tag]
        sensors = model_spec(asset.model_id)["sensors"]
        ratios = (0.0, *self.world.speed_ratios)
        names, thermal, startup = [], [], []
        base: list[list[float]] = [[] for _ in ratios]
        noise: list[list[float]] = [[] for _ in ratios]
        gain: list[list[float]] = [[] for _ in ratios]
        for name, spec in sensors.items():
            normal = float(spec["normal"])
            exponent = float(spec.get("load_exponent", 0.0))
            is_thermal = spec["unit"] == "degC"
            names.append(name)
            thermal.append(1.0 if is_thermal else 0.0)
            startup.append((is_thermal, exponent, float(spec.get("startup", 0.0)), normal))
            stopped = float(spec.get("stopped", _STOPPED_BY_UNIT.get(spec["unit"], 0.0)))
            for level, ratio in enumerate(ratios):
                if is_thermal:
                    rise = (normal - _REFERENCE_AMBIENT_C) * ratio ** exponent if level else 0.0
                    base[level].append(rise)
                    gain[level].append(normal)
                elif level:
                    base[level].append(normal * ratio ** exponent)
                    gain[level].append(normal * ratio ** exponent)
                else:
                    base[level].append(stopped)
                    gain[level].append(0.0)
                noise[level].append(float(spec["noise"]) * (1.0 if level or is_thermal
                                                            else 0.2))
        index = {name: k for k, name in enumerate(names)}
        faults = [(index[f.sensor], f) for f in tl.sensor_faults if f.sensor in index]
        rows = tuple(tuple(zip(names, base[level], thermal, [k * 7919 for k in range(len(names))],
                               noise[level], strict=True)) for level in range(len(ratios)))
        return _AssetModel(
            rows=rows, names=tuple(names), digits=(4,) * len(names), index=index,
            ratios=ratios, thermal_mask=tuple(thermal),
            base=tuple(map(tuple, base)), noise=tuple(map(tuple, noise)),
            gain=tuple(map(tuple, gain)), startup=tuple(startup),
            normal=tuple(float(spec["normal"]) for spec in sensors.values()),
            faults=faults, components=list(tl.lives), thermal=any(thermal))

    def _sample(self, tag: str, ts: int) -> list[tuple[str, float]]:
        model = self._models[tag]
        values = self._true_values(tag, ts)
        if model.faults and (model.active or not model.active_from <= ts < model.active_until):
            values = self._with_sensor_faults(tag, model, ts, values)
        return values

    def _true_values(self, tag: str, ts: int) -> list[tuple[str, float]]:
        """What the sensors would read if they were all sound."""
        tl = self._timelines[tag]
        model = self._models[tag]
        sch = tl.schedule
        assert sch is not None
        i = bisect.bisect_right(sch.starts, ts) - 1
        if i < 0:
            i = 0
        level = sch.levels[i]
        seg_start = sch.starts[i]
        if model.revision != tl.revision:
            model.state = [_UNKNOWN] * len(model.components)
            model.revision, model.active_until_ms = tl.revision, -1
        if not model.active_from_ms <= ts < model.active_until_ms:
            self._refresh_components(tl, model, ts)
        shift: list[tuple[int, float]] = []
        failed_at = -1
        if model.wearing:
            accrued = sch.wear[i] + (ts - seg_start) * sch.rates[i]
            for kind, life, effects in model.wearing:
                if kind == _FAILED:
                    failed_at = max(failed_at, life.failed_ms)
                    w = 1.0
                else:
                    w = life.wear_of(accrued)
                for k, e in effects:
                    shift.append((k, e * w))
        prev = sch.levels[i - 1] if i > 0 else level
        if failed_at >= 0:  # stopped by the failure
            if failed_at > seg_start:
                prev, seg_start = level, failed_at
            level = 0
        h = _mix(ts, self._assets[tag].index)
        normals = self._normals
        if not model.thermal:
            ambient = 0.0
        elif ts // _AMBIENT_STEP_MS == model.ambient_step:
            ambient = model.ambient
        else:  # the ambient moves slowly: taken at the start of its step (a pure function)
            step = ts // _AMBIENT_STEP_MS
            ambient = model.ambient = ambient_c(step * _AMBIENT_STEP_MS, tl.ambient_mean_c,
                                                self.world)
            model.ambient_step = step
        rows = model.rows[level]
        vals = [b + t * ambient + normals[(h + o) & _NOISE_MASK] * n for _, b, t, o, n in rows]
        if level:
            if shift:
                gain = model.gain[level]
                for k, amount in shift:
                    vals[k] += amount * gain[k]
        else:
            vals = [v if v > 0.0 or t else 0.0
                    for v, t in zip(vals, model.thermal_mask, strict=True)]
        if i > 0 and prev != level and ts - seg_start < self._slow_ms:
            self._transient(model, vals, level, prev, ts - seg_start)
        return list(zip(model.names, map(round, vals, model.digits), strict=True))

    def _refresh_components(self, tl: AssetTimeline, model: _AssetModel, ts: int) -> None:
        """The components that wear or are failed at ``ts``, and the span that holds for."""
        lo, hi = -_NEVER, _NEVER
        wearing = []
        for c, state in enumerate(model.state):
            if not state[0] <= ts < state[1]:
                state = model.state[c] = self._component_state(tl, model, c, ts)
            lo, hi = max(lo, state[0]), min(hi, state[1])
            if state[2] != _QUIET:
                wearing.append((state[2], state[3], state[4]))
        model.wearing, model.active_from_ms, model.active_until_ms = wearing, lo, hi

    @staticmethod
    def _component_state(tl: AssetTimeline, model: _AssetModel, c: int, ts: int
                         ) -> tuple[int, int, int, ComponentLife, tuple[tuple[int, float], ...]]:
        """``(from, until, kind, life, effects)``: how component ``c`` stands at ``ts`` and
        how long that holds (kind: quiet, wearing or failed; effects by sensor index)."""
        chain = tl.lives[model.components[c]]
        j = 0
        while j + 1 < len(chain) and chain[j + 1].installed_ms <= ts:
            j += 1
        life = chain[j]
        until = chain[j + 1].installed_ms if j + 1 < len(chain) else _NEVER
        effects = tuple((model.index[s], e) for s, e in life.effects if s in model.index)
        if ts >= life.failed_ms:
            return life.failed_ms, until, _FAILED, life, effects
        if ts >= life.onset_ms:
            return life.onset_ms, min(until, life.failed_ms), _WEARING, life, effects
        return life.installed_ms, min(until, life.onset_ms, life.failed_ms), _QUIET, life, ()

    def _transient(self, model: _AssetModel, vals: list[float], level: int, prev: int,
                   dt: int) -> None:
        """After a change of level: temperatures lag (thermal time constant); after a start
        the speed ramps up and some sensors overshoot."""
        lag = math.exp(-dt / self._tau_ms)
        before, after = model.base[prev], model.base[level]
        for k, t in enumerate(model.thermal_mask):
            if t:
                vals[k] += (before[k] - after[k]) * lag
        if prev == 0 and dt < self._startup_ms:
            ramp = min(1.0, dt / (self._startup_ms / 4))
            overshoot = math.exp(-dt / (self._startup_ms / 3))
            ratio = model.ratios[level]
            for k, (t, exponent, kick, normal) in enumerate(model.startup):
                if not t:
                    steady = after[k]
                    now = normal * (ratio * ramp) ** exponent * (1.0 + kick * overshoot)
                    vals[k] += now - steady

    def _with_sensor_faults(self, tag: str, model: _AssetModel, ts: int,
                            values: list[tuple[str, float]]) -> list[tuple[str, float]]:
        if not model.active_from <= ts < model.active_until:
            self._activate_faults(tag, model, ts)
        if not model.active:
            return values
        out: list[tuple[str, float] | None] = list(values)
        for k, fault in model.active:
            item = out[k]
            if item is None:
                continue
            kind = fault.kind
            if kind == "dropout":
                out[k] = None
                continue
            name, v = item
            normal = model.normal[k]
            if kind == "stuck":
                v = self._stuck_value(tag, k, fault.start_ms)
            elif kind == "drift":
                v += normal * fault.value * (ts - fault.start_ms) / DAY_MS
            else:  # replaced (an offset) or spike
                v += normal * fault.value
            out[k] = (name, round(v, 4))
        return [item for item in out if item is not None]

    def _activate_faults(self, tag: str, model: _AssetModel, ts: int) -> None:
        """The faults in force at ``ts`` and how long that set holds."""
        lo, hi = self._start_ms, _NEVER
        active: list[tuple[int, SensorFault]] = []
        interval = self._interval_ms[tag]
        # stuck first: a stuck sensor also keeps its offset; dropouts win over everything
        order = {"replaced": 0, "drift": 1, "spike": 2, "stuck": 3, "dropout": 4}
        for k, fault in model.faults:
            end = fault.start_ms + interval if fault.kind == "spike" else fault.end_ms
            if fault.start_ms <= ts < end:
                active.append((k, fault))
                lo, hi = max(lo, fault.start_ms), min(hi, end)
            elif fault.start_ms > ts:
                hi = min(hi, fault.start_ms)
            elif end <= ts:
                lo = max(lo, end)
        active.sort(key=lambda item: order[item[1].kind])
        model.active, model.active_from, model.active_until = active, lo, hi

    def _stuck_value(self, tag: str, k: int, at_ms: int) -> float:
        key = (tag, k, at_ms)
        if key not in self._stuck_cache:
            self._stuck_cache[key] = self._true_values(tag, at_ms)[k][1]
        return self._stuck_cache[key]


@dataclass
class _AssetModel:
    """What sampling one asset needs, precomputed per load level (0 stopped): ``base`` the
    steady value (for temperatures: the rise above the ambient), ``noise`` its standard
    deviation, ``gain`` what a wear effect of 1 adds; ``rows`` the same by level as
    ``(name, base, thermal, noise offset, noise)``; plus the caches of the sampling."""

    rows: tuple[tuple[tuple[str, float, float, int, float], ...], ...]
    names: tuple[str, ...]
    digits: tuple[int, ...]
    index: dict[str, int]
    ratios: tuple[float, ...]
    thermal_mask: tuple[float, ...]
    base: tuple[tuple[float, ...], ...]
    noise: tuple[tuple[float, ...], ...]
    gain: tuple[tuple[float, ...], ...]
    startup: tuple[tuple[bool, float, float, float], ...]
    normal: tuple[float, ...]
    faults: list[tuple[int, SensorFault]]
    components: list[str]
    thermal: bool = True
    state: list[tuple] = field(default_factory=list)
    wearing: list[tuple[int, ComponentLife, tuple[tuple[int, float], ...]]] = field(
        default_factory=list)
    active_from_ms: int = 0
    active_until_ms: int = -1
    revision: int = -1
    active: list[tuple[int, SensorFault]] = field(default_factory=list)
    active_from: int = 0
    active_until: int = -1
    ambient: float = 0.0
    ambient_step: int = -1


def _mix(ts_ms: int, asset_index: int) -> int:
    """A well-mixed 64-bit hash of (time, asset): where a sample's noise comes from."""
    h = (ts_ms * 0x9E3779B97F4A7C15 + (asset_index + 1) * 0xBF58476D1CE4E5B9) & _U64
    h ^= h >> 31
    h = (h * 0x94D049BB133111EB) & _U64
    return h ^ (h >> 29)
