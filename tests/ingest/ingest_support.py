"""Helpers for ingest tests: a registered fleet, device publishers and in-process workers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.core.wire import TelemetryBatch, encode_batch, topic_for
from assetwatch.ingest.consumer import IngestWorker
from assetwatch.stack.mosquitto import LocalMosquitto, device_password

SITE = "site-1"
MODEL = "CP-200"
SENSORS = (("vibration_rms", "mm/s"), ("bearing_temp", "degC"))


@dataclass
class Fleet:
    settings: Settings
    site: str
    assets: dict[str, int]  # asset_tag -> asset_id


def register(settings: Settings, tags: list[str], *, site: str = SITE,
             broker: bool = True, sensors: Sequence[tuple[str, str | None]] = SENSORS
             ) -> Fleet:
    """Register ``tags`` as assets of one site (and as broker devices), their model
    declaring ``sensors``."""
    with psycopg.connect(settings.db_url) as conn:
        ids = register_fleet(conn, [(site, f"Site {site}", "ACME", 24)],
                             [(MODEL, "centrifugal_pump", "pump")],
                             [AssetSpec(tag, site, MODEL, sensors) for tag in tags])
    if broker:
        LocalMosquitto(settings).write_auth([(site, tag) for tag in tags])
    return Fleet(settings, site, ids)


@pytest.fixture
def fleet(fresh_settings: Settings) -> Fleet:
    return register(fresh_settings, ["P-1", "P-2", "P-3"])


def batch_payload(asset: str, seq: int, n: int = 4, t0_ms: int | None = None) -> bytes:
    t0 = t0_ms if t0_ms is not None else int(time.time() * 1000) - 10 * 86_400_000
    readings = [[t0 + seq * 60_000 + k // 2, SENSORS[k % 2][0], float(seq * 100 + k)]
                for k in range(n)]
    return encode_batch(TelemetryBatch(asset, seq, readings))  # type: ignore[arg-type]


class Device:
    """An MQTT 5 client with a device's own credentials; ``publish`` waits for the PUBACK."""

    def __init__(self, settings: Settings, site: str, asset: str) -> None:
        self.settings, self.site, self.asset = settings, site, asset
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{asset}-"
                                  f"{settings.topic_prefix}", protocol=mqtt.MQTTv5)
        self.client.username_pw_set(asset, device_password(settings, asset))
        self.client.max_inflight_messages_set(200)
        self.acks: dict[int, int] = {}
        self.client.on_publish = self._on_publish
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect(settings.mqtt_host, settings.mqtt_port)
        self.client.loop_start()
        assert connected.wait(10), "device could not connect"

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self.acks[mid] = reason_code.value

    def topic(self, kind: str = "telemetry", site: str | None = None,
              asset: str | None = None) -> str:
        return topic_for(self.settings.topic_prefix, site or self.site, asset or self.asset, kind)

    def publish(self, payload: bytes, kind: str = "telemetry", *, topic: str | None = None,
                wait: bool = True) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(topic or self.topic(kind), payload, qos=1)
        if wait:
            info.wait_for_publish(10)
        return info

    def publish_json(self, doc: dict, kind: str) -> None:
        self.publish(json.dumps(doc).encode(), kind)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices() -> Iterator[Callable[[Settings, str, str], Device]]:
    made: list[Device] = []

    def make(settings: Settings, site: str, asset: str) -> Device:
        d = Device(settings, site, asset)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


class RunningWorker:
    def __init__(self, worker: IngestWorker) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert worker.ready.wait(15), "ingest worker did not subscribe"

    def _run(self) -> None:
        try:
            self.worker.run()
        except BaseException as e:  # reported by stop()
            self.error = e

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()
        if self.error:
            raise self.error


@pytest.fixture
def start_worker() -> Iterator[Callable[..., RunningWorker]]:
    running: list[RunningWorker] = []

    def start(settings: Settings, client_id: str | None = None, **kwargs: object
              ) -> RunningWorker:
        w = RunningWorker(IngestWorker(settings, client_id, session_expiry_s=300,
                                       **kwargs))  # type: ignore[arg-type]
        running.append(w)
        return w

    yield start
    for w in running:
        if w.thread.is_alive():
            w.stop()


def telemetry_counts(settings: Settings) -> tuple[int, int, int]:
    """(readings, distinct (asset, time, sensor) readings, ledger batches)."""
    with psycopg.connect(settings.db_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM telemetry),"
            " (SELECT count(*) FROM (SELECT DISTINCT asset_id, sensor_id, time FROM telemetry) d),"
            " (SELECT count(*) FROM ingest_batch)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])
