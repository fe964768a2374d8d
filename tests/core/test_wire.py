"""The v1 wire format: encode/decode round trips and the validation rules."""

from __future__ import annotations

import json
import time
from importlib import resources

import jsonschema
import pytest

from assetwatch.core import wire

NOW = 1_764_000_000_000


def _payload(**overrides: object) -> bytes:
    doc = {"asset": "P-1", "seq": 3, "readings": [[NOW, "vibration", 1.5], [NOW, "temp", 40]]}
    doc.update(overrides)
    return json.dumps(doc).encode()


def test_round_trip() -> None:
    batch = wire.TelemetryBatch("P-1", 7, [(NOW, "vibration", 1.25)])
    assert wire.decode_batch(wire.encode_batch(batch), now_ms=NOW) == batch


def test_integer_values_become_floats() -> None:
    batch = wire.decode_batch(_payload(), now_ms=NOW)
    assert batch.readings[1] == (NOW, "temp", 40.0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not JSON"),
        (b"[]", "JSON object"),
        (_payload(seq=-1), "seq"),
        (_payload(seq=1.5), "seq"),
        (_payload(readings=[]), "non-empty"),
        (_payload(readings=[[NOW, "x"]]), "readings[0]"),
        (_payload(readings=[[NOW, "x", "1"]]), "finite number"),
        (b'{"asset":"P","seq":1,"readings":[[1764000000000,"x",NaN]]}', "not a number"),
        (b'{"asset":"P","seq":1,"readings":[[1764000000000,"x",Infinity]]}', "not a number"),
        (_payload(readings=[[1000, "x", 1.0]]), "before 2000"),
        (_payload(readings=[[NOW + 3 * 86_400_000, "x", 1.0]]), "future"),
        (_payload(asset=""), "asset"),
        (_payload(asset="a" * 65), "longer"),
        (_payload(readings=[[NOW, "bad\nname", 1.0]]), "control"),
        (b"x" * (wire.MAX_PAYLOAD_BYTES + 1), "more than"),
    ],
)
def test_bad_batches_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        wire.decode_batch(payload, now_ms=NOW)


def test_topics() -> None:
    topic = wire.topic_for("aw", "site-1", "P-1", "telemetry")
    assert topic == "aw/v1/site-1/P-1/telemetry"
    assert wire.parse_topic(topic, "aw") == wire.TopicAddress("aw", "site-1", "P-1", "telemetry")
    for bad in ("aw/v1/site-1/telemetry", "aw/v2/s/a/telemetry", "zz/v1/s/a/telemetry",
                "aw/v1/s/a/other"):
        with pytest.raises(wire.WireError):
            wire.parse_topic(bad, "aw")


def test_schema_accepts_what_the_decoder_accepts() -> None:
    schema = json.loads(
        resources.files("assetwatch.core.wire_schema").joinpath("telemetry.v1.json").read_text())
    jsonschema.validate(json.loads(_payload()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"asset": "P", "seq": -1, "readings": []}, schema)


def test_status_and_event_round_trip() -> None:
    status = wire.AssetStatus("online", NOW, "0.1.0", "fw-2", "abc",
                              [{"component_type": "bearing", "serial_no": "B-1"}])
    assert wire.decode_status(wire.encode_status(status)) == status
    event = wire.AssetEvent("e-1", NOW, "part_replaced", "bearing", "PN-1", "B-1", "B-2")
    assert wire.decode_event(wire.encode_event(event)) == event
    with pytest.raises(wire.WireError):
        wire.decode_event(json.dumps({"event_id": "e", "ts": NOW, "kind": "boom"}).encode())


def test_event_and_status_times_are_checked_against_the_given_clock() -> None:
    later = int(time.time() * 1000) + 400 * 86_400_000   # a simulated year ahead of the clock
    event = wire.AssetEvent("e-2", later, "controller_error", code="E210")
    status = wire.AssetStatus("online", later)
    for decode, payload in ((wire.decode_event, wire.encode_event(event)),
                            (wire.decode_status, wire.encode_status(status))):
        with pytest.raises(wire.WireError, match="future"):
            decode(payload)
        assert decode(payload, later).ts_ms == later
        with pytest.raises(wire.WireError, match="future"):
            decode(payload, NOW)
