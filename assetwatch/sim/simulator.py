"""The fleet simulator: a replayable :class:`~assetwatch.core.source.Source`.

Each asset is sampled every ``sample_interval_s`` simulated seconds (per asset, changeable by
remote configuration) from the fleet's start for ``days`` days. A sensor reads its normal
value, moved by a daily load cycle, by the wear of every component that affects it (effect at
end of life times the wear level, 0 before onset, rising to 1 at failure) and by Gaussian
noise; while a component is failed and awaiting repair the asset is stopped and reads its
stopped values. Events (failures, part replacements, controller alarms, planned maintenance)
come from :mod:`assetwatch.sim.lifecycle`, in time order with the samples.

Noise is drawn from a seeded table of normal deviates at a hash of (asset, timestamp), so the
readings are a pure function of the fleet and the time: the checkpoint is just the next sample
time per asset.
Time runs as fast as possible, or ``speed`` simulated seconds per wall-clock second.
"""

from __future__ import annotations

import heapq
import json
import random
import time
from collections.abc import Sequence

from assetwatch.core.source import AssetIdentity, CheckpointMismatch, Sample, Source, SourceEvent
from assetwatch.sim.catalogue import model_spec
from assetwatch.sim.fleet import Fleet, epoch_ms
from assetwatch.sim.lifecycle import DAY_MS, AssetTimeline, build_timeline, load_factor

__all__ = ["FleetSimulator"]

#: Which sensors follow the daily load cycle, and by how much (fraction of normal).
_LOAD_SWING = {"motor_current": 0.03, "flow": 0.03, "discharge_pressure": 0.02}
#: A stopped asset reads these (by unit); temperatures fall back to the ambient.
_STOPPED_BY_UNIT = {"degC": 25.0, "bar": 1.0}
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
    """

    def __init__(self, fleet: Fleet, days: float, sample_interval_s: float,
                 speed: float | None = None) -> None:
        self.fleet = fleet
        self.days = days
        self.sample_interval_s = sample_interval_s
        self.speed = speed
        self._assets = {a.asset_tag: a for a in fleet.assets}
        self._start_ms = epoch_ms(fleet.start)
        self._end_ms = self._start_ms + int(days * DAY_MS)
        self._timelines = {a.asset_tag: build_timeline(fleet, a, self._end_ms)
                           for a in fleet.assets}
        self._interval_ms = {a.asset_tag: int(sample_interval_s * 1000) for a in fleet.assets}
        self._next_ms = {a.asset_tag: self._start_ms for a in fleet.assets}
        self._next_event = {a.asset_tag: 0 for a in fleet.assets}
        self._heap: list[tuple[int, int, str]] = []
        self._clock_ms = self._start_ms
        noise = random.Random(f"{fleet.seed}/noise")
        self._normals = [noise.gauss(0.0, 1.0) for _ in range(_NOISE_MASK + 1)]
        self._sensors = {a.asset_tag: self._sensor_table(a.model_id, a.index)
                         for a in fleet.assets}
        self._wall0: float | None = None
        self._sim0 = self._start_ms
        self._rebuild_heap()

    # -- Source interface -------------------------------------------------------------
    def assets(self) -> Sequence[AssetIdentity]:
        return [AssetIdentity(a.asset_tag, a.site_id, tuple(n for n, _ in a.sensors))
                for a in self.fleet.assets]

    @property
    def timelines(self) -> list[AssetTimeline]:
        """Component lives and events of every asset over the window (the ground truth)."""
        return list(self._timelines.values())

    @property
    def exhausted(self) -> bool:
        return not self._heap and all(
            self._next_event[tag] >= len(tl.events) for tag, tl in self._timelines.items())

    def poll(self, max_readings: int, timeout_s: float) -> list[Sample | SourceEvent]:
        out: list[Sample | SourceEvent] = []
        budget = max_readings
        limit = self._paced_limit_ms()
        while self._heap and budget > 0:
            ts, _, tag = self._heap[0]
            if ts > limit:
                break
            heapq.heappop(self._heap)
            self._emit_events(tag, ts, out)
            values = self._sample(tag, ts)
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
        self._sim0 = self._clock_ms
        self._wall0 = None
        self._rebuild_heap()

    def set_sampling_interval(self, asset_tag: str, seconds: float) -> None:
        if asset_tag in self._interval_ms:
            self._interval_ms[asset_tag] = max(1, int(seconds * 1000))

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

    @staticmethod
    def _sensor_table(model_id: str, index: int) -> list[tuple[str, float, float, float, float]]:
        """``(sensor, normal, noise, load swing, stopped value)`` of a model's sensors."""
        table = []
        for name, spec in model_spec(model_id)["sensors"].items():
            stopped = _STOPPED_BY_UNIT.get(spec["unit"], 0.0)
            table.append((name, float(spec["normal"]), float(spec["noise"]),
                          _LOAD_SWING.get(name, 0.0), stopped))
        return table

    def _sample(self, tag: str, ts: int) -> list[tuple[str, float]]:
        tl = self._timelines[tag]
        asset = self._assets[tag]
        shift: dict[str, float] = {}
        stopped = False
        for ctype in tl.lives:
            life = tl.life_at(ctype, ts)
            if life.failed_ms <= ts < life.replaced_ms:
                stopped = True
            w = life.wear(ts)
            if w > 0.0:
                for sensor, effect in life.effects:
                    shift[sensor] = shift.get(sensor, 0.0) + effect * w
        normals = self._normals
        h = _mix(ts, asset.index)
        load = load_factor(ts, asset.index * 0.7)
        values = []
        for k, (name, normal, noise, swing, stopped_value) in enumerate(self._sensors[tag]):
            z = normals[(h + k * 7919) & _NOISE_MASK]
            if stopped:
                v = max(0.0, stopped_value + z * noise * 0.2)
            else:
                v = normal * (1.0 + shift.get(name, 0.0) + swing * load) + z * noise
            values.append((name, round(v, 4)))
        return values


def _mix(ts_ms: int, asset_index: int) -> int:
    """A well-mixed 64-bit hash of (time, asset): where a sample's noise comes from."""
    h = (ts_ms * 0x9E3779B97F4A7C15 + (asset_index + 1) * 0xBF58476D1CE4E5B9) & _U64
    h ^= h >> 31
    h = (h * 0x94D049BB133111EB) & _U64
    return h ^ (h >> 29)
