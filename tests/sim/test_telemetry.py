"""What the simulated sensors report: the regime, the seasons, start-ups and sensor faults."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from assetwatch.core.source import Sample
from assetwatch.sim.catalogue import model_spec
from assetwatch.sim.fleet import build_fleet, from_epoch_ms
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.sim.truth import FleetTruth, dropped_readings, fleet_truth
from assetwatch.sim.world import WorldConfig

START = datetime(2025, 1, 1, tzinfo=UTC)
MIN = 60_000


def _samples(sim: FleetSimulator) -> list[Sample]:
    out: list[Sample] = []
    while not sim.exhausted:
        out.extend(i for i in sim.poll(100_000, 0) if type(i) is Sample)
    return out


@pytest.fixture(scope="module")
def run() -> tuple[FleetSimulator, list[Sample]]:
    sim = FleetSimulator(build_fleet(1, 4, seed=5, start=START), 60, 1200)
    return sim, _samples(sim)


def _truth(sim: FleetSimulator) -> FleetTruth:
    return fleet_truth(sim.fleet, from_epoch_ms(sim.end_ms), sim.world)


def _faulty(sim: FleetSimulator, tag: str, sensor: str, ts: int) -> bool:
    tl = next(t for t in sim.timelines if t.asset.asset_tag == tag)
    return any(f.sensor == sensor and f.kind != "dropout"
               and f.start_ms <= ts <= max(f.end_ms, f.start_ms + 1200_000)
               for f in tl.sensor_faults)


def test_the_speed_signal_tells_the_regime(run) -> None:
    sim, samples = run
    truth = _truth(sim)
    levels: set[int] = set()
    right = wrong = 0
    for s in samples:
        speed = dict(s.values).get("speed")
        state = truth.state_at(s.asset, from_epoch_ms(s.ts_ms))
        if speed is None or _faulty(sim, s.asset, "speed", s.ts_ms):
            continue
        if state.running and s.ts_ms - int(state.since.timestamp() * 1000) < 20 * MIN:
            continue   # start-up ramp
        normal = model_spec(sim.fleet.asset(s.asset).model_id)["sensors"]["speed"]["normal"]
        levels.add(state.level)
        guess = min(range(3), key=lambda lv: abs(speed / normal - (0.0, 0.8, 1.0)[lv]))
        right += guess == state.level
        wrong += guess != state.level
    assert levels == {0, 1, 2}
    assert right / (right + wrong) > 0.99


def test_sensors_follow_the_load(run) -> None:
    sim, samples = run
    truth = _truth(sim)
    current: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for s in samples:
        if s.asset != "S01-P001":
            continue
        state = truth.state_at(s.asset, from_epoch_ms(s.ts_ms))
        value = dict(s.values).get("motor_current")
        if value is not None and not _faulty(sim, s.asset, "motor_current", s.ts_ms):
            current[state.level].append(value)
    means = {lv: statistics.mean(v) for lv, v in current.items()}
    assert means[0] < 1.0 < means[1] < means[2]
    assert means[1] / means[2] == pytest.approx(0.8 ** 2.5, rel=0.08)


def test_temperatures_follow_the_seasons() -> None:
    def summer_minus_winter(world: WorldConfig) -> float:
        fleet = build_fleet(1, 2, seed=3, start=START)
        samples = _samples(FleetSimulator(fleet, 365, 6 * 3600, world=world))
        by_month: dict[int, list[float]] = {1: [], 7: []}
        for s in samples:
            month = from_epoch_ms(s.ts_ms).month
            if month in by_month and "bearing_temp" in dict(s.values):
                by_month[month].append(dict(s.values)["bearing_temp"])
        return statistics.median(by_month[7]) - statistics.median(by_month[1])

    assert summer_minus_winter(WorldConfig()) == pytest.approx(16.0, abs=5.0)
    assert abs(summer_minus_winter(WorldConfig(seasonal_amplitude_c=0.0))) < 4.0


def test_a_start_up_ramps_speed_and_warms_the_motor_slowly() -> None:
    world = WorldConfig(demand_stops_per_week=0.0)
    fleet = build_fleet(1, 3, seed=2, start=START)
    sim = FleetSimulator(fleet, 7, 120, world=world)
    samples = _samples(sim)
    truth = _truth(sim)
    tag = next(t for t, tl in truth.timelines.items() if tl.schedule.profile != "continuous")
    starts = [a for a, _, level in truth.timelines[tag].schedule.segments()
              if level and truth.state_at(tag, from_epoch_ms(a - 1)).level == 0]
    assert starts
    series = {s.ts_ms: dict(s.values) for s in samples if s.asset == tag}
    for t0 in starts[:3]:
        t0 = int(t0)
        first = series[t0 + 2 * MIN]
        steady = series[t0 + 3 * 60 * MIN]
        assert first["speed"] < 0.8 * steady["speed"]          # still ramping
        warm_up = series[t0 + 10 * MIN]["motor_temp"]
        assert warm_up < steady["motor_temp"] - 5               # the motor is still cool


SOUND = WorldConfig(dropouts_per_year=0.0, stuck_per_year=0.0, spikes_per_year=0.0,
                    drifts_per_year=0.0, sensor_replacements_per_year=0.0)


def _series(world: WorldConfig) -> tuple[FleetSimulator, dict[tuple[int, str], float]]:
    sim = FleetSimulator(build_fleet(1, 1, seed=4, start=START), 30, 1200, world=world)
    return sim, {(s.ts_ms, name): v for s in _samples(sim) for name, v in s.values}


@pytest.mark.parametrize("kind", ["dropout", "stuck", "spike", "drift", "replaced"])
def test_each_sensor_fault_changes_exactly_the_readings_the_truth_names(kind: str) -> None:
    """Only this kind of fault, often: the readings that differ from a sound world's are
    the ones the ground truth's faults cover, and nothing else."""
    knob = {"dropout": "dropouts_per_year", "stuck": "stuck_per_year",
            "spike": "spikes_per_year", "drift": "drifts_per_year",
            "replaced": "sensor_replacements_per_year"}[kind]
    _, sound = _series(SOUND)
    sim, faulty = _series(WorldConfig(**{**SOUND.as_options(), knob: 40.0}))
    faults = [f for f in sim.timelines[0].sensor_faults if f.kind == kind]
    assert faults

    def covered(ts: int, sensor: str) -> bool:
        for f in faults:
            if f.sensor != sensor:
                continue
            if kind == "spike":
                if f.start_ms <= ts < f.start_ms + 1200_000:
                    return True
            elif f.start_ms <= ts < f.end_ms:
                return True
        return False

    changed = {key for key, v in sound.items() if faulty.get(key) != v}
    assert changed
    assert all(covered(ts, sensor) for ts, sensor in changed)
    if kind == "dropout":
        assert all(key not in faulty for key in changed)
    else:
        assert set(faulty) == set(sound)
        normal = {n: spec["normal"] for n, spec in model_spec("CP-200")["sensors"].items()}
        if kind == "spike":   # the first reading at or after the spike is off by its size
            for f in faults:
                alone = not [g for g in faults if g is not f and g.sensor == f.sensor
                             and abs(g.start_ms - f.start_ms) < 2 * 1200_000]
                ts = next((t for t, sensor in sorted(sound) if sensor == f.sensor
                           and t >= f.start_ms), None)
                if alone and ts is not None:
                    assert faulty[(ts, f.sensor)] - sound[(ts, f.sensor)] == pytest.approx(
                        f.value * normal[f.sensor], abs=2e-3)


def test_dropped_readings_are_counted_by_the_truth(run) -> None:
    sim, samples = run
    sensors = 8
    per_asset = 60 * 72
    total = sum(len(s.values) for s in samples)
    dropped = dropped_readings(sim.timelines, 1200)
    assert dropped > 0
    assert total == len(sim.fleet.assets) * per_asset * sensors - dropped
    cut = {"S01-P001": sim.end_ms - 10 * 86_400_000}
    assert dropped_readings(sim.timelines, 1200, cut) < dropped
    none = FleetSimulator(sim.fleet, 10, 1200, world=WorldConfig(dropouts_per_year=0.0))
    assert dropped_readings(none.timelines, 1200) == 0
    assert sum(len(s.values) for s in _samples(none)) == len(sim.fleet.assets) * 720 * 8


def test_sensor_fault_rates_match_the_configuration() -> None:
    fleet = build_fleet(5, 10, seed=9, start=START)
    truth = fleet_truth(fleet, START + timedelta(days=365))
    sensors = sum(len(a.sensors) for a in fleet.assets)
    rate = {k: sum(f.kind == k for f in truth.sensor_faults) / sensors
            for k in ("dropout", "stuck", "spike", "drift")}
    assert rate["dropout"] == pytest.approx(6.0, rel=0.1)
    assert rate["spike"] == pytest.approx(4.0, rel=0.1)
    assert rate["stuck"] == pytest.approx(0.3, rel=0.3)
    assert rate["drift"] == pytest.approx(0.15, rel=0.4)
    quiet = fleet_truth(build_fleet(1, 5, seed=9, start=START), START + timedelta(days=365),
                        WorldConfig(spikes_per_year=0.0, stuck_per_year=0.0))
    assert not [f for f in quiet.sensor_faults if f.kind in ("spike", "stuck")]
