"""Spool limit policies, remote configuration and bad CSV files, end to end on Mosquitto."""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from edge_support import Collector, expected_readings, passwords, private_broker
from paho.mqtt.enums import CallbackAPIVersion

from assetwatch.core.settings import Settings
from assetwatch.core.wire import topic_for
from assetwatch.edge_agent.agent import AgentOptions, AgentSummary, EdgeAgent
from assetwatch.edge_agent.csv_replay import CsvReplay
from assetwatch.edge_agent.errors import CsvReplayError
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.edge_agent.remote_config import AssetSettings
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.stack.mosquitto import LocalMosquitto, device_password

pytestmark = pytest.mark.integration


class Running:
    """An agent running in a thread."""

    def __init__(self, agent: EdgeAgent, **run: Any) -> None:
        self.agent = agent
        self.summary: AgentSummary | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, kwargs=run, daemon=True)
        self.thread.start()

    def _run(self, **run: Any) -> None:
        try:
            self.summary = self.agent.run(**run)
        except BaseException as e:
            self.error = e

    def wait(self, predicate, timeout_s: float = 30) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self.agent.stop()
        self.thread.join(30)


def _options(s: Settings, fleet, tmp_path, **kw: Any) -> AgentOptions:
    return AgentOptions(
        endpoint=MqttEndpoint(s.mqtt_host, s.mqtt_port, backoff_min_s=0.2, backoff_max_s=0.5),
        spool_path=tmp_path / "spool.db", prefix=s.topic_prefix, passwords=passwords(s, fleet),
        defaults=AssetSettings(batch_max_readings=500, batch_max_age_s=0.5), **kw)


def _spool_status(collector: Collector, **want: Any) -> bool:
    return any(all(doc.get("detail", {}).get("spool", {}).get(k) == v for k, v in want.items())
               for _, doc in collector.statuses)


def test_spool_full_drop_oldest_is_applied_and_reported(settings, tmp_path, caplog) -> None:
    s, broker = private_broker(settings, tmp_path)
    fleet = build_fleet(1, 1, seed=9, start=datetime.now(UTC) - timedelta(days=20))
    broker.up(fleet.devices())
    collector = Collector(s)
    broker.down()
    caplog.set_level(logging.WARNING, logger="assetwatch.edge_agent.agent")
    running = Running(EdgeAgent(FleetSimulator(fleet, 10, 5),
                                _options(s, fleet, tmp_path, spool_max_bytes=1_000_000)),
                      drain=False)
    try:
        assert running.wait(lambda: running.agent.summary.dropped_readings > 0)
        assert "policy drop_oldest" in caplog.text and "spool full" in caplog.text
        assert running.agent.spool is not None
        assert running.agent.spool.size_bytes <= 1_100_000
        broker.up()
        assert collector.wait_for(lambda: any(
            doc.get("detail", {}).get("spool", {}).get("dropped_readings", 0) > 0
            for _, doc in collector.statuses), 20)
        assert _spool_status(collector, policy="drop_oldest")
    finally:
        running.stop()
        collector.close()
        broker.down()


def test_spool_full_stop_sampling_loses_nothing(settings, tmp_path, caplog) -> None:
    s, broker = private_broker(settings, tmp_path)
    fleet = build_fleet(1, 1, seed=10, start=datetime.now(UTC) - timedelta(days=3))
    days, interval = 1.0, 4.0
    broker.up(fleet.devices())
    collector = Collector(s)
    broker.down()
    caplog.set_level(logging.INFO, logger="assetwatch.edge_agent")
    running = Running(EdgeAgent(FleetSimulator(fleet, days, interval),
                                _options(s, fleet, tmp_path, spool_max_bytes=1_000_000,
                                         spool_full_policy="stop_sampling")),
                      drain_timeout_s=60)
    try:
        assert running.wait(lambda: running.agent._limit.paused)
        assert "sampling stopped (policy stop_sampling)" in caplog.text
        time.sleep(0.5)
        assert running.agent.spool is not None
        assert running.agent.spool.size_bytes < 1_400_000  # limit + one poll
        broker.up()
        assert collector.wait_for(lambda: _spool_status(collector, state="full",
                                                        sampling="stopped"), 20)
        running.thread.join(90)
        assert running.summary is not None and running.summary.drained
        assert "sampling resumed" in caplog.text
        expected = expected_readings(fleet, days, interval)
        assert collector.wait_for(lambda: sum(map(len, collector.batches.values()))
                                  >= sum(expected.values()), 20)
        assert collector.readings() == expected
    finally:
        running.stop()
        collector.close()
        broker.down()


def _server_client(s: Settings) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(s.mqtt_username, s.resolved_mqtt_password())
    client.connect(s.mqtt_host, s.mqtt_port)
    client.loop_start()
    return client


def test_bad_remote_config_is_rejected_reported_and_the_old_one_kept(settings, tmp_path
                                                                      ) -> None:
    fleet = build_fleet(1, 1, seed=12, start=datetime.now(UTC) - timedelta(days=2))
    tag, site = fleet.assets[0].asset_tag, fleet.assets[0].site_id
    LocalMosquitto(settings).write_auth(fleet.devices())
    collector = Collector(settings)
    server = _server_client(settings)
    config_topic = topic_for(settings.topic_prefix, site, tag, "config")

    def config_state(state: str, **want: Any) -> bool:
        return any(a == tag and doc["detail"].get("config", {}).get("state") == state
                   and all(v in str(doc["detail"]["config"].get(k)) for k, v in want.items())
                   for a, doc in collector.statuses)

    running = Running(EdgeAgent(FleetSimulator(fleet, 1, 10, speed=86_400 / 60),
                                _options(settings, fleet, tmp_path)))
    try:
        assert collector.wait_for(lambda: len(collector.batches) > 1, 15)
        server.publish(config_topic, b'{"sampling_interval_s": -1}', qos=1,
                       retain=True).wait_for_publish(5)
        assert collector.wait_for(lambda: config_state("rejected",
                                                       reason="sampling_interval_s"), 10)
        assert running.agent._remote.active[tag] == {}
        good = {"sensors_enabled": ["flow", "vibration_rms"], "batch_max_readings": 50,
                "sampling_interval_s": 30}
        server.publish(config_topic, json.dumps(good).encode(), qos=1,
                       retain=True).wait_for_publish(5)
        assert collector.wait_for(lambda: config_state("accepted"), 10)
        seen = len(collector.batches)
        assert collector.wait_for(lambda: len(collector.batches) > seen + 4, 15)
        latest = max(seq for a, seq in collector.batches if a == tag)
        assert {r[1] for r in collector.batches[(tag, latest)]} == {"flow", "vibration_rms"}
        assert len(collector.batches[(tag, latest)]) <= 50
        # Batches sealed after the change: only the enabled sensors (the readings sampled
        # before it may still be sealed after it, in batches of all eight sensors).
        after = [seq for (a, seq), rs in sorted(collector.batches.items())
                 if a == tag and {r[1] for r in rs} == {"flow", "vibration_rms"}]
        recent = [after[-1]]  # the trailing run of consecutive such batches, three at most
        while len(recent) < 3 and recent[-1] - 1 in after:
            recent.append(recent[-1] - 1)
        times = sorted({r[0] for seq in recent for r in collector.batches[(tag, seq)]})
        assert {b - a for a, b in itertools.pairwise(times)} == {30_000}
        server.publish(config_topic, b'{"sensors_enabled": ["warp_drive"]}', qos=1,
                       retain=True).wait_for_publish(5)
        assert collector.wait_for(lambda: config_state("rejected", reason="warp_drive",
                                                       active="vibration_rms"), 10)
        assert running.agent._remote.active[tag] == good
    finally:
        server.publish(config_topic, b"", qos=1, retain=True).wait_for_publish(5)
        running.stop()
        server.disconnect()
        server.loop_stop()
        collector.close()


def test_bad_csv_publishes_the_complete_rows_only(settings, tmp_path) -> None:
    tag, site = "CSV-P001", "site-csv"
    LocalMosquitto(settings).write_auth([(site, tag)])
    t0 = int(time.time()) - 3600
    rows = [f"{t0 + i},{i}.5,{20 + i}" for i in range(5)]
    path = tmp_path / "pump.csv"
    path.write_text("ts,flow,temp\n" + "\n".join(rows) + f"\n{t0 + 5},7.5,hot\n{t0 + 6},1,2\n")
    collector = Collector(settings)
    agent = EdgeAgent(CsvReplay(path, tag, site), AgentOptions(
        endpoint=MqttEndpoint(settings.mqtt_host, settings.mqtt_port),
        spool_path=tmp_path / "spool.db", prefix=settings.topic_prefix,
        passwords={tag: device_password(settings, tag)}))
    try:
        with pytest.raises(CsvReplayError, match=rf"{path}:7: column 'temp': unparsable"):
            agent.run(drain_timeout_s=20)
        assert collector.wait_for(lambda: sum(map(len, collector.batches.values())) >= 10, 10)
        time.sleep(0.3)
        got = collector.readings()
        assert sum(got.values()) == 10
        assert max(ts for _, ts, _, _ in got) == (t0 + 4) * 1000
    finally:
        collector.close()


def test_part_replacement_republishes_the_birth_with_the_new_serial(settings, tmp_path
                                                                    ) -> None:
    start = datetime.now(UTC) - timedelta(days=12)
    fleet = next(f for seed in range(3, 100) for f in (build_fleet(1, 2, seed, start),)
                 if any(e.kind == "part_replaced" for tl in FleetSimulator(f, 10, 3600).timelines
                        for e, _ in tl.events))   # a fleet whose world replaces a part
    LocalMosquitto(settings).write_auth(fleet.devices())
    collector = Collector(settings)
    try:
        summary = EdgeAgent(FleetSimulator(fleet, 10, 3600),
                            _options(settings, fleet, tmp_path)).run(drain_timeout_s=30)
        assert summary.drained
        assert collector.wait_for(lambda: any(e["kind"] == "part_replaced"
                                              for e in collector.events.values()), 10)
        for event in (e for e in collector.events.values() if e["kind"] == "part_replaced"):
            asset = event["event_id"].split("-R-")[0]
            assert any(
                a == asset and doc["state"] == "online" and doc["ts"] == event["ts"]
                and {"component_type": event["component_type"],
                     "serial_no": event["serial_installed"],
                     "part_no": event["part_no"]} in doc["components"]
                for a, doc in collector.statuses)
        online = [doc for _, doc in collector.statuses if doc["state"] == "online"]
        assert all(doc["agent_version"] and doc["firmware"] and doc["config_hash"]
                   for doc in online)
    finally:
        collector.close()
