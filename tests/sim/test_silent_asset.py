"""A simulated asset whose link goes down: nothing of it reaches the agent after the cut."""

from __future__ import annotations

import pytest

from assetwatch.core.source import Sample
from assetwatch.sim.site import SimulatedSite

START = "2026-01-01T00:00:00+00:00"


def _last_sample_ms(site: SimulatedSite) -> dict[str, int]:
    last: dict[str, int] = {}
    while batch := site.poll(10_000, 0):
        for item in batch:
            if isinstance(item, Sample):
                last[item.asset] = max(last.get(item.asset, 0), item.ts_ms)
    return last


def test_a_silent_asset_stops_reporting_hours_before_the_end() -> None:
    site = SimulatedSite(sites=1, assets_per_site=2, seed=3, days=2, sample_interval_s=600,
                         start=START, silent={"S01-P002": 6})
    last = _last_sample_ms(site)
    assert last["S01-P001"] - last["S01-P002"] >= 6 * 3_600_000 - 600_000
    assert last["S01-P001"] - last["S01-P002"] <= 6 * 3_600_000


def test_an_unknown_silent_asset_is_named() -> None:
    with pytest.raises(ValueError, match="no asset 'NOPE'"):
        SimulatedSite(sites=1, assets_per_site=1, days=1, start=START, silent={"NOPE": 1})
