"""The simulated world's ground truth as the service benchmark scores against it.

The one place where ``bench service`` reads the simulator's truth
(:mod:`assetwatch.sim.truth`): true failures with their mode, the parts that mode needs,
whether the failure announced itself in the telemetry (a precursor), and the component
generation in service at any time. The pipeline never sees any of it; the figures and the
``oracle`` reference row do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from assetwatch.sim.fleet import Fleet, epoch_ms
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
    failures are kept for judging tickets opened near the end of the window."""

    fleet: Fleet
    end: datetime
    failures: list[TrueFailure]
    later_failures: list[TrueFailure]
    maintenance: list[TrueMaintenance]
    _timelines: dict

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
    return (str(life.part_no),)


def load_truth(fleet: Fleet, end: datetime, *, lookahead_days: int = 90) -> BenchTruth:
    """The truth of ``fleet`` until ``end`` (failures up to ``end + lookahead_days`` in
    ``later_failures``)."""
    horizon = end + timedelta(days=lookahead_days)
    truth = fleet_truth(fleet, horizon)

    def at(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, tz=fleet.start.tzinfo)

    lives = {(tag, life.component_type, life.failed_ms): life
             for tag, tl in truth.timelines.items() for chain in tl.lives.values()
             for life in chain}
    failures: list[TrueFailure] = []
    later: list[TrueFailure] = []
    for f in truth.failures:
        life = lives.get((f.asset_tag, f.component_type, epoch_ms(f.failed_at)))
        onset = getattr(life, "onset_ms", None)
        row = TrueFailure(
            f.asset_tag, f.site_id, f.model_id, f.component_type, f.failure_mode,
            _parts(life) if life is not None else (f.part_no,), f.failed_at,
            f.replaced_at, f.new_serial, _precursor(life) if life is not None else True,
            at(onset) if onset is not None else None)
        (failures if f.failed_at < end else later).append(row)
    maintenance = [TrueMaintenance(m.asset_tag, m.site_id, m.task, m.part_no, m.at)
                   for m in truth.maintenance if m.at < end]
    return BenchTruth(fleet, end, failures, later, maintenance, truth.timelines)
