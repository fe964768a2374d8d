"""Commit receipts: ingest names, per asset, what it committed; only after the commit."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest
from ingest_support import SENSORS, batch_payload, devices, fleet, start_worker  # noqa: F401

from assetwatch.core.wire import (
    AssetEvent,
    decode_receipt,
    encode_event,
    encode_status,
    topic_for,
)
from assetwatch.core.wire import AssetStatus as Status
from assetwatch.ingest.inbound import classify
from assetwatch.ingest.receipts import receipts_for

PREFIX = "plant"


def _message(kind: str, payload: bytes, asset: str = "P-1", site: str = "s1"):
    return classify(topic_for(PREFIX, site, asset, kind), payload, PREFIX)


def test_receipts_name_batches_and_events_per_asset() -> None:
    now = int(time.time() * 1000)
    event = AssetEvent("ev-1", now - 1000, "maintenance")
    group = [
        _message("telemetry", batch_payload("P-1", 7)),
        _message("telemetry", batch_payload("P-1", 8)),
        _message("telemetry", batch_payload("P-2", 3), asset="P-2"),
        _message("events", encode_event(event)),
        _message("status", encode_status(Status("online", now))),
        # decodes as JSON but breaks the wire format: its seq is still named
        _message("telemetry", json.dumps({"asset": "P-1", "seq": 9,
                                          "readings": [[1, "x", 1.0]]}).encode()),
        # not JSON at all: nothing to name
        _message("telemetry", b"\xff\xfe"),
        classify("bad/topic", b"{}", PREFIX),
    ]
    outcomes = ["stored", "duplicate", "stored", "stored", "stored", "dead_letter",
                "dead_letter", "dead_letter"]
    got = {topic: decode_receipt(payload)
           for topic, payload in receipts_for(group, outcomes, PREFIX, now_ms=now)}
    assert set(got) == {topic_for(PREFIX, "s1", "P-1", "receipt"),
                        topic_for(PREFIX, "s1", "P-2", "receipt")}
    p1 = got[topic_for(PREFIX, "s1", "P-1", "receipt")]
    assert p1.seqs == [7, 8, 9] and p1.events == ["ev-1"] and p1.dead_letters == 1
    assert p1.ts_ms == now
    p2 = got[topic_for(PREFIX, "s1", "P-2", "receipt")]
    assert p2.seqs == [3] and p2.events == [] and p2.dead_letters == 0


@pytest.mark.integration
def test_a_receipt_comes_after_the_commit(fleet, devices, start_worker) -> None:  # noqa: F811
    settings = fleet.settings
    device = devices(settings, fleet.site, "P-1")
    received: list[tuple[float, bytes]] = []
    seen = threading.Event()

    def on_message(client, userdata, msg) -> None:
        received.append((time.time(), bytes(msg.payload)))
        seen.set()

    device.client.on_message = on_message
    done = threading.Event()
    device.client.on_subscribe = lambda *a: done.set()
    device.client.subscribe(device.topic("receipt"), qos=1)
    assert done.wait(10)
    start_worker(settings)
    future = int(time.time() * 1000) + 3 * 86_400_000
    bad = json.dumps({"asset": "P-1", "seq": 102,
                      "readings": [[future, SENSORS[0][0], 1.0]]}).encode()
    for payload in (batch_payload("P-1", 100), batch_payload("P-1", 101), bad):
        device.publish(payload)
    deadline = time.monotonic() + 15
    seqs: set[int] = set()
    dead = 0
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        while seqs != {100, 101, 102} and time.monotonic() < deadline:
            seen.wait(0.5)
            seen.clear()
            while received:
                _, payload = received.pop(0)
                receipt = decode_receipt(payload)
                # whatever a receipt names is in the database when the receipt arrives
                stored = {s for (s,) in conn.execute(
                    "SELECT seq FROM ingest_batch b JOIN asset a USING (asset_id)"
                    " WHERE a.asset_tag = 'P-1' AND seq = ANY(%s)", (receipt.seqs,))}
                kept = conn.execute("SELECT count(*) FROM dead_letter").fetchone()[0]
                assert set(receipt.seqs) - stored == ({102} if receipt.dead_letters else set())
                assert kept >= receipt.dead_letters
                seqs |= set(receipt.seqs)
                dead += receipt.dead_letters
    assert seqs == {100, 101, 102}
    assert dead == 1
