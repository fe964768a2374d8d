"""Every knob of the simulated world in one seeded configuration, and the true lives it implies.

:class:`WorldConfig` holds how the simulated equipment behaves: when wear shows, how it
progresses, how assets operate, how often sensors misbehave, what maintenance does, and how
far the datasheet lives of the catalogue are from the true ones. The defaults are realistic;
every random draw is seeded by the fleet's ``seed`` (:func:`~assetwatch.sim.fleet.build_fleet`),
so a (fleet, configuration) pair is one reproducible world.

The catalogue (``catalogue.json``) holds the *datasheet* lives, the ones the product is given
as master data. :func:`true_life` is what the simulated parts actually do: the datasheet's
Weibull scale times a factor drawn once per (seed, model, component) within
``1 +/- datasheet_scale_error`` and its shape times ``1 +/- datasheet_shape_error``.

Examples
--------
>>> cfg = WorldConfig()
>>> cfg.shock_share, cfg.onset_fraction
(0.2, (0.4, 0.9))
>>> WorldConfig.from_options({"shock_share": 0.5}).shock_share
0.5
>>> WorldConfig.from_options({"shock_shar": 0.5})
Traceback (most recent call last):
...
ValueError: world: unknown option 'shock_shar'
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assetwatch.sim.catalogue import model_spec

__all__ = ["DEFAULT_WORLD", "WorldConfig", "datasheet_life", "true_life"]

Range = tuple[float, float]


@dataclass(frozen=True)
class WorldConfig:
    """How the simulated fleet behaves (times in days unless a name says otherwise).

    Wear and life
        ``onset_fraction``: where in its life a unit's wear starts to show, drawn uniformly per
        unit. ``wear_exponent``: per unit, how fast wear accelerates once visible (wear level
        ``x ** exponent`` of the progress ``x`` from onset to failure). ``effect_spread``:
        per unit, the log-normal spread of how strongly wear shows in the sensors.
        ``load_wear_exponent``: wear accrues at ``speed ratio ** exponent`` while running (and
        ``standstill_wear_rate`` while stopped), normalised so the fleet's average duty wears
        at the catalogue rate: a unit on a 24/7 high-load duty lives shorter than the same part
        on a day shift.
    Failures without warning and warnings without failure
        ``shock_share``: share of failures that come with no precursor (a random shock at a
        random age). ``stabilised_share``: share of visible onsets that level off at
        ``stabilised_level`` (a fraction of full wear) and never fail; such a part is
        replaced at an overhaul ``overhaul_after`` (fraction of its life) later.
    Operation
        ``duty_profiles``: ``(profile, share)`` of assets running ``continuous`` (24/7),
        ``two_shift`` (weekdays 06-22, some Saturdays) or ``day_shift`` (weekdays 07-17).
        ``speed_ratios``: the load levels (operating speed as a fraction of nominal), the
        highest chosen with ``high_load_share``; the level changes with demand about every
        ``load_change_hours``. ``demand_stops_per_week`` unplanned stops of
        ``demand_stop_hours``. ``startup_minutes``: speed ramp and transients after a start;
        ``thermal_time_constant_min``: how temperatures follow. Ambient temperature: a site
        mean within ``ambient_mean_c``, a seasonal swing of ``seasonal_amplitude_c`` (peak
        late July) and a daily one of ``daily_amplitude_c``.
    Sensor faults (rates per sensor and year; they are not equipment faults)
        ``dropouts_per_year`` of ``dropout_hours`` (readings missing), ``stuck_per_year`` of
        ``stuck_hours`` (value frozen), ``spikes_per_year`` (one reading off by
        ``spike_size`` of normal), ``drifts_per_year`` drifting ``drift_per_day`` (fraction
        of normal) for ``drift_days`` until the sensor is replaced with a recalibrated one,
        and ``sensor_replacements_per_year`` other replacements; a replacement leaves an
        offset of ``recalibration_offset`` (standard deviation, fraction of normal).
    Maintenance
        ``repair_days``: failure to repair. ``imperfect_repair_share`` of repairs leave
        the new part with ``imperfect_repair_used`` of its life already used.
        ``pm_skipped_share`` of planned tasks are not done; a done task renews the modes it
        restores (catalogue ``restored_by``) with probability ``pm_effectiveness``.
        ``auto_repair``: failures are repaired by the simulator after ``repair_days``
        (False: a failed component stays failed until :meth:`~assetwatch.sim.lifecycle.
        AssetTimeline.apply_maintenance` repairs it).
    Master data
        ``datasheet_scale_error`` / ``datasheet_shape_error``: how far the true Weibull scale
        and shape may be from the catalogue's datasheet values (uniform, per model and
        component, seeded).
    """

    onset_fraction: Range = (0.4, 0.9)
    wear_exponent: Range = (1.5, 3.0)
    effect_spread: float = 0.3
    load_wear_exponent: float = 2.0
    standstill_wear_rate: float = 0.05

    shock_share: float = 0.2
    stabilised_share: float = 0.15
    stabilised_level: Range = (0.15, 0.45)
    overhaul_after: Range = (1.3, 2.0)

    duty_profiles: tuple[tuple[str, float], ...] = (
        ("continuous", 0.4), ("two_shift", 0.4), ("day_shift", 0.2))
    speed_ratios: tuple[float, ...] = (0.8, 1.0)
    high_load_share: float = 0.6
    load_change_hours: float = 6.0
    demand_stops_per_week: float = 0.5
    demand_stop_hours: Range = (2.0, 12.0)
    startup_minutes: float = 20.0
    thermal_time_constant_min: float = 40.0
    ambient_mean_c: Range = (10.0, 22.0)
    seasonal_amplitude_c: float = 8.0
    daily_amplitude_c: float = 4.0

    dropouts_per_year: float = 6.0
    dropout_hours: Range = (0.25, 24.0)
    stuck_per_year: float = 0.3
    stuck_hours: Range = (2.0, 72.0)
    spikes_per_year: float = 4.0
    spike_size: Range = (0.3, 1.0)
    drifts_per_year: float = 0.15
    drift_per_day: Range = (0.001, 0.005)
    drift_days: Range = (20.0, 120.0)
    sensor_replacements_per_year: float = 0.05
    recalibration_offset: float = 0.02

    repair_days: Range = (0.5, 4.0)
    imperfect_repair_share: float = 0.1
    imperfect_repair_used: Range = (0.3, 0.7)
    pm_skipped_share: float = 0.1
    pm_effectiveness: float = 0.8
    auto_repair: bool = True

    datasheet_scale_error: float = 0.3
    datasheet_shape_error: float = 0.1

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.name.startswith("_"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(
                    tuple(v) if isinstance(v, list) else v for v in value))
        _check(self)

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> WorldConfig:
        """A configuration from a mapping of knob names (a JSON object, for example); a
        missing knob keeps its default. ``ValueError`` names an unknown or bad knob."""
        names = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
        for key in options or {}:
            if key not in names:
                raise ValueError(f"world: unknown option {key!r}")
        return cls(**dict(options or {}))

    def as_options(self) -> dict[str, Any]:
        """The knobs as a JSON-ready mapping (the inverse of :meth:`from_options`)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not f.name.startswith("_")}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


_SHARES = ("shock_share", "stabilised_share", "high_load_share", "imperfect_repair_share",
           "pm_skipped_share", "pm_effectiveness")
_RATES = ("effect_spread", "load_wear_exponent", "demand_stops_per_week", "startup_minutes",
          "seasonal_amplitude_c", "daily_amplitude_c", "dropouts_per_year", "stuck_per_year",
          "spikes_per_year", "drifts_per_year", "sensor_replacements_per_year",
          "recalibration_offset")
_RANGES = ("onset_fraction", "wear_exponent", "stabilised_level", "overhaul_after",
           "demand_stop_hours", "ambient_mean_c", "dropout_hours", "stuck_hours", "spike_size",
           "drift_per_day", "drift_days", "repair_days", "imperfect_repair_used")


def _check(cfg: WorldConfig) -> None:
    def bad(name: str, why: str) -> ValueError:
        return ValueError(f"world.{name}: {why}, got {getattr(cfg, name)!r}")

    for name in _SHARES:
        v = getattr(cfg, name)
        if not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
            raise bad(name, "must be a share between 0 and 1")
    for name in _RATES:
        v = getattr(cfg, name)
        if not isinstance(v, int | float) or v < 0:
            raise bad(name, "must be a number >= 0")
    for name in _RANGES:
        v = getattr(cfg, name)
        if (not isinstance(v, tuple) or len(v) != 2
                or not all(isinstance(x, int | float) for x in v) or v[0] > v[1]):
            raise bad(name, "must be a pair [low, high] with low <= high")
    lo, hi = cfg.onset_fraction
    if lo < 0 or hi >= 1:
        raise bad("onset_fraction", "must lie within [0, 1)")
    if cfg.overhaul_after[0] <= 1.0:
        raise bad("overhaul_after", "must be later than the end of life (> 1)")
    if not 0 < cfg.standstill_wear_rate <= 1:
        raise bad("standstill_wear_rate", "must be within (0, 1]")
    if not cfg.speed_ratios or not all(isinstance(r, int | float) and 0 < r <= 1.5
                                       for r in cfg.speed_ratios):
        raise bad("speed_ratios", "must be one or more load levels within (0, 1.5]")
    if list(cfg.speed_ratios) != sorted(cfg.speed_ratios):
        raise bad("speed_ratios", "must be sorted from the lowest load to the highest")
    known = {"continuous", "two_shift", "day_shift"}
    if (not cfg.duty_profiles or any(not isinstance(p, tuple) or len(p) != 2 or p[0] not in known
                                     or not isinstance(p[1], int | float) or p[1] < 0
                                     for p in cfg.duty_profiles)
            or sum(p[1] for p in cfg.duty_profiles) <= 0):
        raise bad("duty_profiles", f"must be [profile, share] pairs of {sorted(known)}")
    if cfg.load_change_hours <= 0 or cfg.thermal_time_constant_min <= 0:
        raise ValueError("world.load_change_hours and world.thermal_time_constant_min must be "
                         "positive")
    if cfg.datasheet_scale_error >= 1 or cfg.datasheet_shape_error >= 1:
        raise bad("datasheet_scale_error", "errors must be below 1")


DEFAULT_WORLD = WorldConfig()


def datasheet_life(model_id: str, component_type: str) -> tuple[float, float]:
    """``(weibull_beta, weibull_eta_days)`` of the catalogue: what the master data say."""
    spec = model_spec(model_id)["components"][component_type]
    return float(spec["weibull_beta"]), float(spec["weibull_eta_days"])


def true_life(seed: int, model_id: str, component_type: str,
              world: WorldConfig = DEFAULT_WORLD) -> tuple[float, float]:
    """``(weibull_beta, weibull_eta_days)`` the simulated parts actually follow.

    The datasheet's values times factors drawn once per (seed, model, component): scale
    within ``1 +/- world.datasheet_scale_error``, shape within ``1 +/-
    world.datasheet_shape_error``. The eta is in days of wear at the fleet's average duty.
    """
    beta, eta = datasheet_life(model_id, component_type)
    rng = random.Random(f"{seed}/{model_id}/{component_type}/true-life")
    scale = 1.0 + rng.uniform(-1.0, 1.0) * world.datasheet_scale_error
    shape = 1.0 + rng.uniform(-1.0, 1.0) * world.datasheet_shape_error
    return beta * shape, eta * scale
