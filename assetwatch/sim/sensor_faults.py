"""Sensor faults that are not equipment faults: dropouts, stuck values, spikes, drift, swaps.

Each sensor of each asset has its own seeded Poisson processes (rates per sensor and year in
:class:`~assetwatch.sim.world.WorldConfig`):

``dropout``   no reading from ``start_ms`` to ``end_ms`` (the sensor is missing from samples)
``stuck``     the reading frozen at its value at ``start_ms`` until ``end_ms``
``spike``     the first reading at or after ``start_ms`` is off by ``value`` (fraction of normal)
``drift``     the reading drifts by ``value`` (fraction of normal) per day from ``start_ms``
              until ``end_ms``, when the sensor is replaced with a recalibrated one
``replaced``  a new, recalibrated sensor from ``start_ms`` (until the next replacement or the
              window's end): its reading is offset by ``value`` (fraction of normal)

The equipment behind the sensor is fine all along: a detector that raises a failure risk on
one of these is wrong, and the ground truth says so.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from assetwatch.sim.fleet import FleetAsset
from assetwatch.sim.world import WorldConfig

__all__ = ["FAULT_KINDS", "SensorFault", "draw_sensor_faults", "merged_dropouts"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
FAULT_KINDS = ("dropout", "stuck", "spike", "drift", "replaced")


@dataclass(frozen=True, slots=True)
class SensorFault:
    """One sensor fault of one asset (see the module's table for ``kind`` and ``value``)."""

    asset_tag: str
    sensor: str
    kind: str
    start_ms: int
    end_ms: int
    value: float = 0.0


def _arrivals(rng: random.Random, per_year: float, start_ms: int, end_ms: int) -> list[int]:
    """Times of a Poisson process with ``per_year`` events a year in ``[start_ms, end_ms)``."""
    out: list[int] = []
    if per_year <= 0:
        return out
    t = start_ms
    while True:
        t += int(rng.expovariate(per_year / 365.25) * DAY_MS) + 1
        if t >= end_ms:
            return out
        out.append(t)


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi))) if lo > 0 else rng.uniform(lo, hi)


def draw_sensor_faults(seed: int, asset: FleetAsset, start_ms: int, end_ms: int,
                       world: WorldConfig) -> list[SensorFault]:
    """The sensor faults of ``asset`` in the window, sorted by start. Each kind of each
    sensor has its own random stream, so the faults of the first days do not depend on the
    window's length."""
    tag = asset.asset_tag
    out: list[SensorFault] = []
    for sensor, _unit in asset.sensors:
        def rng(kind: str, sensor: str = sensor) -> random.Random:
            return random.Random(f"{seed}/{tag}/{sensor}/{kind}")

        r = rng("dropout")
        for t in _arrivals(r, world.dropouts_per_year, start_ms, end_ms):
            hours = _log_uniform(r, *world.dropout_hours)
            out.append(SensorFault(tag, sensor, "dropout", t, t + int(hours * HOUR_MS)))
        r = rng("stuck")
        for t in _arrivals(r, world.stuck_per_year, start_ms, end_ms):
            hours = _log_uniform(r, *world.stuck_hours)
            out.append(SensorFault(tag, sensor, "stuck", t, t + int(hours * HOUR_MS)))
        r = rng("spike")
        for t in _arrivals(r, world.spikes_per_year, start_ms, end_ms):
            size = r.uniform(*world.spike_size) * (1 if r.random() < 0.5 else -1)
            out.append(SensorFault(tag, sensor, "spike", t, t, size))
        swaps: list[int] = []
        r = rng("drift")
        for t in _arrivals(r, world.drifts_per_year, start_ms, end_ms):
            rate = r.uniform(*world.drift_per_day) * (1 if r.random() < 0.5 else -1)
            until = t + int(r.uniform(*world.drift_days) * DAY_MS)
            out.append(SensorFault(tag, sensor, "drift", t, until, rate))
            if until < end_ms:
                swaps.append(until)
        r = rng("replaced")
        swaps.extend(_arrivals(r, world.sensor_replacements_per_year, start_ms, end_ms))
        swaps.sort()
        r = rng("recalibration")
        for i, t in enumerate(swaps):
            until = swaps[i + 1] if i + 1 < len(swaps) else end_ms
            out.append(SensorFault(tag, sensor, "replaced", t, until,
                                   r.gauss(0.0, world.recalibration_offset)))
    out.sort(key=lambda f: (f.start_ms, f.sensor, f.kind))
    return out


def merged_dropouts(faults: list[SensorFault]) -> dict[str, list[tuple[int, int]]]:
    """``sensor -> [(start_ms, end_ms)]``: the dropouts of one asset, overlaps merged."""
    by_sensor: dict[str, list[tuple[int, int]]] = {}
    for f in sorted((f for f in faults if f.kind == "dropout"), key=lambda f: f.start_ms):
        spans = by_sensor.setdefault(f.sensor, [])
        if spans and f.start_ms <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], f.end_ms))
        else:
            spans.append((f.start_ms, f.end_ms))
    return by_sensor
