"""Operating states: start-up, standstill and a load change raise no alarm on a healthy asset,
while a real fault during each of them still does."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

import pytest

from assetwatch.models.detectors.operating import (
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    OperatingStates,
)
from assetwatch.models.detectors.regimes import RegimeDetector
from assetwatch.models.monitoring.asset_state import AssetState
from assetwatch.models.monitoring.events import EventRecord, EventTracker

T0 = datetime(2026, 1, 1)
SETTLE_S = 300.0


class Pump:
    """A healthy centrifugal pump at 1 Hz: load-dependent current, flow and pressure, a
    bearing temperature that lags the load (time constant 60 s), standstill readings near zero
    (temperature falls to ambient), and optional faults: extra vibration and a bearing that
    runs hot, from a given second on."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.temp = 25.0
        self.vibration_fault_from: int | None = None

    def sample(self, t: int, load: float) -> dict[str, float]:
        g = self.rng.gauss
        on = load > 0
        target = 25.0 + (30.0 * load if on else 0.0)
        self.temp += (target - self.temp) * (1 - math.exp(-1 / 60))
        fault = self.vibration_fault_from is not None and t >= self.vibration_fault_from
        vibration = (2.2 * (0.6 + 0.4 * load) + (1.2 if fault else 0.0)) if on else 0.0
        return {
            "motor_current": max(0.0, 41.0 * load + g(0, 0.4) if on else abs(g(0, 0.05))),
            "flow": max(0.0, 195.0 * load + g(0, 2.0) if on else 0.0),
            "discharge_pressure": (1.0 + 5.2 * load + g(0, 0.05)) if on else 1.0 + g(0, 0.01),
            "vibration_rms": max(0.0, vibration + g(0, 0.12) if on else abs(g(0, 0.02))),
            "bearing_temp": self.temp + g(0, 0.3),
        }


def _run(loads: list[float], fault_from: int | None = None, seed: int = 1,
         states: bool = True) -> tuple[list[EventRecord], list[tuple[int, str]]]:
    """Feed the pump through the service's per-asset path; return events and states."""
    pump = Pump(seed)
    pump.vibration_fault_from = fault_from
    operating = OperatingStates(settle_s=SETTLE_S) if states else None
    # this pump's bearing temperature settles within five time constants: 300 s
    state = AssetState(RegimeDetector("baseline", {"warmup": 400}, operating,
                                      slow_settle_s=SETTLE_S),
                       EventTracker(min_duration_s=5, rearm_s=60))
    events: list[EventRecord] = []
    seen: list[tuple[int, str]] = []
    for t, load in enumerate(loads):
        scored = state.observe(T0 + timedelta(seconds=t), pump.sample(t, load))
        if scored is not None:
            seen.append((t, scored[1]))
        events.extend(e for e in state.events.drain() if e not in events)
    return events, seen


# a day in a pump's life: runs, runs at a second load (new), back, stops for 20 minutes,
# starts, runs at the second load again, back
SECOND, BACK1, STOP, START2, LOAD2, BACK2, END = 1500, 2700, 3300, 4500, 6000, 7200, 7800
LOADS = [1.0] * SECOND + [0.6] * (BACK1 - SECOND) + [1.0] * (STOP - BACK1) \
    + [0.0] * (START2 - STOP) + [1.0] * (LOAD2 - START2) + [0.6] * (BACK2 - LOAD2) \
    + [1.0] * (END - BACK2)


def test_healthy_asset_raises_no_alarm_through_stop_start_and_load_change() -> None:
    events, seen = _run(LOADS)
    assert events == []
    states = {s for _, s in seen}
    assert states == {RUNNING, STOPPING, STOPPED, STARTING}


def test_without_operating_states_the_same_day_alarms() -> None:
    """The figure the states change: one detector learning everything alarms at start-up."""
    events, _ = _run(LOADS, states=False)
    assert events


@pytest.mark.parametrize(("name", "fault_from"), [
    ("during standstill", STOP + 600),   # the bearing fails while the pump stands still
    ("during start-up", START2 + 60),    # it shows in the first minute after the start
    ("during the load change", LOAD2 + 30),  # to a load regime seen before
])
def test_a_real_fault_during_each_still_alarms(name: str, fault_from: int) -> None:
    events, _ = _run(LOADS, fault_from=fault_from)
    assert events, f"no alarm for a fault {name}"
    first = events[0]
    assert first.started_at >= T0 + timedelta(seconds=fault_from)
    # raised once the transient has settled, at the latest settle time plus a few minutes
    assert first.started_at <= T0 + timedelta(seconds=max(fault_from, START2) + SETTLE_S + 300)
    assert first.sensors[0] == "vibration_rms"


def test_states_follow_the_signal_with_settle_times() -> None:
    states = OperatingStates(settle_s=5)
    seq = [40.0] * 10 + [0.0] * 10 + [40.0] * 10
    points = [states.observe(T0 + timedelta(seconds=i), {"motor_current": v, "temp": 1.0})
              for i, v in enumerate(seq)]
    assert [p.state for p in points[8:12]] == [RUNNING, RUNNING, STOPPING, STOPPING]
    assert points[15].state == STOPPED and points[20].state == STARTING
    assert points[25].state == RUNNING and points[25].scored
    assert not any(p.scored for p in points[10:25])


def test_a_configured_signal_and_level_win_over_inference() -> None:
    states = OperatingStates(signal="run_flag", running_above=0.5, settle_s=0)
    assert states.observe(T0, {"run_flag": 0.0, "motor_current": 40.0}).state == STOPPED
    assert states.signal_in_use == "run_flag"
    assert states.observe(T0 + timedelta(seconds=1), {"run_flag": 1.0}).state == STARTING
    assert states.observe(T0 + timedelta(seconds=2), {"run_flag": 1.0}).scored


def test_load_regimes_are_learned_and_revisited() -> None:
    states = OperatingStates(settle_s=3)
    levels = [40.0] * 10 + [24.0] * 10 + [40.0] * 10
    points = [states.observe(T0 + timedelta(seconds=i), {"current": v})
              for i, v in enumerate(levels)]
    first, second, back = points[9].regime, points[19].regime, points[29].regime
    assert first is not None and second is not None and first != second and back == first
    assert not points[11].settled and points[19].settled
    assert len(states.regimes) == 2


def test_no_state_signal_means_every_sample_is_settled_running() -> None:
    states = OperatingStates()
    point = states.observe(T0, {"flow": 0.0, "temp": 20.0})
    assert point.scored and point.regime == 0 and states.signal_in_use is None


def test_samples_are_neither_learned_nor_scored_outside_settled_running() -> None:
    det = RegimeDetector("baseline", {"warmup": 20}, OperatingStates(settle_s=5),
                         slow_settle_s=0)
    for i in range(30):
        det.observe(T0 + timedelta(seconds=i), {"speed": 0.0, "temp": 25.0})
    assert not det.is_warm and det.detector_of(0) is None  # standstill taught nothing
    for i in range(30, 60):
        _, point, _ = det.observe(T0 + timedelta(seconds=i), {"speed": 2950.0, "temp": 60.0})
    assert det.is_warm and point.state == RUNNING
    regime = point.regime
    assert regime is not None
    learned = det.detector_of(regime).n_learned  # type: ignore[union-attr]
    assert learned == 60 - 30 - 5  # the 5 s of start-up were not learned


def _thermal_day(slow_settle_s: float) -> list[EventRecord]:
    """Runs, stops for 100 s (the temperature falls with a 300 s time constant), starts."""
    rng = random.Random(5)
    det = RegimeDetector("baseline", {"warmup": 300}, OperatingStates(settle_s=60),
                         slow_settle_s=slow_settle_s)
    state = AssetState(det, EventTracker(min_duration_s=5, rearm_s=60))
    temp, events = 60.0, []
    for t in range(3000):
        on = not 700 <= t < 800
        temp += ((60.0 if on else 25.0) - temp) * (1 - math.exp(-1 / 300))
        sample = {"speed": (2950.0 + rng.gauss(0, 4)) if on else 0.0,
                  "flow": (195.0 + rng.gauss(0, 2)) if on else 0.0,
                  "oil_temp": temp + rng.gauss(0, 0.3)}
        state.observe(T0 + timedelta(seconds=t), sample)
        events.extend(e for e in state.events.drain() if e not in events)
    return events


def test_slow_sensors_are_left_out_until_they_have_settled() -> None:
    assert _thermal_day(slow_settle_s=1500) == []
    hot = _thermal_day(slow_settle_s=0)  # scored as soon as the start has settled: alarms
    assert hot and hot[0].sensors[0] == "oil_temp"


def test_a_spike_of_the_state_signal_is_no_new_load_regime() -> None:
    states = OperatingStates(settle_s=3, max_regimes=1)
    levels = [40.0] * 10 + [80.0] + [40.0] * 5
    points = [states.observe(T0 + timedelta(seconds=i), {"current": v})
              for i, v in enumerate(levels)]
    assert not points[10].scored  # the spike itself is not scored
    assert points[11].scored and points[11].regime == points[9].regime  # and leaves no trace
    assert len(states.regimes) == 1
