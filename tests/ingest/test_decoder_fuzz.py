"""Property-based fuzzing of the payload decoder and of the way ingest classifies messages.

The decoder must never raise anything but :class:`WireError`, must accept exactly what it
documents, and every bad message must end up with a reason.
"""

from __future__ import annotations

import contextlib
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetwatch.core import wire
from assetwatch.ingest.columns import decode_columns
from assetwatch.ingest.inbound import classify

NOW = 1_764_000_000_000
PREFIX = "aw"
FUZZ = settings(max_examples=1500, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

json_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)
timestamps = st.one_of(st.integers(min_value=wire.MIN_TS_MS, max_value=NOW),
                       st.integers(), st.floats(), st.booleans(), st.text(max_size=3))
sensor_names = st.one_of(st.text(min_size=1, max_size=12), st.text(max_size=80), st.integers())
values = st.one_of(st.floats(), st.integers(min_value=-(2**1100), max_value=2**1100),
                   st.booleans(), st.none(), st.text(max_size=3))
readings = st.lists(st.one_of(st.tuples(timestamps, sensor_names, values).map(list),
                              st.lists(json_scalars, max_size=4), json_scalars),
                    min_size=0, max_size=8)
batch_docs = st.fixed_dictionaries(
    {}, optional={"asset": sensor_names, "seq": st.one_of(st.integers(), st.floats(), st.text()),
                  "readings": readings, "extra": json_values})


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, allow_nan=True).encode("utf-8", "surrogatepass")


def _decode(payload: bytes) -> wire.TelemetryBatch | None:
    try:
        return wire.decode_batch(payload, now_ms=NOW)
    except wire.WireError as e:
        assert str(e), "a WireError must carry a reason"
        return None


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_wire_errors(payload: bytes) -> None:
    _decode(payload)
    for decode in (wire.decode_status, wire.decode_event):
        with contextlib.suppress(wire.WireError):
            decode(payload)


@FUZZ
@given(batch_docs)
def test_structured_batches_are_accepted_exactly_when_valid(doc: dict) -> None:
    batch = _decode(_dumps(doc))
    if batch is None:
        return
    assert isinstance(doc.get("asset"), str) and type(doc["seq"]) is int and doc["seq"] >= 0
    assert len(batch.readings) == len(doc["readings"]) > 0
    for (ts, sensor, value), raw in zip(batch.readings, doc["readings"], strict=True):
        assert type(ts) is int and wire.MIN_TS_MS <= ts <= NOW + wire.MAX_FUTURE_MS
        assert isinstance(sensor, str) and sensor.isprintable() and 0 < len(sensor) <= 64
        assert type(value) is float and math.isfinite(value) and value == float(raw[2])


@FUZZ
@given(st.fixed_dictionaries({}, optional={
    "state": st.sampled_from(["online", "offline", "x"]), "ts": timestamps,
    "firmware": json_values, "config_hash": json_values, "components": json_values,
    "detail": json_values, "kind": st.sampled_from([*wire.EVENT_KINDS, "boom"]),
    "event_id": sensor_names, "code": json_values}))
def test_status_and_event_documents_raise_only_wire_errors(doc: dict) -> None:
    payload = _dumps(doc)
    for decode in (wire.decode_status, wire.decode_event):
        try:
            decoded = decode(payload)
        except wire.WireError:
            continue
        # whatever passes is storable text: no NUL, no unpaired surrogate
        json.dumps(getattr(decoded, "detail", {}), ensure_ascii=False).encode()


@FUZZ
@given(st.text(max_size=60), st.binary(max_size=200))
def test_every_message_is_either_decoded_or_has_a_reason(topic: str, payload: bytes) -> None:
    message = classify(topic, payload, PREFIX)
    assert (message.body is None) != (message.error is None)
    if message.error is None:
        assert message.address is not None and message.address.kind in (
            "telemetry", "status", "events")


@FUZZ
@given(st.lists(st.tuples(st.integers(min_value=wire.MIN_TS_MS, max_value=NOW),
                          st.sampled_from(["a", "b", "vib rms", "t\u00e9mp"]),
                          st.floats(allow_nan=False, allow_infinity=False)),
                min_size=1, max_size=50),
       st.integers(min_value=0, max_value=2**63 - 1))
def test_valid_batches_round_trip(readings: list, seq: int) -> None:
    batch = wire.TelemetryBatch("P-1", seq, readings)
    assert wire.decode_batch(wire.encode_batch(batch), now_ms=NOW) == batch


def test_documented_cases_each_have_their_reason() -> None:
    ok = [[NOW, "v", 1.0]]
    cases = {
        b"x" * (wire.MAX_PAYLOAD_BYTES + 1): "more than 1048576",
        b'{"asset":"P","seq":1,"readings":[[': "not JSON",  # truncated
        b"\xc3\x28": "not UTF-8",
        b'{"asset":"P","seq":1,"readings":[[1764000000000,"v",NaN]]}': "NaN",
        b'{"asset":"P","seq":1,"readings":[[1764000000000,"v",-Infinity]]}': "-Infinity",
        b'{"asset":"P","seq":1,"readings":[[1764000000000,"v",1e999]]}': "finite",
        _dumps({"asset": "P", "seq": 1, "readings": [[NOW + 2 * 86_400_000, "v", 1]]}):
            "future",
        _dumps({"asset": "P", "seq": 1, "readings": [[946_684_799_999, "v", 1]]}): "2000-01-01",
        _dumps({"asset": "P", "seq": 1, "readings": [[NOW, "v", 10**400]]}): "out of range",
        _dumps({"asset": "P", "seq": True, "readings": ok}): "seq",
        _dumps({"asset": "P", "seq": 1, "readings": [[NOW, "v", True]]}): "finite",
        _dumps({"asset": "P", "seq": 1, "readings": ok * (wire.MAX_READINGS_PER_BATCH + 1)}):
            "more than 20000",
    }
    for payload, reason in cases.items():
        message = classify("aw/v1/s/P/telemetry", payload, PREFIX, now_ms=NOW)
        assert message.error is not None and reason in message.error, (payload[:80], message)
    for topic, reason in {"aw/v1/s/P": "expected", "aw/v1/s/P/telemetry/x": "expected",
                          "aw/v2/s/P/telemetry": "version", "zz/v1/s/P/telemetry": "prefix",
                          "aw/v1/s/P/config": "server-to-edge", "aw/v1/s/P/other": "kind",
                          "aw/v1//P/telemetry": "empty"}.items():
        message = classify(topic, _dumps({"asset": "P", "seq": 1, "readings": ok}), PREFIX,
                           now_ms=NOW)
        assert message.error is not None and reason in message.error, (topic, message.error)


def _outcome(decode, payload: bytes) -> object:
    try:
        batch = decode(payload, NOW)
    except wire.WireError as e:
        return ("rejected", str(e))
    readings = batch.readings() if callable(batch.readings) else batch.readings
    return (batch.asset, batch.seq, readings)


@FUZZ
@given(batch_docs)
def test_column_decoder_agrees_with_the_wire_decoder(doc: dict) -> None:
    payload = _dumps(doc)
    assert _outcome(decode_columns, payload) == _outcome(wire.decode_batch, payload)


@FUZZ
@given(st.binary(max_size=300))
def test_column_decoder_agrees_on_arbitrary_bytes(payload: bytes) -> None:
    assert _outcome(decode_columns, payload) == _outcome(wire.decode_batch, payload)


@FUZZ
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=6),
       st.integers(min_value=1, max_value=9), st.integers(min_value=0, max_value=5))
def test_sensor_ids_match_name_by_name_mapping(pattern: list, reps: int, cut: int) -> None:
    sensors = (pattern * reps)[: max(1, len(pattern) * reps - cut)]
    payload = _dumps({"asset": "P", "seq": 1,
                      "readings": [[NOW, name, 1.0] for name in sensors]})
    batch = decode_columns(payload, NOW)
    ids = {"a": 7, "b": 8, "c": 9}
    assert batch.sensor_ids(ids).tolist() == [ids[name] for name in sensors]
