"""The simulated world's knobs: each feature is measurable, and a knob that is ignored fails here.

One fleet of 100 assets over two years is the reference world; a few tests build small worlds
with one knob turned to show the figure moves with it.
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from assetwatch.core.source import Sample, SourceEvent
from assetwatch.sim.catalogue import load_catalogue
from assetwatch.sim.fleet import Fleet, build_fleet
from assetwatch.sim.lifecycle import NEVER, ComponentLife
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.sim.truth import FleetTruth, fleet_truth, simulator_truth
from assetwatch.sim.world import WorldConfig, datasheet_life, true_life

START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 730


def _truth(world: WorldConfig | None = None, sites: int = 10, per_site: int = 10,
           days: int = DAYS, seed: int = 7) -> FleetTruth:
    fleet = build_fleet(sites, per_site, seed=seed, start=START)
    return fleet_truth(fleet, START + timedelta(days=days), world)


@pytest.fixture(scope="module")
def world() -> FleetTruth:
    return _truth()


def _lives(truth: FleetTruth) -> list[ComponentLife]:
    return [life for tl in truth.timelines.values() for chain in tl.lives.values()
            for life in chain]


def _shock_share(truth: FleetTruth) -> float:
    return sum(not f.precursor for f in truth.failures) / len(truth.failures)


def test_the_world_is_a_pure_function_of_seed_and_configuration() -> None:
    a, b = _truth(sites=2, per_site=3, days=200), _truth(sites=2, per_site=3, days=200)
    assert a.failures == b.failures and a.sensor_faults == b.sensor_faults
    assert all(a.regimes(t) == b.regimes(t) for t in a.timelines)
    other = _truth(sites=2, per_site=3, days=200, seed=8)
    assert other.failures != a.failures
    # a longer window starts with the same history
    longer = _truth(sites=2, per_site=3, days=300)
    cut = START + timedelta(days=150)
    assert ([f for f in longer.failures if f.failed_at < cut]
            == [f for f in a.failures if f.failed_at < cut])


def test_wear_onset_is_random_per_unit(world: FleetTruth) -> None:
    fractions = [(life.onset_wear - life.origin_wear) / life.life_wear
                 for life in _lives(world) if life.fate == "wear_out"]
    assert len(fractions) > 500
    assert 0.40 <= min(fractions) < 0.43 and 0.87 < max(fractions) <= 0.90
    assert statistics.pstdev(fractions) > 0.12   # uniform over 0.4-0.9: 0.144
    fixed = _truth(WorldConfig(onset_fraction=(0.7, 0.7)), sites=2, per_site=4)
    assert {round((life.onset_wear - life.origin_wear) / life.life_wear, 6)
            for life in _lives(fixed) if life.fate == "wear_out"} == {0.7}


def test_two_units_of_a_part_at_the_same_age_are_in_different_states(world: FleetTruth
                                                                     ) -> None:
    """Among bearings 150 days after installation, some wear and some do not."""
    states = []
    for tl in world.timelines.values():
        for life in tl.lives["bearing"]:
            at = life.installed_ms + 150 * 86_400_000
            if life.generation > 0 and at < min(life.replaced_ms, tl.end_ms):
                states.append(round(life.wear(at), 3))
    assert len(states) > 30
    assert 0 in states and len(set(states)) > 10


def test_wear_accrues_faster_at_high_load_and_continuous_duty(world: FleetTruth) -> None:
    per_day: dict[str, list[float]] = {}
    for tl in world.timelines.values():
        schedule = tl.schedule
        assert schedule is not None
        per_day.setdefault(schedule.profile, []).append(
            schedule.wear_at(tl.end_ms) / DAYS)
        rates = dict(zip(schedule.levels, schedule.rates, strict=True))
        assert rates[0] < rates.get(1, 1.0) < rates.get(2, 2.0)
    assert set(per_day) == {"continuous", "two_shift", "day_shift"}
    mean = {p: statistics.mean(v) for p, v in per_day.items()}
    assert mean["continuous"] > 1.2 > mean["two_shift"] > mean["day_shift"]
    # the fleet's average duty wears at the catalogue rate (one wear-day per day)
    everyone = [x for v in per_day.values() for x in v]
    assert statistics.mean(everyone) == pytest.approx(1.0, abs=0.15)
    flat = _truth(WorldConfig(load_wear_exponent=0.0, standstill_wear_rate=1.0),
                  sites=1, per_site=6, days=60)
    assert all(len(set(tl.schedule.rates)) == 1 for tl in flat.timelines.values()
               if tl.schedule is not None)


def test_a_share_of_failures_comes_without_precursor(world: FleetTruth) -> None:
    assert len(world.failures) > 600
    assert _shock_share(world) == pytest.approx(0.2, abs=0.05)
    for life in _lives(world):
        if life.fate == "shock" and life.fails:
            assert life.onset_ms == life.failed_ms
            assert life.wear(life.failed_ms - 1) == 0.0
    assert _shock_share(_truth(WorldConfig(shock_share=0.0), sites=3, per_site=5)) == 0.0
    assert _shock_share(_truth(WorldConfig(shock_share=0.6), sites=3, per_site=5)
                        ) == pytest.approx(0.6, abs=0.12)


def test_stabilised_onsets_never_fail(world: FleetTruth) -> None:
    onsets = [life for life in _lives(world) if life.fate != "shock"]
    stabilised = [life for life in onsets if life.fate == "stabilised"]
    assert len(stabilised) / len(onsets) == pytest.approx(0.15, abs=0.04)
    for life in stabilised:
        assert life.failed_ms == NEVER and life.end_reason in ("overhaul", "restored")
        later = [life.onset_ms + k * (life.replaced_ms - life.onset_ms) // 10
                 for k in range(1, 10)]
        assert all(0 <= life.wear(t) <= life.plateau < 1 for t in later)
    none = _truth(WorldConfig(stabilised_share=0.0), sites=2, per_site=4)
    assert not [life for life in _lives(none) if life.fate == "stabilised"]


def test_several_failure_modes_per_component_each_with_its_own_parts(world: FleetTruth
                                                                     ) -> None:
    for model in load_catalogue()["asset_models"].values():
        for component in model["components"].values():
            modes = component["failure_modes"]
            assert len(modes) >= 2
            parts = [tuple(sorted(m["parts"])) for m in modes.values()]
            assert len(set(parts)) == len(parts) and all(parts)
            assert sum(m["share"] for m in modes.values()) == pytest.approx(1.0)
    seen = Counter((f.component_type, f.failure_mode) for f in world.failures)
    by_component = Counter(component for component, _ in seen)
    assert all(n >= 2 for n in by_component.values())
    for f in world.failures[:50]:
        assert f.parts == world.mode_parts(f.model_id, f.component_type, f.failure_mode)


def test_master_data_lives_are_not_the_true_ones(world: FleetTruth) -> None:
    ratios = []
    for model_id, model in load_catalogue()["asset_models"].items():
        for component_type in model["components"]:
            _, eta = datasheet_life(model_id, component_type)
            _, true_eta = world.true_life(model_id, component_type)
            ratios.append(true_eta / eta)
    assert all(0.7 <= r <= 1.3 for r in ratios)
    assert max(abs(r - 1) for r in ratios) > 0.1
    exact = WorldConfig(datasheet_scale_error=0.0, datasheet_shape_error=0.0)
    assert true_life(7, "CP-200", "bearing", exact) == datasheet_life("CP-200", "bearing")


def test_planned_work_restores_the_modes_it_covers() -> None:
    always = _truth(WorldConfig(pm_effectiveness=1.0, pm_skipped_share=0.0),
                    sites=3, per_site=5)
    never = _truth(WorldConfig(pm_effectiveness=0.0), sites=3, per_site=5)
    restored = [life for life in _lives(always) if life.end_reason == "restored"]
    assert restored and not [life for life in _lives(never) if life.end_reason == "restored"]
    modes = {life.failure_mode for life in restored}
    assert modes <= {"bearing_lubrication", "oil_degradation", "motor_cooling"}
    for tl in always.timelines.values():
        for chain in tl.lives.values():
            for life, nxt in itertools.pairwise(chain):
                if life.end_reason == "restored":   # same part, wear back to zero
                    assert nxt.serial_no == life.serial_no
                    assert nxt.wear(nxt.installed_ms) == 0.0
    lubrication = Counter(f.failure_mode for f in always.failures)["bearing_lubrication"]
    assert lubrication < Counter(f.failure_mode for f in never.failures)["bearing_lubrication"]


def test_planned_work_left_to_a_field_service_happens_when_it_is_done() -> None:
    """From ``planned_until`` on the world does no planned task itself; a task someone does
    renews the modes it covers (as the world's own would) and nothing else."""
    fleet = build_fleet(3, 5, seed=7, start=START)
    world = WorldConfig(pm_effectiveness=1.0, pm_skipped_share=0.0)
    until = START + timedelta(days=200)
    own = fleet_truth(fleet, START + timedelta(days=DAYS), world)
    left = fleet_truth(fleet, START + timedelta(days=DAYS), world, planned_until=until)
    cut = until.timestamp() * 1000
    assert any(life.end_reason == "restored" and life.replaced_ms >= cut
               for life in _lives(own))
    assert not any(life.end_reason == "restored" and life.replaced_ms >= cut
                   for life in _lives(left))
    assert ([f for f in left.failures if f.failed_at < until]
            == [f for f in own.failures if f.failed_at < until])   # the same history
    # a compressor's oil service renews its oil when the oil is what wears
    tl = next(tl for tl in left.timelines.values() if tl.asset.model_id == "SC-75"
              and any(life.failure_mode == "oil_degradation" and life.installed_ms > cut
                      and life.failed_ms < NEVER for life in tl.lives["oil_separator"]))
    life = next(life for life in tl.lives["oil_separator"]
                if life.failure_mode == "oil_degradation" and life.installed_ms > cut
                and life.failed_ms < NEVER)
    at = (life.installed_ms + min(life.failed_ms, life.replaced_ms)) // 2
    others = {c: list(chain) for c, chain in tl.lives.items() if c != "oil_separator"}
    revision = tl.revision
    assert tl.apply_planned_task("oil_service", at) == ["oil_separator"]
    renewed = tl.life_at("oil_separator", at)
    assert renewed.installed_ms == at and renewed.serial_no == life.serial_no
    assert tl.life_at("oil_separator", at - 1).end_reason == "restored"
    assert tl.revision == revision + 1
    assert {c: chain for c, chain in tl.lives.items() if c != "oil_separator"} == others
    # a task that covers nothing under way changes nothing
    pump = next(tl for tl in left.timelines.values() if tl.asset.model_id == "CP-200")
    lives = {c: list(chain) for c, chain in pump.lives.items()}
    assert pump.apply_planned_task("oil_service", int(cut) + 1) == []
    assert pump.lives == lives


def test_imperfect_repairs_shorten_the_next_life() -> None:
    def mean_life_days(share: float) -> float:
        truth = _truth(WorldConfig(imperfect_repair_share=share, shock_share=0.0,
                                   stabilised_share=0.0), sites=4, per_site=5)
        spans = [(life.failed_ms - life.installed_ms) / 86_400_000 for life in _lives(truth)
                 if life.generation > 0 and life.fails and life.end_reason == "failure"]
        return statistics.mean(spans)

    assert mean_life_days(1.0) < 0.75 * mean_life_days(0.0)


def _fleet() -> Fleet:
    return build_fleet(2, 4, seed=7, start=START)


def test_wrong_parts_leave_the_fault_right_parts_fix_it() -> None:
    truth = fleet_truth(_fleet(), START + timedelta(days=365))
    target = next(f for f in truth.failures if f.precursor
                  and f.onset_at is not None and f.onset_at > START + timedelta(days=2))
    at = target.onset_at + (target.failed_at - target.onset_at) / 2
    before = truth.component_state(target.asset_tag, target.component_type, at)
    assert before.wear > 0 and before.fails_at == target.failed_at
    wrong = [p for p in ("GREASE-LGHP2-400", "CPL-INS-42", "FLT-AIR-75")
             if p not in target.parts][:1]
    outcome = truth.apply_maintenance(target.asset_tag, target.component_type, at, wrong)
    assert outcome.result == "no_fault_found"
    assert target in truth.failures   # the fault stays: same failure, same time
    outcome = truth.apply_maintenance(target.asset_tag, target.component_type, at,
                                      list(target.parts))
    assert outcome.result == "fixed"
    assert target not in truth.failures
    after = truth.component_state(target.asset_tag, target.component_type,
                                  at + timedelta(hours=1))
    assert after.wear < before.wear
    tl = truth.timelines[target.asset_tag]
    events = [e for e, _ in tl.events if e.kind == "failure"
              and e.component_type == target.component_type]
    assert all(e.ts_ms != int(target.failed_at.timestamp() * 1000) for e in events)
    assert [a.result for a in tl.actions] == ["no_fault_found", "fixed"]


def test_without_auto_repair_a_failure_waits_for_the_technician() -> None:
    truth = fleet_truth(_fleet(), START + timedelta(days=365), WorldConfig(auto_repair=False))
    failure = truth.failures[0]
    assert failure.replaced_at is None
    later = failure.failed_at + timedelta(days=30)
    assert truth.component_state(failure.asset_tag, failure.component_type, later).failed
    truth.apply_maintenance(failure.asset_tag, failure.component_type, later,
                            list(failure.parts))
    state = truth.component_state(failure.asset_tag, failure.component_type,
                                  later + timedelta(hours=1))
    assert not state.failed and state.serial_no != failure.serial_no


def test_bad_knobs_are_named() -> None:
    with pytest.raises(ValueError, match=r"world\.shock_share"):
        WorldConfig(shock_share=1.5)
    with pytest.raises(ValueError, match="unknown option 'onset'"):
        WorldConfig.from_options({"onset": [0.1, 0.2]})
    with pytest.raises(ValueError, match=r"world\.onset_fraction"):
        WorldConfig.from_options({"onset_fraction": [0.9, 0.4]})
    assert WorldConfig.from_options(WorldConfig().as_options()) == WorldConfig()


def _variant(name: str, value: object) -> object:
    """Another valid value for a knob."""
    if isinstance(value, bool):
        return not value
    if name == "duty_profiles":
        return (("continuous", 0.2), ("two_shift", 0.2), ("day_shift", 0.6))
    if name == "speed_ratios":
        return (0.6, 1.0)
    if isinstance(value, tuple):
        lo, hi = value
        return (lo * 1.1, hi * 1.1) if name == "overhaul_after" else (lo * 0.9, hi * 0.95)
    if isinstance(value, float) and (name.endswith("_share") or name == "pm_effectiveness"):
        return 1.0 - value
    if isinstance(value, float):
        return value * 0.5 if value else 0.5
    raise AssertionError(f"no variant for {name}")


def _fingerprint(world: WorldConfig) -> tuple:
    """Everything the world produces for a small fleet: lives, operation, sensor faults,
    events over two years, and three days of readings."""
    fleet = build_fleet(1, 3, seed=23, start=START)   # all three duty profiles
    truth = fleet_truth(fleet, START + timedelta(days=730), world)
    lives = tuple((life.failure_mode, life.fate, life.onset_ms, life.failed_ms,
                   life.replaced_ms, life.effects, life.plateau, life.end_reason)
                  for tl in truth.timelines.values() for chain in tl.lives.values()
                  for life in chain)
    faults = tuple(truth.sensor_faults)
    schedules = tuple((tl.schedule.levels, tl.schedule.rates, tl.ambient_mean_c)
                      for tl in truth.timelines.values() if tl.schedule is not None)
    events = tuple(e.event_id for tl in truth.timelines.values() for e, _ in tl.events)
    planned = tuple(p for tl in truth.timelines.values() for p in tl.planned)
    sim = FleetSimulator(fleet, 3, 900, world=world)
    readings = []
    while not sim.exhausted:
        readings.extend(i.values for i in sim.poll(100_000, 0) if isinstance(i, Sample))
    return lives, faults, schedules, events, planned, tuple(map(tuple, readings))


def test_no_knob_is_ignored() -> None:
    """Turning any knob of the configuration changes what the world produces."""
    base = _fingerprint(WorldConfig())
    ignored = []
    for f in dataclasses.fields(WorldConfig):
        value = getattr(WorldConfig(), f.name)
        if _fingerprint(WorldConfig(**{f.name: _variant(f.name, value)})) == base:
            ignored.append(f.name)
    assert not ignored


def test_a_repair_during_the_stream_changes_what_the_simulator_streams() -> None:
    """The benchmark repairs a wearing component while the simulator streams: the failure
    it would have had never comes; every other failure still does."""
    def streamed_failures(repair: bool) -> tuple[set[str], str]:
        sim = FleetSimulator(_fleet(), 200, 3600)
        truth = simulator_truth(sim)
        target = next(f for f in truth.failures if f.precursor and f.onset_at is not None
                      and f.onset_at > START + timedelta(days=20))
        target_id = (f"{target.asset_tag}-F-{target.component_type[:4]}-"
                     f"{int(target.failed_at.timestamp() * 1000)}")
        seen: set[str] = set()
        while not sim.exhausted:
            for item in sim.poll(2000, 0):
                if isinstance(item, SourceEvent) and item.event.kind == "failure":
                    seen.add(item.event.event_id)
            if repair and sim.clock_ms() >= int(target.onset_at.timestamp() * 1000):
                at = datetime.fromtimestamp((sim.clock_ms() + 1) / 1000, tz=UTC)
                outcome = truth.apply_maintenance(target.asset_tag, target.component_type, at,
                                                  list(target.parts))
                assert outcome.result == "fixed"
                repair = False
        return seen, target_id

    as_is, target = streamed_failures(False)
    repaired, _ = streamed_failures(True)
    assert target in as_is and target not in repaired
    assert as_is - repaired == {target}
