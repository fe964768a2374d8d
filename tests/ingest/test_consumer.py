"""The ingest worker with the real Mosquitto and TimescaleDB."""

from __future__ import annotations

import json
import time

import psycopg
from ingest_support import Fleet, batch_payload, telemetry_counts

from assetwatch.core.wire import AssetEvent, AssetStatus, encode_event, encode_status
from assetwatch.ingest.monitor import wait_idle

NOT_AUTHORIZED = 0x87


def test_readings_are_ingested_exactly_once_and_bad_messages_kept(
        fleet: Fleet, devices, start_worker) -> None:
    s = fleet.settings
    worker = start_worker(s)
    p1, p2 = devices(s, fleet.site, "P-1"), devices(s, fleet.site, "P-2")
    for seq in range(50):
        p1.publish(batch_payload("P-1", seq, n=10), wait=False)
        p2.publish(batch_payload("P-2", seq, n=10), wait=False)
    p1.publish(batch_payload("P-1", 7, n=10))  # a duplicate batch: stored once
    p1.publish(b"\xff\xfe not utf-8")
    p1.publish(b'{"asset":"P-1","seq":99,"readings":[[1764000000000,"x",NaN]]}')
    p1.publish(json.dumps({"asset": "P-1", "seq": 98, "readings": [[1000, "x", 1.0]]}).encode())
    now = int(time.time() * 1000)
    p1.publish(encode_status(AssetStatus("online", now, "1.0", "fw-9", "h")), "status")
    p1.publish(encode_event(AssetEvent("e-1", now, "maintenance")), "events")
    p1.publish(b"x" * 1_100_000)  # oversized
    wait_idle(s, expected_batches=100, expected_dead_letters=4, timeout=30)
    time.sleep(0.5)
    worker.stop()
    assert telemetry_counts(s) == (1000, 1000, 100)
    assert worker.worker.stats.duplicates == 1
    with psycopg.connect(s.db_url) as conn:
        reasons = sorted(r[0] for r in conn.execute("SELECT reason FROM dead_letter"))
        assert [r.split(":")[0] for r in reasons] == [
            "payload", "payload", "payload", "readings[0]"]
        assert any("not UTF-8" in r for r in reasons)
        assert any("more than 1048576" in r for r in reasons)
        assert conn.execute("SELECT online FROM v_asset WHERE asset_tag = 'P-1'").fetchone() == (
            True,)
        assert conn.execute("SELECT count(*) FROM v_asset_event").fetchone() == (1,)
        rate = conn.execute("SELECT sum(readings) FROM v_ingest_rate").fetchone()
        assert rate == (1000,)
        assert conn.execute("SELECT sum(dead_letters) FROM v_dead_letter_rate").fetchone() == (4,)
        completeness = conn.execute("SELECT asset_tag, missing_batches FROM"
                                    " v_device_completeness ORDER BY 1").fetchall()
        assert completeness == [("P-1", 0), ("P-2", 0)]


def test_two_workers_split_the_load_exactly_once(fleet: Fleet, devices, start_worker) -> None:
    s = fleet.settings.model_copy(update={"ingest_batch_max_messages": 20})
    a = start_worker(s, f"{s.topic_prefix}-a")
    b = start_worker(s, f"{s.topic_prefix}-b")
    publishers = [devices(s, fleet.site, tag) for tag in ("P-1", "P-2", "P-3")]
    for seq in range(200):
        for dev in publishers:
            dev.publish(batch_payload(dev.asset, seq, n=6), wait=False)
    for dev in publishers:
        dev.publish(batch_payload(dev.asset, 0, n=6))  # duplicates, possibly to the other worker
    wait_idle(s, expected_batches=600, timeout=60)
    time.sleep(0.5)
    a.stop()
    b.stop()
    assert telemetry_counts(s) == (3600, 3600, 600)
    got_a, got_b = a.worker.stats.batches, b.worker.stats.batches
    assert got_a + got_b == 600
    assert min(got_a, got_b) > 100, (got_a, got_b)


def test_a_device_cannot_publish_into_another_devices_topics(fleet: Fleet, devices,
                                                             start_worker) -> None:
    s = fleet.settings
    start_worker(s)
    p1 = devices(s, fleet.site, "P-1")
    for kind in ("telemetry", "status", "events"):
        info = p1.publish(batch_payload("P-2", 1), topic=p1.topic(kind, asset="P-2"))
        assert p1.acks[info.mid] == NOT_AUTHORIZED
    info = p1.publish(batch_payload("P-1", 1), topic=p1.topic("telemetry", site="other-site"))
    assert p1.acks[info.mid] == NOT_AUTHORIZED
    info = p1.publish(batch_payload("P-1", 1))
    assert p1.acks[info.mid] == 0
    wait_idle(s, expected_batches=1, timeout=20)
    time.sleep(0.5)
    assert telemetry_counts(s)[2] == 1
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone() == (0,)


def test_a_worker_that_leaves_the_group_gets_no_share_while_gone(
        fleet: Fleet, devices, start_worker) -> None:
    s = fleet.settings
    leaving = start_worker(s, f"{s.topic_prefix}-leaving", leave_group=True)
    staying = start_worker(s, f"{s.topic_prefix}-staying")
    leaving.stop()
    device = devices(s, fleet.site, "P-1")
    for seq in range(20):
        device.publish(batch_payload("P-1", seq, n=2))
    wait_idle(s, expected_batches=20, timeout=20)
    staying.stop()
    assert staying.worker.stats.batches == 20
