"""Helpers for edge agent tests: a collecting subscriber, private brokers, expected readings."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from assetwatch.core.settings import Settings
from assetwatch.core.source import AssetIdentity, Sample, Source, SourceEvent
from assetwatch.core.wire import Receipt, encode_receipt
from assetwatch.sim.fleet import Fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.stack.mosquitto import LocalMosquitto, device_password
from assetwatch.stack.mosquitto import private_broker as stack_private_broker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def private_broker(settings: Settings, tmp_path: Path) -> tuple[Settings, LocalMosquitto]:
    """A broker of the test's own (own data dir and port), not started yet."""
    broker = stack_private_broker(settings, tmp_path / "broker")
    return broker.settings, broker


def passwords(settings: Settings, fleet: Fleet) -> dict[str, str]:
    return {a.asset_tag: device_password(settings, a.asset_tag) for a in fleet.assets}


@dataclass
class Collector:
    """The server side's view: subscribes with the ``ingest`` user and records everything.

    A persistent session (clean_start false, session expiry) so that a broker restart loses
    nothing the collector has subscribed to. Like ingest after a commit, it confirms each
    telemetry batch and event with a receipt (unless ``receipts`` is False), so the agents
    under test can empty their spools.
    """

    settings: Settings
    batches: dict[tuple[str, int], list[list[Any]]] = field(default_factory=dict)
    deliveries: Counter = field(default_factory=Counter)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    conflicts: list[tuple[str, int]] = field(default_factory=list)
    arrivals: list[tuple[str, int]] = field(default_factory=list)
    receipts: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"collector-{secrets.token_hex(4)}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(self.settings.mqtt_username,
                                    self.settings.resolved_mqtt_password())
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(0.2, 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        self.client.connect(self.settings.mqtt_host, self.settings.mqtt_port, clean_start=False,
                            properties=props)
        self.client.loop_start()
        assert self._ready.wait(10), "collector could not subscribe"

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any,
                    props: Any) -> None:
        # Subscribed again on every connect: a session the broker restores may lack a
        # subscription it had not saved yet when it stopped (re-subscribing loses nothing).
        client.subscribe(f"{self.settings.topic_prefix}/v1/#", qos=1)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any,
                      props: Any) -> None:
        self._ready.set()    # the broker has the subscription (SUBACK)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload) if msg.payload else {}
        kind = msg.topic.rsplit("/", 1)[-1]
        asset = msg.topic.split("/")[-2]
        if self.receipts and kind in ("telemetry", "events"):
            receipt = Receipt(seqs=[doc["seq"]] if kind == "telemetry" else [],
                              events=[doc["event_id"]] if kind == "events" else [])
            client.publish(msg.topic.rsplit("/", 1)[0] + "/receipt", encode_receipt(receipt))
        with self._lock:
            if kind == "telemetry":
                key = (doc["asset"], doc["seq"])
                self.deliveries[key] += 1
                self.arrivals.append(key)
                if key in self.batches and self.batches[key] != doc["readings"]:
                    self.conflicts.append(key)
                self.batches[key] = doc["readings"]
            elif kind == "events":
                self.events[doc["event_id"]] = doc
            elif kind == "status":
                self.statuses.append((asset, doc))

    def readings(self) -> Counter:
        """Every reading (asset, ts, sensor, value) after dedup by (asset, seq)."""
        with self._lock:
            return Counter((asset, ts, sensor, value) for (asset, _), rs in self.batches.items()
                           for ts, sensor, value in rs)

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 30) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if predicate():
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def expected_readings(fleet: Fleet, days: float, interval_s: float) -> Counter:
    """Every reading the simulator produces for this fleet and window."""
    sim = FleetSimulator(fleet, days, interval_s)
    out: Counter = Counter()
    while not sim.exhausted:
        for item in sim.poll(10_000, 0):
            if type(item) is Sample:
                out.update((item.asset, item.ts_ms, s, v) for s, v in item.values)
    return out


def expected_event_ids(fleet: Fleet, days: float, interval_s: float) -> set[str]:
    sim = FleetSimulator(fleet, days, interval_s)
    return {e.event_id for tl in sim.timelines for e, _ in tl.events}



class CountingSource(Source):
    """A live plug-in source for tests: ``count`` readings of one sensor, then exhausted."""

    def __init__(self, asset: str, site_id: str, count: int) -> None:
        self.asset, self.site_id, self.count = asset, site_id, count
        self._n = 0
        self._t0 = int(time.time() * 1000) - 60_000

    def assets(self) -> list[AssetIdentity]:
        return [AssetIdentity(self.asset, self.site_id, ("level",))]

    @property
    def exhausted(self) -> bool:
        return self._n >= self.count

    def poll(self, max_readings: int, timeout_s: float) -> list[Sample | SourceEvent]:
        n = min(max_readings, self.count - self._n)
        out: list[Sample | SourceEvent] = [
            Sample(self.asset, self._t0 + i, [("level", float(i))])
            for i in range(self._n, self._n + n)]
        self._n += n
        return out
