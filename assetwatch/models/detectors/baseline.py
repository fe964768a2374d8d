"""Smoothed deviation from a drifting, alarm-aware baseline: the default detector."""

from __future__ import annotations

import math
import statistics
import sys
from typing import Any

from assetwatch.models.detectors.base import Detector, Sample
from assetwatch.models.detectors.sensors import is_slow_sensor

__all__ = ["RECOVER_MODES", "BaselineDeviation"]

_INF = float("inf")
#: what the recovery rule does once a sensor has settled back near its baseline (see the class
#: docstring): ``reset`` restarts its average and baseline from the settled level; ``offset``
#: does so only while that level still deviates (a full return keeps the average's memory)
RECOVER_MODES = ("reset", "offset")
#: a recovered sensor's later settle half may differ from its earlier half by this many
#: warm-up standard deviations (the unit of ``z``): more is still on its way back
_SETTLED_SD = 1.0
#: after a recovery, the sensor's baseline follows this many times faster (and is not held)
#: for one baseline time constant (``1 / base_alpha`` samples): a slow tail of the return is
#: followed instead of alarming; the same factor as ``slow_adapt``'s value in the grid
_FOLLOW_GAIN = 10.0


class BaselineDeviation(Detector):
    """Per-sensor deviation of a short average from a slow, trend-following, alarm-aware baseline.

    Each sensor is standardised with the median and standard deviation of its warm-up values,
    ``z = (x - median) / sd``, and followed by two exponentially weighted estimates:

    * a *fast* average (``fast_alpha``, about 20 samples) that smooths noise;
    * a slow *baseline* (level weight ``base_alpha``, about 200 samples, and a linear trend with
      weight ``trend_alpha``: Holt's method) that follows drift such as a warming machine.

    The deviation ``d`` of the fast average from the baseline (corrected for the lag of the fast
    average on a trend) is divided by its *scale*: the root mean square of ``d`` over warm-up
    (around zero, so a steady warm-up drift counts as normal spread), and at least
    ``rel_floor`` of the sensor's reading (0.5 %: changes within typical sensor accuracy are not
    evidence; for sensors with an arbitrary zero, such as degrees Celsius, this floor is a
    judgement call). The raw score is the root mean square of the scaled deviations over the
    sensors present; :meth:`contributions` gives each sensor's squared term.

    The baseline is *changepoint-aware*: while the calibrated score is at or above
    ``alarm_level``, each sensor whose own scaled deviation is at least ``freeze_z`` adapts
    at ``alarm_adapt`` times its normal rate (by default not at all: a large fault moving the
    baseline even slowly leaves it off the normal level when the fault ends, and that offset
    alarms on), so a fault does not become "normal" within seconds, while
    sensors that are not deviating keep following their drift. A sensor held like this for more
    than ``max_freeze`` samples in a row adapts normally again: a lasting change of operating
    point becomes the new normal instead of alarming forever.

    *Slow sensors* (temperatures, :func:`~assetwatch.models.detectors.sensors.is_slow_sensor`)
    follow load, ambient and the process with a lag of minutes: after a fault ends, a fluid or
    motor temperature stays changed for a long time while the machine is healthy again. With
    ``slow_adapt`` set, their baselines follow ``slow_adapt`` times faster (level and trend)
    and are never held, so a temperature is evidence while it moves, not for as long as it
    stays at a new level; ``None`` (the default) treats them like every other sensor. The
    default is ``None`` because on equipment a slow temperature rise is itself the precursor
    (a bearing losing its lubrication, a motor winding, degrading oil): a baseline that follows
    temperatures and never holds them absorbs it, and on the simulated fleet the pipeline then
    opens no ticket for such failures. SKAB, whose labels call a temperature that stays changed
    after a fault normal, prefers ``slow_adapt=10`` (``bench skab`` prints both).

    *Recovery* (``recover_share``, off by default): a held sensor whose readings come back
    within ``recover_share`` of the episode's largest deviation and stay there, settled, for
    one time constant of the short average (``1 / fast_alpha`` samples; the later half's mean
    within one warm-up standard deviation of the earlier half's) has seen its fault end. In
    mode ``reset`` the settled level becomes its short average and baseline at once; in mode
    ``offset`` only if that level still deviates by ``freeze_z`` or more (a full return keeps
    the short average's memory of the fault). After a reset the baseline follows ten times
    faster, and is not held, for one baseline time constant (``1 / base_alpha`` samples), so
    the tail of a slow return is followed. A machine left at a slightly different level by an
    intervention (a rotor rebalanced, a part remounted) then stops alarming; the cost is that
    a fault which falls back to a quarter of its peak and stays there is accepted as normal.
    The episode is forgotten whenever the score is below ``alarm_level``.

    Streaming: every score uses only the samples up to and including the current one.

    Parameters
    ----------
    warmup
        Samples learned before the first score (fit and calibration window).
    fast_alpha
        Weight of the fast average (0 < alpha <= 1; 1 = no smoothing).
    base_alpha
        Level weight of the baseline.
    trend_alpha
        Trend weight of the baseline (0 = no trend).
    rel_floor
        Smallest deviation scale, as a fraction of the sensor's warm-up median.
    alarm_level
        Calibrated score from which deviating sensors' baselines are held.
    alarm_adapt
        Factor applied to the baseline weights of held sensors.
    freeze_z
        Scaled deviation from which a sensor counts as deviating.
    max_freeze
        Samples after which a held sensor adapts normally again.
    slow_adapt
        Factor on the baseline weights of slow sensors, which are then never held; ``None``:
        slow sensors like any other.
    recover_share
        Share of a held episode's peak deviation a sensor must come back within for the
        recovery rule; ``None``: no recovery rule.
    recover_mode
        ``reset`` or ``offset`` (:data:`RECOVER_MODES`): what a settled recovery does.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(1)
    >>> det = BaselineDeviation(warmup=200)
    >>> for _ in range(300):
    ...     det.learn_one({"flow": 30 + rng.gauss(0, 1), "temp": 60 + rng.gauss(0, 1)})
    >>> det.score_one({"flow": 30.0, "temp": 60.0}) < 0.5
    True
    >>> for _ in range(30):
    ...     det.learn_one({"flow": 25 + rng.gauss(0, 1), "temp": 60 + rng.gauss(0, 1)})
    >>> det.score_one({"flow": 25.0, "temp": 60.0}) > 0.9
    True
    """

    name = "baseline"

    def __init__(self, warmup: int = 400, burn_in: int | None = None, fast_alpha: float = 0.05,
                 base_alpha: float = 0.005, trend_alpha: float = 0.002,
                 rel_floor: float = 0.005, alarm_level: float = 0.9, alarm_adapt: float = 0.0,
                 freeze_z: float = 3.0, max_freeze: int = 600,
                 slow_adapt: float | None = None, recover_share: float | None = None,
                 recover_mode: str = "reset") -> None:
        super().__init__(warmup=warmup, burn_in=burn_in)
        if not (0 < fast_alpha <= 1 and 0 < base_alpha <= 1 and 0 <= trend_alpha <= 1
                and 0 <= alarm_adapt <= 1):
            raise ValueError("fast_alpha, base_alpha must be in (0, 1]; trend_alpha, "
                             "alarm_adapt in [0, 1]")
        if slow_adapt is not None and slow_adapt <= 0:
            raise ValueError("slow_adapt must be positive (or None)")
        if recover_share is not None and not 0 < recover_share < 1:
            raise ValueError("recover_share must be in (0, 1) (or None)")
        if recover_mode not in RECOVER_MODES:
            raise ValueError(f"recover_mode must be one of {', '.join(RECOVER_MODES)}")
        self.fast_alpha = fast_alpha
        self.base_alpha = base_alpha
        self.trend_alpha = trend_alpha
        self.rel_floor = rel_floor
        self.alarm_level = alarm_level
        self.alarm_adapt = alarm_adapt
        self.freeze_z = freeze_z
        self.max_freeze = max_freeze
        self.slow_adapt = slow_adapt
        self.recover_share = recover_share
        self.recover_mode = recover_mode

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "fast_alpha": self.fast_alpha,
                "base_alpha": self.base_alpha, "trend_alpha": self.trend_alpha,
                "rel_floor": self.rel_floor, "alarm_level": self.alarm_level,
                "alarm_adapt": self.alarm_adapt, "freeze_z": self.freeze_z,
                "max_freeze": self.max_freeze, "slow_adapt": self.slow_adapt,
                "recover_share": self.recover_share, "recover_mode": self.recover_mode}

    # -- fit -------------------------------------------------------------------------------

    def _fit(self, samples: list[dict[str, float]]) -> None:
        names = sorted({name for sample in samples for name in sample})
        self._sensors = names
        self._center: list[float] = []
        self._inv_scale: list[float] = []
        for name in names:
            values = [s[name] for s in samples if name in s]
            center = statistics.median(values)
            sd = statistics.pstdev(values) if len(values) > 1 else 0.0
            self._center.append(center)
            self._inv_scale.append(1.0 / max(sd, 1e-3 * abs(center), 1e-9))
        first = samples[0]
        self._fast = [
            (first[n] - self._center[i]) * self._inv_scale[i] if n in first else 0.0
            for i, n in enumerate(names)
        ]
        self._base = list(self._fast)
        self._trend = [0.0] * len(names)
        self._held_for = [0] * len(names)
        self._reset_recovery()
        self._set_weights()
        self._lag = (1.0 - self.fast_alpha) / self.fast_alpha  # fast average's lag on a ramp
        self._inv_dev = [1.0] * len(names)
        self._recorded: list[list[float | None]] | None = []  # unscaled deviations in warm-up

    def _set_weights(self) -> None:
        """Per sensor: baseline level and trend weights, and whether it may be held."""
        slow = [self.slow_adapt is not None and is_slow_sensor(n) for n in self._sensors]
        gain = [self.slow_adapt if s and self.slow_adapt is not None else 1.0 for s in slow]
        self._level_w = [min(1.0, self.base_alpha * k) for k in gain]
        self._trend_w = [min(1.0, self.trend_alpha * k) for k in gain]
        self._holdable = [not s for s in slow]

    def _reset_recovery(self) -> None:
        n = len(self._sensors)
        self._peak = [0.0] * n  # largest held deviation of the current episode (0: none)
        self._calm = [0] * n  # consecutive samples back near the baseline
        self._calm_sum = [0.0] * n  # their z, earlier half of the settle window
        self._calm_late = [0.0] * n  # and later half
        self._follow = [0] * n  # samples left of following fast after a recovery

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Resume a checkpoint written before slow sensors were told apart, or before the
        recovery rule: as it behaved."""
        for name, value in state.items():  # one by one: keeps the compact attribute layout,
            object.__setattr__(self, sys.intern(name), value)  # by the names code looks up
        if "slow_adapt" not in state:
            self.slow_adapt = None
            if "_sensors" in state:
                self._set_weights()
        if "recover_share" not in state:
            self.recover_share = None
            self.recover_mode = "reset"
            if "_sensors" in state:
                self._reset_recovery()

    def _calibration_scores(self, samples: list[dict[str, float]],
                            raws: list[float]) -> list[float]:
        recorded, self._recorded = self._recorded or [], None
        kept = recorded[len(recorded) - len(raws):]
        for i in range(len(self._sensors)):
            devs = [d for row in kept if (d := row[i]) is not None]
            # around zero, not the standard deviation: a steady drift during warm-up shows as
            # a constant offset and counts as normal spread
            rms = _rms(devs)
            floor = self.rel_floor * abs(self._center[i]) * self._inv_scale[i]
            self._inv_dev[i] = 1.0 / max(rms, floor, 1e-3)
        return [_rms([d * self._inv_dev[i] for i, d in enumerate(row) if d is not None])
                for row in kept]

    # -- streaming -------------------------------------------------------------------------

    def _deviations(self, x: dict[str, float]) -> list[float | None]:
        a = self.fast_alpha
        out: list[float | None] = []
        for i, name in enumerate(self._sensors):
            value = x.get(name)
            if value is None:
                out.append(None)
                continue
            z = (value - self._center[i]) * self._inv_scale[i]
            expected = self._base[i] - self._trend[i] * self._lag
            out.append((a * z + (1.0 - a) * self._fast[i] - expected) * self._inv_dev[i])
        return out

    def _raw(self, x: dict[str, float]) -> float:
        return _rms([d for d in self._deviations(x) if d is not None])

    def _update(self, x: dict[str, float], raw: float, score: float) -> None:
        if self._recorded is not None:
            self._recorded.append(self._deviations(x))
        a = self.fast_alpha
        present = []
        for i, name in enumerate(self._sensors):
            value = x.get(name)
            if value is not None:
                z = (value - self._center[i]) * self._inv_scale[i]
                present.append((i, z, a * z + (1.0 - a) * self._fast[i]))
        self._advance(present, score >= self.alarm_level)

    def _advance(self, present: list[tuple[int, float, float]], alarm: bool) -> None:
        """Move the averages of the sensors present (``(index, z, new fast average)``)."""
        share = self.recover_share
        for i, z, fast in present:
            level, trend = self._base[i], self._trend[i]
            b, g = self._level_w[i], self._trend_w[i]
            if alarm and self._holdable[i] and \
                    (dev := abs((fast - level + trend * self._lag) * self._inv_dev[i])) \
                    >= self.freeze_z:
                self._held_for[i] += 1
                if self._held_for[i] <= self.max_freeze:
                    b *= self.alarm_adapt
                    g *= self.alarm_adapt
                if share is not None and dev > self._peak[i]:
                    self._peak[i] = dev
            else:
                self._held_for[i] = 0
            if share is not None and self._follow[i]:
                self._follow[i] -= 1
                b = min(1.0, self._level_w[i] * _FOLLOW_GAIN)
                g = min(1.0, self._trend_w[i] * _FOLLOW_GAIN)
                self._held_for[i] = 0
            elif share is not None and self._peak[i]:
                if not alarm:
                    self._peak[i] = self._calm_sum[i] = self._calm_late[i] = 0.0
                    self._calm[i] = 0
                elif self._recovered(i, z, level + trend):
                    continue
            new_level = b * z + (1.0 - b) * (level + trend)
            self._fast[i] = fast
            self._base[i] = new_level
            self._trend[i] = g * (new_level - level) + (1.0 - g) * trend

    def _recovered(self, i: int, z: float, expected: float) -> bool:
        """The recovery rule for sensor ``i`` after a held deviation (see the class docstring).

        Counts the samples back within ``recover_share`` of the episode's peak deviation; once
        ``recover_settle`` are in a row and settled (the mean of the later half within one
        warm-up standard deviation of the earlier half's: not still on its way back), their
        mean becomes the sensor's baseline and short average. Returns whether it did.
        """
        assert self.recover_share is not None
        if abs((z - expected) * self._inv_dev[i]) > self.recover_share * self._peak[i]:
            self._calm[i] = 0
            self._calm_sum[i] = self._calm_late[i] = 0.0
            return False
        n = self._calm[i] = self._calm[i] + 1
        settle = max(2, round(1.0 / self.fast_alpha))
        half = settle // 2
        if n <= half:
            self._calm_sum[i] += z
            return False
        self._calm_late[i] += z
        if n < settle:
            return False
        early, late = self._calm_sum[i] / half, self._calm_late[i] / (n - half)
        self._calm[i] = 0
        self._calm_sum[i] = self._calm_late[i] = 0.0
        if abs(late - early) > _SETTLED_SD:
            return False
        level = (early * half + late * (n - half)) / n
        self._peak[i] = 0.0
        if self.recover_mode == "offset" and \
                abs((level - expected) * self._inv_dev[i]) < self.freeze_z:
            return False  # back at its baseline: nothing to accept, the average keeps its memory
        self._fast[i] = self._base[i] = level
        self._trend[i] = 0.0
        self._held_for[i] = 0
        self._follow[i] = round(1.0 / self.base_alpha)
        return True

    def score_learn_one(self, x: Sample) -> float:
        """Score, then learn, in one pass over the sensors (same result as the two calls)."""
        calibrator = self._calibrator
        if calibrator is None or self._recorded is not None:
            return super().score_learn_one(x)
        self._n_learned += 1
        a = self.fast_alpha
        lag = self._lag
        total = 0.0
        count = 0
        present: list[tuple[int, float, float]] = []
        for i, name in enumerate(self._sensors):
            value = x.get(name)
            if value is None or value != value or value in (_INF, -_INF):
                continue
            z = (float(value) - self._center[i]) * self._inv_scale[i]
            fast = a * z + (1.0 - a) * self._fast[i]
            d = (fast - self._base[i] + self._trend[i] * lag) * self._inv_dev[i]
            total += d * d
            count += 1
            present.append((i, z, fast))
        raw = math.sqrt(total / count) if count else 0.0
        score = calibrator.score(raw)
        self._advance(present, score >= self.alarm_level)
        return score

    def rebase(self, samples: list[Sample]) -> None:
        """Accept the level of ``samples`` as the new normal (after maintenance changed the
        machine): averages and baselines of the sensors in them move to their mean, trends
        and holds are cleared; spreads and calibration stay as learned in warm-up."""
        if self._calibrator is None or self._recorded is not None or not samples:
            return
        for i, name in enumerate(self._sensors):
            values = [v for x in samples if (v := x.get(name)) is not None and v == v]
            if not values:
                continue
            z = (statistics.fmean(values) - self._center[i]) * self._inv_scale[i]
            self._fast[i] = self._base[i] = z
            self._trend[i] = 0.0
            self._held_for[i] = 0
            self._peak[i] = self._calm_sum[i] = self._calm_late[i] = 0.0
            self._calm[i] = self._follow[i] = 0

    def _explain(self, x: dict[str, float]) -> dict[str, float]:
        return {self._sensors[i]: d * d for i, d in enumerate(self._deviations(x))
                if d is not None}


def _rms(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else 0.0
