"""The simulated world's ground truth as the service benchmark scores against it.

The one place where ``bench service`` reads the simulator's truth
(:mod:`assetwatch.sim.truth`): true failures with their mode, the parts that mode needs,
whether the failure announced itself in the telemetry (a precursor), and the component
generation in service at any time. The pipeline never sees any of it; the figures and the
``oracle`` reference row do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from assetwatch.sim.fleet import Fleet, epoch_ms
from assetwatch.sim.lifecycle import NEVER, AssetTimeline, ComponentLife, MaintenanceOutcome
from assetwatch.sim.truth import fleet_truth

__all__ = ["BenchTruth", "TrueFailure", "TrueMaintenance", "load_truth"]

DAY_MS = 86_400_000


@dataclass(frozen=True)
class TrueFailure:
    """One component failure of the simulated world, as scored."""

    asset_tag: str
    site_id: str
    model_id: str
    component_type: str
    failure_mode: str
    parts: tuple[str, ...]          # part numbers the failure mode needs (true diagnosis)
    failed_at: datetime
    replaced_at: datetime | None    # None: not repaired within the simulated window
    new_serial: str | None
    precursor: bool                 # degradation visible in the telemetry before it fails
    onset_at: datetime | None


@dataclass(frozen=True)
class TrueMaintenance:
    """A planned maintenance task that consumes parts."""

    asset_tag: str
    site_id: str
    task: str
    part_no: str | None
    at: datetime


@dataclass
class BenchTruth:
    """Failures (sorted by time) and maintenance up to ``end``; ``lookahead`` more days of
    failures are kept for judging tickets opened near the end of the window.

    The world is live: :meth:`apply_maintenance` changes the component lives (shared with the
    simulator that streams the telemetry, :meth:`timelines`) and the failures from then on."""

    fleet: Fleet
    end: datetime
    failures: list[TrueFailure]
    later_failures: list[TrueFailure]
    maintenance: list[TrueMaintenance]
    _timelines: dict

    @property
    def timelines(self) -> dict[str, AssetTimeline]:
        """The assets' timelines (to stream with :class:`~assetwatch.sim.simulator.
        FleetSimulator`: maintenance applied here changes what it streams)."""
        return self._timelines

    def failure_of_part_in_service(self, asset_tag: str, component_type: str,
                                   t: datetime) -> datetime | None:
        """When the component generation in service at ``t`` fails (possibly after the
        window: the timelines run to the end of the lookahead); None when it never does (it
        stabilises and is renewed first)."""
        life = self._timelines[asset_tag].life_at(component_type, epoch_ms(t))
        if life.failed_ms >= epoch_ms(self.end) + 10 * 365 * DAY_MS:
            return None
        return datetime.fromtimestamp(life.failed_ms / 1000, tz=self.fleet.start.tzinfo)

    def component_types(self, asset_tag: str) -> list[str]:
        return sorted(self._timelines[asset_tag].lives)

    def wear_visible(self, asset_tag: str, component_type: str, t: datetime) -> bool:
        """Whether a technician on site at ``t`` finds the component worn or failed: its
        wear has begun to show (the precursor's onset, never for a shock) or it has failed."""
        life = self._timelines[asset_tag].life_at(component_type, epoch_ms(t))
        at = epoch_ms(t)
        return life.failed_ms <= at or (life.precursor and life.onset_ms <= at)

    def mode_parts_in_service(self, asset_tag: str, component_type: str, t: datetime
                              ) -> tuple[str, ...]:
        """The parts a repair of the failure mode under way at ``t`` needs (the part in
        service's true diagnosis)."""
        return _parts(self._timelines[asset_tag].life_at(component_type, epoch_ms(t)))

    def serial_in_service(self, asset_tag: str, component_type: str, t: datetime) -> str:
        return self._timelines[asset_tag].life_at(component_type, epoch_ms(t)).serial_no

    def failure_in_service(self, asset_tag: str, component_type: str, t: datetime
                           ) -> TrueFailure | None:
        """The failure of the component generation in service at ``t`` within the timelines
        (None: it does not fail there)."""
        tl = self._timelines[asset_tag]
        life = tl.life_at(component_type, epoch_ms(t))
        return _true_failure(tl, life) if life.failed_ms < tl.end_ms else None

    def failures_from(self, asset_tag: str, component_type: str, t: datetime
                      ) -> list[TrueFailure]:
        """The component's failures at or after ``t`` up to ``end``, in time order."""
        tl = self._timelines[asset_tag]
        lo, hi = epoch_ms(t), epoch_ms(self.end)
        return [_true_failure(tl, life) for life in tl.lives[component_type]
                if lo <= life.failed_ms < hi]

    def apply_maintenance(self, asset_tag: str, component_type: str, at: datetime,
                          parts: tuple[str, ...] | list[str]) -> MaintenanceOutcome:
        """A technician fits ``parts`` to the component at ``at`` (see
        :meth:`~assetwatch.sim.lifecycle.AssetTimeline.apply_maintenance`): when they cover the
        failure mode, its life ends and the failures from ``at`` on are redrawn."""
        outcome = self._timelines[asset_tag].apply_maintenance(component_type, epoch_ms(at),
                                                               parts)
        self.failures, self.later_failures = _split(self._timelines, self.end)
        return outcome


    def apply_planned_task(self, asset_tag: str, task: str, at: datetime,
                           part_no: str | None = None) -> list[str]:
        """A preventive work order's ``task`` done at ``at`` (see :meth:`~assetwatch.sim.
        lifecycle.AssetTimeline.apply_planned_task`): returns the components it renewed,
        whose failures from ``at`` on are redrawn."""
        renewed = self._timelines[asset_tag].apply_planned_task(task, epoch_ms(at), part_no)
        if renewed:
            self.failures, self.later_failures = _split(self._timelines, self.end)
        return renewed


def _true_failure(tl: AssetTimeline, life: ComponentLife) -> TrueFailure:
    chain = tl.lives[life.component_type]
    i = chain.index(life)
    nxt = chain[i + 1] if i + 1 < len(chain) else None
    asset = tl.asset
    return TrueFailure(
        asset.asset_tag, asset.site_id, asset.model_id, life.component_type,
        life.failure_mode, _parts(life), _at(life.failed_ms),
        None if life.replaced_ms >= NEVER else _at(life.replaced_ms),
        nxt.serial_no if nxt else None, _precursor(life),
        _at(life.onset_ms) if life.precursor else None)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _split(timelines: dict[str, AssetTimeline], end: datetime
           ) -> tuple[list[TrueFailure], list[TrueFailure]]:
    """Failures within the timelines, before ``end`` and after it, each in time order."""
    rows = sorted((_true_failure(tl, life) for tl in timelines.values()
                   for chain in tl.lives.values() for life in chain
                   if tl.start_ms <= life.failed_ms < tl.end_ms),
                  key=lambda f: (f.failed_at, f.asset_tag, f.component_type))
    return [f for f in rows if f.failed_at < end], [f for f in rows if f.failed_at >= end]


def _precursor(life: object) -> bool:
    """Whether wear shows before the failure (the richer world says per failure; a world
    without that notion gives every failure a wear onset before it)."""
    flag = getattr(life, "precursor", None)
    if flag is not None:
        return bool(flag)
    return int(getattr(life, "onset_ms", 0)) < int(getattr(life, "failed_ms", 0))


def _parts(life: object) -> tuple[str, ...]:
    parts = getattr(life, "parts", None)
    if parts:
        return tuple(str(p) for p in parts)
    return (str(getattr(life, "part_no", "")),)


def load_truth(fleet: Fleet, end: datetime, *, lookahead_days: int = 90,
               planned_until: datetime | None = None) -> BenchTruth:
    """The truth of ``fleet`` until ``end`` (failures up to ``end + lookahead_days`` in
    ``later_failures``); the world does its planned maintenance itself until
    ``planned_until`` (None: throughout), then the field service does it
    (:meth:`BenchTruth.apply_planned_task`)."""
    world = fleet_truth(fleet, end + timedelta(days=lookahead_days),
                        planned_until=planned_until)
    failures, later = _split(world.timelines, end)
    maintenance = [TrueMaintenance(m.asset_tag, m.site_id, m.task, m.part_no, m.at)
                   for m in world.maintenance if m.at < end]
    return BenchTruth(fleet, end, failures, later, maintenance, world.timelines)
