"""No two births of one asset share a millisecond, so the ingest (which keeps the newest)
keeps the last one even when the source's clock has not moved between two births, and a
birth for a past event keeps its event's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.simulator import FleetSimulator


def test_births_of_one_asset_never_share_a_millisecond(tmp_path) -> None:
    fleet = build_fleet(1, 2, seed=3, start=datetime.now(UTC) - timedelta(days=1))
    source = FleetSimulator(fleet, 1, 5)
    agent = EdgeAgent(source, AgentOptions(endpoint=MqttEndpoint("127.0.0.1", 1),
                                           spool_path=tmp_path / "spool.db"))
    first, second = (a.asset_tag for a in source.assets())
    clock = source.clock_ms()
    times = [agent.birth(first).ts_ms for _ in range(3)]
    assert source.clock_ms() == clock                      # the clock did not move
    assert times == [clock, clock + 1, clock + 2]
    assert agent.birth(second).ts_ms == clock             # each asset on its own
    assert agent.birth(first, at_ms=clock - 50).ts_ms == clock - 50   # a past event's time
    assert agent.birth(first, at_ms=clock - 50).ts_ms == clock - 49
    assert agent.birth(first, at_ms=clock).ts_ms == clock + 3
