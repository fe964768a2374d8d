"""How a simulated asset operates: stops and starts, load levels, ambient, and the wear it accrues.

Each asset has a duty profile (``continuous``, ``two_shift``, ``day_shift``; see
:class:`~assetwatch.sim.world.WorldConfig`) and an hourly schedule drawn from it: stopped
outside its shifts and during unplanned demand stops, otherwise running at one of the load
levels (``speed_ratios``), which change with demand. The schedule is run-length encoded as
segments ``(start_ms, level)``, level 0 is stopped, level ``i`` runs at ``speed_ratios[i - 1]``
of nominal speed.

Wear accrues with operation: ``speed ratio ** load_wear_exponent`` wear-days per day while
running, ``standstill_wear_rate`` while stopped, normalised so that the fleet's average duty
accrues one wear-day per day. Component lives (:mod:`~assetwatch.sim.lifecycle`) are measured
in wear-days; :meth:`OperatingSchedule.time_at` turns them into calendar times.

A schedule's first hours do not depend on how long the window is (the draws run forward in
time), so a longer simulation of the same fleet starts with the same history.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from functools import cache

from assetwatch.sim.world import WorldConfig

__all__ = ["STOPPED", "OperatingSchedule", "ambient_c", "build_schedule", "site_ambient_mean"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
STOPPED = 0
#: 1970-01-01 was a Thursday: weekday (Monday 0) of epoch day ``d`` is ``(d + 3) % 7``.
_EPOCH_WEEKDAY = 3
#: Day of the year when the seasonal ambient peaks (late July, northern hemisphere).
_WARMEST_DAY = 205.0
_YEAR_DAYS = 365.2425


@dataclass
class OperatingSchedule:
    """The operating segments of one asset over ``[starts[0], end_ms)``.

    ``levels[i]`` holds from ``starts[i]`` to ``starts[i + 1]`` (the last until ``end_ms``);
    ``wear[i]`` is the wear accrued (wear-days) from ``starts[0]`` to ``starts[i]`` and
    ``rates[i]`` the wear-days per millisecond during segment ``i``. Outside the schedule
    wear accrues at the profile's long-run ``mean_rate``.
    """

    profile: str
    starts: list[int]
    levels: list[int]
    wear: list[float]
    rates: list[float]
    end_ms: int
    mean_rate: float

    def index(self, t_ms: int) -> int:
        """The segment holding ``t_ms`` (0 before the schedule)."""
        return max(0, bisect.bisect_right(self.starts, t_ms) - 1)

    def level_at(self, t_ms: int) -> int:
        """0 when stopped, else the load level (1 = lowest)."""
        return self.levels[self.index(t_ms)]

    def wear_at(self, t_ms: int) -> float:
        """Wear-days accrued from the schedule's start to ``t_ms`` (negative before it)."""
        if t_ms < self.starts[0]:
            return (t_ms - self.starts[0]) * self.mean_rate
        if t_ms >= self.end_ms:
            return self._wear_end() + (t_ms - self.end_ms) * self.mean_rate
        i = bisect.bisect_right(self.starts, t_ms) - 1
        return self.wear[i] + (t_ms - self.starts[i]) * self.rates[i]

    def time_at(self, wear: float) -> int:
        """The first time (ms) at which ``wear`` wear-days have accrued (inverse of
        :meth:`wear_at`)."""
        if wear <= 0.0:
            return self.starts[0] + math.ceil(wear / self.mean_rate)
        end = self._wear_end()
        if wear >= end:
            return self.end_ms + math.ceil((wear - end) / self.mean_rate)
        i = bisect.bisect_right(self.wear, wear) - 1
        return self.starts[i] + math.ceil((wear - self.wear[i]) / self.rates[i])

    def _wear_end(self) -> float:
        return self.wear[-1] + (self.end_ms - self.starts[-1]) * self.rates[-1]

    def segments(self) -> list[tuple[int, int, int]]:
        """``(start_ms, end_ms, level)`` of every segment."""
        ends = [*self.starts[1:], self.end_ms]
        return list(zip(self.starts, ends, self.levels, strict=True))


def _hourly_levels(rng: random.Random, profile: str, first_hour_ms: int, hours: int,
                   world: WorldConfig) -> list[int]:
    """The level of each hour, drawn forward in time."""
    n_levels = len(world.speed_ratios)
    per_hour_stop = world.demand_stops_per_week / 168.0
    per_hour_change = min(1.0, 1.0 / world.load_change_hours)
    saturday: dict[int, bool] = {}
    out: list[int] = []
    stop_until = -1
    level = n_levels
    for i in range(hours):
        t = first_hour_ms + i * HOUR_MS
        day = t // DAY_MS
        weekday = (day + _EPOCH_WEEKDAY) % 7
        hour = (t % DAY_MS) // HOUR_MS
        if profile == "continuous":
            scheduled = True
        elif profile == "two_shift":
            if weekday < 5:
                scheduled = 6 <= hour < 22
            elif weekday == 5:
                week = (day + _EPOCH_WEEKDAY) // 7
                if week not in saturday:
                    saturday[week] = rng.random() < 0.3
                scheduled = saturday[week] and 6 <= hour < 14
            else:
                scheduled = False
        else:  # day_shift
            scheduled = weekday < 5 and 7 <= hour < 17
        if per_hour_stop and rng.random() < per_hour_stop:
            stop_until = i + max(1, round(rng.uniform(*world.demand_stop_hours)))
        if not scheduled or i < stop_until:
            out.append(STOPPED)
            continue
        if not out or out[-1] == STOPPED or rng.random() < per_hour_change:
            if n_levels == 1 or rng.random() < world.high_load_share:
                level = n_levels
            else:
                level = rng.randint(1, n_levels - 1)
        out.append(level)
    return out


def _raw_rate(level: int, world: WorldConfig) -> float:
    if level == STOPPED:
        return world.standstill_wear_rate
    return world.speed_ratios[level - 1] ** world.load_wear_exponent


@cache
def _profile_rate(profile: str, world: WorldConfig) -> float:
    """Long-run raw wear rate of a duty profile (a reference year, fixed seed)."""
    levels = _hourly_levels(random.Random(f"reference/{profile}"), profile, 0, 52 * 168, world)
    return sum(_raw_rate(level, world) for level in levels) / len(levels)


@cache
def _fleet_rate(world: WorldConfig) -> float:
    total = sum(share for _, share in world.duty_profiles)
    return sum(share * _profile_rate(p, world) for p, share in world.duty_profiles) / total


def build_schedule(seed: int, asset_tag: str, start_ms: int, end_ms: int,
                   world: WorldConfig) -> OperatingSchedule:
    """The operating schedule of one asset from the hour holding ``start_ms`` to ``end_ms``."""
    rng = random.Random(f"{seed}/{asset_tag}/operation")
    names = [p for p, _ in world.duty_profiles]
    profile = rng.choices(names, weights=[s for _, s in world.duty_profiles])[0]
    first = start_ms - start_ms % HOUR_MS
    hours = max(1, -(-(end_ms - first) // HOUR_MS))
    hourly = _hourly_levels(rng, profile, first, hours, world)
    norm = _fleet_rate(world) * DAY_MS
    starts: list[int] = []
    levels: list[int] = []
    wear: list[float] = []
    rates: list[float] = []
    accrued = 0.0
    for i, level in enumerate(hourly):
        t = first + i * HOUR_MS
        if levels and levels[-1] == level:
            continue
        if starts:
            accrued += (t - starts[-1]) * rates[-1]
        starts.append(t)
        levels.append(level)
        wear.append(accrued)
        rates.append(_raw_rate(level, world) / norm)
    return OperatingSchedule(profile, starts, levels, wear, rates, max(end_ms, first + 1),
                             _profile_rate(profile, world) / norm)


def site_ambient_mean(seed: int, site_id: str, world: WorldConfig) -> float:
    """The yearly mean ambient temperature of a site (degC)."""
    return random.Random(f"{seed}/{site_id}/ambient").uniform(*world.ambient_mean_c)


def ambient_c(t_ms: int, mean_c: float, world: WorldConfig) -> float:
    """Ambient temperature at ``t_ms``: the site mean, a seasonal and a daily swing."""
    day = t_ms / DAY_MS
    seasonal = math.cos(2 * math.pi * ((day % _YEAR_DAYS) - _WARMEST_DAY) / _YEAR_DAYS)
    daily = math.cos(2 * math.pi * ((day % 1.0) - 15 / 24))
    return mean_c + world.seasonal_amplitude_c * seasonal + world.daily_amplitude_c * daily
