"""The simulated fleet as an edge agent source plug-in, built from the agent's options.

The edge agent names it ``assetwatch.sim.site:SimulatedSite`` (configuration ``"source":
{"type": "simulator", ...}`` or ``assetwatch edge simulate``) and loads it by name, so the
gateway package never imports the simulated world.

>>> site = SimulatedSite(sites=1, assets_per_site=2, seed=3, days=1, sample_interval_s=3600,
...                      start="2026-01-01T00:00:00+00:00")
>>> [a.asset_tag for a in site.assets()]
['S01-P001', 'S01-P002']
>>> len([item for item in site.poll(1000, 0) if hasattr(item, "values")])
48
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assetwatch.core.source import Sample, SourceEvent
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.sim.truth import write_ground_truth
from assetwatch.sim.world import WorldConfig

__all__ = ["SimulatedSite"]


class SimulatedSite(FleetSimulator):
    """``sites`` x ``assets_per_site`` simulated assets (fleet ``seed``) for ``days`` days
    from ``start`` (ISO time; default ``days`` before now), sampled every
    ``sample_interval_s`` simulated seconds, at ``speed`` simulated seconds per second (None:
    as fast as possible). With ``ground_truth`` (a path) the failures of the window are
    written there as JSON lines (:func:`assetwatch.sim.truth.write_ground_truth`), and
    :attr:`failures` counts them. ``silent`` maps asset tags to hours before the end of the
    window from which that asset's link is down: its readings and events never reach the
    agent (a cut cable or a dead modem; the equipment and the ground truth go on).
    ``world`` holds knobs of :class:`~assetwatch.sim.world.WorldConfig` (a JSON object in
    the agent's configuration); the others keep their realistic defaults.

    Bad options raise ``ValueError`` naming the option.
    """

    def __init__(self, *, sites: int = 1, assets_per_site: int = 3, seed: int = 7,
                 days: float = 30.0, sample_interval_s: float = 600.0, start: str | None = None,
                 speed: float | None = None, ground_truth: str | Path | None = None,
                 silent: dict[str, float] | None = None,
                 world: dict[str, Any] | None = None) -> None:
        if int(sites) < 1 or int(assets_per_site) < 1:
            raise ValueError("sites and assets_per_site must be at least 1")
        if float(days) <= 0 or float(sample_interval_s) <= 0:
            raise ValueError("days and sample_interval_s must be positive")
        if start is None:
            begin = datetime.now(UTC) - timedelta(days=float(days))
        else:
            try:
                begin = datetime.fromisoformat(str(start))
            except ValueError:
                raise ValueError(f"start: {start!r} is not an ISO time") from None
        if world is not None and not isinstance(world, dict):
            raise ValueError("world: must be an object of world options")
        config = WorldConfig.from_options(world)
        fleet = build_fleet(int(sites), int(assets_per_site), int(seed), begin)
        super().__init__(fleet, float(days), float(sample_interval_s),
                         speed=None if speed is None else float(speed), world=config)
        self.failures = 0
        if ground_truth is not None:
            self.failures = write_ground_truth(Path(ground_truth), self.timelines)
        end_ms = int((begin + timedelta(days=float(days))).timestamp() * 1000)
        unknown = sorted(set(silent or {}) - {a.asset_tag for a in self.assets()})
        if unknown:
            raise ValueError(f"silent: no asset {unknown[0]!r} in the simulated fleet")
        self._silent_from = {tag: end_ms - int(float(h) * 3_600_000)
                             for tag, h in (silent or {}).items()}

    def poll(self, max_readings: int, timeout_s: float) -> list[Sample | SourceEvent]:
        items = super().poll(max_readings, timeout_s)
        if not self._silent_from:
            return items
        return [item for item in items if not self._cut_off(item)]

    def _cut_off(self, item: Sample | SourceEvent) -> bool:
        at = item.ts_ms if isinstance(item, Sample) else item.event.ts_ms
        return at >= self._silent_from.get(item.asset, at + 1)
