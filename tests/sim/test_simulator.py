"""The fleet and its simulator: deterministic, resumable, wearing and failing."""

from __future__ import annotations

from datetime import UTC, datetime

from assetwatch.core.source import Sample, SourceEvent
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.sim.truth import read_ground_truth, write_ground_truth

START = datetime(2026, 1, 1, tzinfo=UTC)


def _drain(sim: FleetSimulator, max_readings: int = 500) -> list:
    out = []
    while not sim.exhausted:
        out.extend(sim.poll(max_readings, 0))
    return out


def test_fleet_is_a_pure_function_of_its_arguments() -> None:
    a = build_fleet(3, 4, seed=11, start=START)
    b = build_fleet(3, 4, seed=11, start=START)
    assert a == b
    assert len({x.asset_tag for x in a.assets}) == 12
    assert [s.site_id for s in a.sites] == ["site-01", "site-02", "site-03"]
    asset = a.assets[0]
    assert asset.asset_tag == "S01-P001" and 1 <= asset.criticality <= 3
    assert asset.sensors and all(unit for _, unit in asset.sensors)
    assert {c.component_type for c in asset.components} >= {"bearing", "impeller"}
    assert all(c.installed_at < START for c in asset.components)
    assert build_fleet(3, 4, seed=12, start=START) != a


def test_simulation_is_reproducible_and_resumes_from_a_checkpoint() -> None:
    fleet = build_fleet(1, 3, seed=5, start=START)
    whole = _drain(FleetSimulator(fleet, 20, 1800))
    first = FleetSimulator(fleet, 20, 1800)
    head = [*first.poll(700, 0), *first.poll(700, 0)]
    resumed = FleetSimulator(fleet, 20, 1800)
    resumed.restore(first.checkpoint() or "")
    assert head + _drain(resumed) == whole


def test_a_stream_skipped_ahead_is_the_tail_of_the_whole_stream() -> None:
    fleet = build_fleet(1, 3, seed=5, start=START)
    whole = _drain(FleetSimulator(fleet, 40, 1800))
    at_ms = int(START.timestamp() * 1000) + 23 * 86_400_000 + 1
    skipped = FleetSimulator(fleet, 40, 1800)
    skipped.skip_to(at_ms)
    tail = [i for i in whole
            if (i.ts_ms if isinstance(i, Sample) else i.event.ts_ms) >= at_ms]
    assert tail and _drain(skipped) == tail


def test_components_wear_fail_and_are_replaced(tmp_path) -> None:
    fleet = build_fleet(2, 4, seed=7, start=START)
    sim = FleetSimulator(fleet, 120, 3600)
    items = _drain(sim, 5000)
    events = [i.event for i in items if isinstance(i, SourceEvent)]
    kinds = {e.kind for e in events}
    assert {"failure", "part_replaced", "controller_error", "maintenance"} <= kinds
    assert len({e.event_id for e in events}) == len(events)
    replaced = [i for i in items if isinstance(i, SourceEvent) and i.components_changed]
    assert replaced and all(i.event.serial_installed != i.event.serial_removed
                            for i in replaced)
    n = write_ground_truth(tmp_path / "gt.jsonl", sim.timelines)
    rows = read_ground_truth(tmp_path / "gt.jsonl")["failure"]
    assert n == len(rows) == sum(e.kind == "failure" for e in events) > 0
    row = next(r for r in rows if r["precursor"])
    assert row["onset_at"] < row["failed_at"]
    assert {"asset_tag", "site_id", "component_type", "failure_mode", "part_no",
            "replaced_at"} <= set(row)
    # Wear shows in the sensors: the failing component's first effect moves before failure.
    tl = next(t for t in sim.timelines if t.asset.asset_tag == row["asset_tag"])
    life = next(life for life in tl.failures() if life.serial_no == row["serial_no"])
    sensor, effect = max(life.effects, key=lambda e: abs(e[1]))
    values = [(i.ts_ms, v) for i in items if type(i) is Sample and i.asset == row["asset_tag"]
              for s, v in i.values if s == sensor]
    running = {(i.asset, i.ts_ms) for i in items if type(i) is Sample
               and dict(i.values).get("speed", 0.0) > 1000}
    values = [(ts, v) for ts, v in values if (row["asset_tag"], ts) in running]
    healthy = [v for ts, v in values if ts < max(life.onset_ms, tl.start_ms)]
    worn = [v for ts, v in values if life.failed_ms - 86_400_000 < ts < life.failed_ms]
    if healthy and worn:
        shift = sum(worn) / len(worn) - sum(healthy) / len(healthy)
        assert shift * effect > 0


def test_installed_components_match_their_lives_and_are_not_older_than_the_asset() -> None:
    fleet = build_fleet(2, 6, seed=13, start=START)
    sim = FleetSimulator(fleet, 1, 3600)
    for asset, tl in zip(fleet.assets, sim.timelines, strict=True):
        for part in asset.components:
            first = tl.lives[part.component_type][0]
            assert part.serial_no == first.serial_no
            assert abs(part.installed_at.timestamp() * 1000 - first.installed_ms) < 1000
            assert part.installed_at.date() >= asset.commissioned_on
