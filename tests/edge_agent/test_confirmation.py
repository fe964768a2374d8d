"""Delivered means stored: a spooled message leaves only when the server confirms it.

The broker's PUBACK is not enough: with no subscriber the broker answers *No matching
subscribers* (reason 16) and drops the message; a subscriber can take a message and never
store it. These tests show that the agent keeps such messages and sends them again, counts
what happened, and reports it in ``edge status`` and in the asset's birth.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from edge_support import Collector, expected_event_ids, expected_readings, passwords

from assetwatch.core.settings import Settings
from assetwatch.edge_agent.__main__ import main as edge_main
from assetwatch.edge_agent.agent import AgentOptions, AgentSummary, EdgeAgent
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.edge_agent.publisher import PublisherOptions
from assetwatch.edge_agent.remote_config import AssetSettings
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.stack.mosquitto import LocalMosquitto

pytestmark = pytest.mark.integration

DAYS, INTERVAL = 0.5, 60.0


def _agent(settings: Settings, tmp_path, seed: int, delivery: PublisherOptions
           ) -> tuple[EdgeAgent, object]:
    fleet = build_fleet(1, 2, seed=seed, start=datetime.now(UTC) - timedelta(days=2))
    LocalMosquitto(settings).write_auth(fleet.devices())
    agent = EdgeAgent(FleetSimulator(fleet, DAYS, INTERVAL), AgentOptions(
        endpoint=MqttEndpoint(settings.mqtt_host, settings.mqtt_port, backoff_min_s=0.2,
                              backoff_max_s=1.0),
        spool_path=tmp_path / "spool.db", prefix=settings.topic_prefix,
        passwords=passwords(settings, fleet), delivery=delivery,
        defaults=AssetSettings(batch_max_readings=64, batch_max_age_s=0.5)))
    return agent, fleet


def _run(agent: EdgeAgent, timeout_s: float) -> tuple[threading.Thread, dict[str, AgentSummary]]:
    result: dict[str, AgentSummary] = {}
    thread = threading.Thread(target=lambda: result.update(s=agent.run(drain_timeout_s=timeout_s)))
    thread.start()
    return thread, result


def _exactly_once(collector: Collector, fleet, ) -> None:
    expected = expected_readings(fleet, DAYS, INTERVAL)
    assert collector.wait_for(lambda: sum(len(r) for r in collector.batches.values())
                              >= sum(expected.values()), 20)
    assert not collector.conflicts
    assert collector.readings() == expected
    assert set(collector.events) == expected_event_ids(fleet, DAYS, INTERVAL)


def test_no_matching_subscribers_keeps_the_messages_and_retries(settings: Settings, tmp_path,
                                                                 capsys) -> None:
    s = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "nosub"})
    agent, fleet = _agent(s, tmp_path, seed=11, delivery=PublisherOptions(
        retry_min_s=0.2, retry_max_s=0.5))
    thread, result = _run(agent, 60)
    collector = None
    try:
        deadline = time.monotonic() + 20
        while agent.publisher is None or not agent.publisher.counters.refused:
            assert time.monotonic() < deadline, "the broker never refused a message"
            time.sleep(0.05)
        time.sleep(1.0)  # the source is finished by now; everything waits in the spool
        assert agent.spool is not None and agent.spool.messages > 0
        refused = agent.publisher.counters.refused
        assert refused.get("No matching subscribers", 0) >= 2, refused  # retried
        assert agent.publisher.counters.messages == 0
        collector = Collector(s)  # a subscriber at last: the retries now get through
        thread.join(60)
        summary = result["s"]
        assert summary.drained and summary.refused >= 2
        _exactly_once(collector, fleet)
        births = [doc for _, doc in collector.statuses if doc["state"] == "online"]
        assert births, "no birth seen"
        delivery = births[-1]["detail"]["delivery"]
        assert delivery["refused"]["No matching subscribers"] >= 2
        assert delivery["confirm"] == "commit"
    finally:
        agent.stop()
        thread.join(10)
        if collector is not None:
            collector.close()
    assert edge_main(["status", str(tmp_path / "spool.db")]) == 0
    out = capsys.readouterr().out
    assert "0 messages" in out and "No matching subscribers" in out


def test_a_subscriber_that_never_stores_does_not_cost_data(settings: Settings, tmp_path
                                                           ) -> None:
    """The broker hands every message to a subscriber that drops them (PUBACK 0); without
    receipts the agent sends them again after the confirmation timeout."""
    agent, fleet = _agent(settings, tmp_path, seed=12, delivery=PublisherOptions(
        confirm_timeout_s=1.0, confirm_timeout_max_s=2.0))
    sink = Collector(settings, receipts=False)
    thread, result = _run(agent, 60)
    collector = None
    try:
        assert sink.wait_for(lambda: len(sink.batches) > 5, 20)
        time.sleep(0.5)
        assert agent.spool is not None and agent.spool.messages > 0
        sink.close()  # leaves with everything it took
        collector = Collector(settings)
        thread.join(60)
        summary = result["s"]
        assert summary.drained
        assert summary.resent > 0
        _exactly_once(collector, fleet)
    finally:
        agent.stop()
        thread.join(10)
        if collector is not None:
            collector.close()


def test_without_confirmation_nothing_leaves_the_spool(settings: Settings, tmp_path) -> None:
    """The same unconfirming subscriber with ``confirm="broker"`` empties the spool on PUBACK
    (the mode for servers without receipts): what the default mode protects against."""
    agent, _ = _agent(settings, tmp_path, seed=13, delivery=PublisherOptions(confirm="broker"))
    sink = Collector(settings, receipts=False)
    try:
        summary = agent.run(drain_timeout_s=30)
        assert summary.drained and agent.spool is not None
    finally:
        sink.close()
    agent2, _ = _agent(settings, tmp_path / "commit", seed=13, delivery=PublisherOptions(
        confirm_timeout_s=30))
    sink = Collector(settings, receipts=False)
    try:
        summary = agent2.run(drain_timeout_s=3)
        assert not summary.drained
        assert summary.acked_readings == 0
    finally:
        sink.close()
