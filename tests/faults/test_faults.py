"""Zero loss, proven by injecting faults into real servers and processes, and counting.

Every case streams a simulated site (4 assets x 8 sensors, 2 days at one-minute samples:
92,160 readings and its events, in about 10 s) through the real edge agent, a real broker and
``ingest run --workers 2`` into a real TimescaleDB, injects one fault mid-stream, and then
checks that what the database holds equals an independent replay of the simulator, reading
by reading: nothing missing, nothing twice, no dead letter. Two more cases attack from a
device: one joining ingest's shared subscription group, one repeating readings.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from fault_support import Rig, Servers
from paho.mqtt.enums import CallbackAPIVersion

from assetwatch.core.settings import Settings
from assetwatch.core.wire import TelemetryBatch, encode_batch, topic_for
from assetwatch.stack.mosquitto import device_password

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(base_settings: Settings) -> Iterator[Servers]:
    made = Servers(base_settings)
    yield made
    made.close()


@pytest.fixture
def rig(servers: Servers, request: pytest.FixtureRequest) -> Iterator[Rig]:
    name = request.node.name.removeprefix("test_").replace("[", "_").rstrip("]")
    name = "".join(ch if ch.isalnum() else "_" for ch in name)[:40]
    made = Rig(servers, name)
    yield made
    made.stop()
    if servers.broker.status() != "running":
        servers.start_broker()
    if servers.postgres.status() != "running":
        servers.start_database()


def _mid_stream(rig: Rig) -> None:
    """Wait until a good part of the stream, but not all of it, is stored."""
    total = sum(rig.expected().values())
    rig.wait_for(lambda: rig.readings_stored() > total // 5, 60, "the stream to be under way")


def test_ingest_worker_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    workers = rig.ingest_workers()
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    rig.wait_edge()
    rig.assert_exactly_once()
    assert workers[0] not in rig.ingest_workers() and len(rig.ingest_workers()) == 2


def test_whole_ingest_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.kill_ingest()
    time.sleep(1.0)
    rig.start_ingest()
    rig.wait_edge()
    rig.assert_exactly_once()


def test_edge_agent_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.kill_edge()
    rig.start_edge()  # resumes its spool and the simulator's checkpoint
    rig.wait_edge()
    rig.assert_exactly_once()


@pytest.mark.parametrize("outage_s", [1, 15])
def test_broker_killed(rig: Rig, outage_s: int) -> None:
    """A short outage, and one outlasting the rest of the stream, so the site's source ends
    while the broker is down and everything after the fault waits in the agent's spool. Both
    sides retry at their capped back-off (1 s here, 0.5 s for ingest) within 3 s of it, so a
    longer outage only repeats the same retry."""
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.servers.kill_broker()
    time.sleep(outage_s)
    rig.servers.start_broker()
    rig.wait_edge(180 + outage_s)
    rig.assert_exactly_once()


def test_database_fast_stop(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.servers.stop_database_fast()
    time.sleep(3)
    rig.servers.start_database()
    rig.wait_edge()
    rig.assert_exactly_once()


def test_database_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.servers.kill_database()
    time.sleep(2)
    rig.servers.start_database()
    rig.wait_edge()
    rig.assert_exactly_once()


def test_device_joining_the_ingest_group(rig: Rig) -> None:
    """A device subscribing to ingest's shared group is refused, and costs no reading."""
    tag = rig.fleet.assets[0].asset_tag
    intruder = _device_client(rig, tag, "intruder")
    granted: list[list[int]] = []
    done = threading.Event()
    intruder.on_subscribe = lambda c, u, mid, codes, p: (granted.append(
        [code.value for code in codes]), done.set())
    group = f"$share/{rig.settings.ingest_group}/{rig.settings.topic_prefix}/v1/+/+/telemetry"
    intruder.subscribe([(group, 1), ("#", 1)])
    assert done.wait(10)
    assert all(code >= 0x80 for code in granted[0]), f"granted: {granted[0]}"
    try:
        rig.start_ingest()
        rig.start_edge()
        _mid_stream(rig)
        intruder.subscribe(group, qos=1)  # and again, while the stream flows
        rig.wait_edge()
        rig.assert_exactly_once()
    finally:
        intruder.disconnect()
        intruder.loop_stop()


def test_duplicate_readings_stored_once(rig: Rig) -> None:
    """A buggy device repeats readings inside batches and re-sends the site's readings
    under seqs of its own: each (asset, sensor, time) is stored once, every copy counted."""
    expected = sorted(rig.expected())
    tag = rig.fleet.assets[0].asset_tag
    own = [r for r in expected if r[0] == tag][:3000]
    buggy = _device_client(rig, tag, "buggy")
    acks: dict[int, int] = {}
    buggy.on_publish = lambda c, u, mid, code, p: acks.__setitem__(mid, code.value)
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)  # ingest is subscribed: the broker has somebody to pass them to
    sent = 0
    infos = []
    for seq, start in enumerate(range(0, len(own), 500), start=1):
        readings = [[ts, sensor, value] for _, ts, sensor, value in own[start:start + 500]]
        doubled = [r for reading in readings for r in (reading, reading)]
        payload = encode_batch(TelemetryBatch(tag, seq, doubled))  # type: ignore[arg-type]
        topic = topic_for(rig.settings.topic_prefix, rig.fleet.assets[0].site_id, tag,
                          "telemetry")
        infos.append(buggy.publish(topic, payload, qos=1))
        sent += len(doubled)
    for info in infos:
        info.wait_for_publish(30)
    assert [acks.get(info.mid) for info in infos] == [0] * len(infos)
    rig.wait_edge()
    rig.assert_exactly_once()
    rig.wait_for(lambda: rig.count("SELECT coalesce(sum(duplicate_readings), 0)"
                                   " FROM ingest_batch") >= sent,
                 30, "the buggy device's batches")
    assert rig.count("SELECT sum(duplicate_readings) FROM ingest_batch") == sent
    buggy.disconnect()
    buggy.loop_stop()


def _device_client(rig: Rig, tag: str, name: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{tag}",
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(tag, device_password(rig.settings, tag))
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect(rig.settings.mqtt_host, rig.settings.mqtt_port)
    client.loop_start()
    assert connected.wait(10), "the device could not connect"
    return client
