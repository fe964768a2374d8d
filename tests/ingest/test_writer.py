"""The batch writer against the real database: exactly once, dead letters, records."""

from __future__ import annotations

import json
import time

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_support import SITE, Fleet, batch_payload, register, telemetry_counts

from assetwatch.core.settings import Settings
from assetwatch.core.wire import AssetEvent, AssetStatus, encode_event, encode_status, topic_for
from assetwatch.ingest.inbound import classify
from assetwatch.ingest.writer import DEAD, DUPLICATE, STORED, BatchWriter

NOW_MS = int(time.time() * 1000)


def _msg(settings: Settings, payload: bytes, asset: str = "P-1", kind: str = "telemetry",
         site: str = SITE):
    return classify(topic_for(settings.topic_prefix, site, asset, kind), payload,
                    settings.topic_prefix)


@pytest.fixture
def writer(fleet: Fleet):
    with psycopg.connect(fleet.settings.db_url) as conn:
        yield BatchWriter(conn)


def test_batches_are_written_once_even_when_repeated(fleet: Fleet, writer: BatchWriter) -> None:
    s = fleet.settings
    group = [_msg(s, batch_payload("P-1", seq, n=6)) for seq in range(5)]
    group.append(_msg(s, batch_payload("P-1", 2, n=6)))  # repeated inside the group
    result = writer.write(group)
    assert result.batches == 5 and result.duplicates == 1 and result.readings == 30
    assert result.outcomes == [STORED] * 5 + [DUPLICATE]
    again = writer.write(group[:3])  # redelivered after a crash
    assert again.batches == 0 and again.duplicates == 3
    assert telemetry_counts(s) == (30, 30, 5)


def test_unknown_asset_and_wrong_site_are_dead_lettered(fleet: Fleet, writer: BatchWriter,
                                                         ) -> None:
    s = fleet.settings
    result = writer.write([
        _msg(s, batch_payload("X-9", 1), asset="X-9"),
        _msg(s, batch_payload("P-1", 1), site="elsewhere"),
        _msg(s, batch_payload("P-1", 1), asset="P-2"),  # topic asset differs from payload's
        _msg(s, batch_payload("P-2", 1), asset="P-2"),
    ])
    assert result.outcomes == [DEAD, DEAD, DEAD, STORED]
    with psycopg.connect(s.db_url) as conn:
        reasons = [r[0] for r in conn.execute("SELECT reason FROM dead_letter ORDER BY 1")]
    assert reasons == [
        "topic asset 'P-2' does not match the batch's asset 'P-1'",
        "topic site 'elsewhere' is not the registered site 'site-1' of asset 'P-1'",
        "unknown asset 'X-9'",
    ]


def test_a_redelivered_bad_message_is_dead_lettered_once(fleet: Fleet, writer: BatchWriter
                                                         ) -> None:
    s = fleet.settings
    bad = _msg(s, b"{not json")
    writer.write([bad])
    writer.write([_msg(s, b"{not json")])
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letter").fetchone() == (1,)


def test_sensor_declared_while_running_is_registered_with_the_model_unit(
        fleet: Fleet, writer: BatchWriter) -> None:
    s = fleet.settings
    ts = NOW_MS - 1000
    payload = json.dumps({"asset": "P-1", "seq": 1, "readings": [[ts, "flow", 190.5]]}).encode()
    assert writer.write([_msg(s, payload)]).outcomes == [DEAD]
    with psycopg.connect(s.db_url) as conn:  # declared after the writer read the model
        conn.execute("INSERT INTO model_sensor (model_id, sensor, unit) VALUES"
                     " ('CP-200', 'flow', 'm3/h')")
    payload = json.dumps({"asset": "P-1", "seq": 2, "readings": [[ts, "flow", 190.5]]}).encode()
    assert writer.write([_msg(s, payload)]).batches == 1
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT unit FROM sensor WHERE asset_id = %s AND name = 'flow'",
                            (fleet.assets["P-1"],)).fetchall() == [("m3/h",)]
        assert conn.execute("SELECT count(*) FROM v_telemetry WHERE sensor = 'flow'"
                            ).fetchone() == (1,)


def test_names_full_of_quotes_and_sql_are_data(fresh_settings: Settings) -> None:
    evil_asset = "P'; DROP TABLE telemetry; --\"x"
    evil_site = "s\"); DELETE FROM asset; --'"
    evil_sensor = "t'); DROP TABLE sensor;--"
    fleet = register(fresh_settings, [evil_asset], site=evil_site, broker=False,
                     sensors=[(evil_sensor, None), ('q"uote\\', None)])
    ts = NOW_MS - 1000
    payload = json.dumps({"asset": evil_asset, "seq": 0, "readings": [
        [ts, evil_sensor, 1.0], [ts, 'q"uote\\', 2.0]]}).encode()
    with psycopg.connect(fresh_settings.db_url) as conn:
        writer = BatchWriter(conn)
        result = writer.write([_msg(fresh_settings, payload, asset=evil_asset, site=evil_site)])
        assert result.batches == 1, result.reasons
        rows = conn.execute("SELECT asset_tag, site_id, sensor, value FROM v_telemetry"
                            " ORDER BY value").fetchall()
    assert rows == [(evil_asset, evil_site, evil_sensor, 1.0),
                    (evil_asset, evil_site, 'q"uote\\', 2.0)]
    assert fleet.assets[evil_asset] > 0


def test_status_messages_keep_configuration_records(fleet: Fleet, writer: BatchWriter) -> None:
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        conn.execute("INSERT INTO component_type (component_type) VALUES ('bearing')"
                     " ON CONFLICT DO NOTHING")
        conn.execute("INSERT INTO part (part_no, description, unit_cost, warranty_months)"
                     " VALUES ('BRG-1', 'bearing', 10, 12)")
    t1, t2, t3 = NOW_MS - 30_000, NOW_MS - 20_000, NOW_MS - 10_000
    comps = [{"component_type": "bearing", "serial_no": "B-1", "part_no": "BRG-1"},
             {"component_type": "impeller", "serial_no": "I-1"}]
    birth1 = AssetStatus("online", t1, "1.0", "fw-1", "h1", comps)
    birth2 = AssetStatus("online", t3, "1.0", "fw-2", "h1",
                         [dict(comps[0], serial_no="B-2"), comps[1]])
    death = AssetStatus("offline", t2)
    result = writer.write([_msg(s, encode_status(birth1), kind="status"),
                           _msg(s, encode_status(birth2), kind="status"),
                           _msg(s, encode_status(death), kind="status")])  # stale death
    assert result.outcomes == [STORED] * 3
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT online FROM asset WHERE asset_tag = 'P-1'").fetchone() == (
            True,)
        configs = conn.execute("SELECT firmware, valid_to IS NULL FROM v_asset_configuration"
                               " WHERE asset_tag = 'P-1' ORDER BY valid_from").fetchall()
        assert configs == [("fw-1", False), ("fw-2", True)]
        installed = conn.execute(
            "SELECT component_type, serial_no, part_no, is_current, warranty_end IS NOT NULL"
            " FROM v_installed_component WHERE asset_tag = 'P-1'"
            " ORDER BY component_type, valid_from").fetchall()
        assert installed == [("bearing", "B-1", "BRG-1", False, True),
                             ("bearing", "B-2", "BRG-1", True, True),
                             ("impeller", "I-1", None, True, False)]


def test_events_are_stored_once_and_part_replaced_updates_installed_base(
        fleet: Fleet, writer: BatchWriter) -> None:
    s = fleet.settings
    birth = AssetStatus("online", NOW_MS - 60_000, "1.0", "fw-1", "h",
                        [{"component_type": "seal", "serial_no": "S-1"}])
    replaced = AssetEvent("ev-1", NOW_MS - 30_000, "part_replaced", "seal", "SEAL-9", "S-1",
                          "S-2")
    error = AssetEvent("ev-2", NOW_MS - 20_000, "controller_error", code="E42",
                       detail={"axis": 2})
    msgs = [_msg(s, encode_status(birth), kind="status"),
            _msg(s, encode_event(replaced), kind="events"),
            _msg(s, encode_event(error), kind="events")]
    assert writer.write(msgs).outcomes == [STORED] * 3
    assert writer.write(msgs[1:]).outcomes == [DUPLICATE] * 2
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT kind, code FROM v_asset_event ORDER BY time").fetchall() == [
            ("part_replaced", None), ("controller_error", "E42")]
        assert conn.execute(
            "SELECT serial_no, is_current FROM v_installed_component WHERE component_type ="
            " 'seal' ORDER BY valid_from").fetchall() == [("S-1", False), ("S-2", True)]


def test_database_rejection_of_one_message_does_not_block_the_group(
        fleet: Fleet, writer: BatchWriter) -> None:
    s = fleet.settings
    event = AssetEvent("ev-x", NOW_MS - 1000, "maintenance", detail={"note": "ok"})
    good = _msg(s, batch_payload("P-1", 1))
    bad = _msg(s, encode_event(event), kind="events")
    bad.body.kind = "not-a-kind"  # violates asset_event's CHECK: the database refuses it
    result = writer.write([good, bad])
    assert result.outcomes == [STORED, DEAD]
    assert result.reasons[1].startswith("database rejected:")
    assert telemetry_counts(s)[2] == 1


_bad_payloads = st.one_of(
    st.binary(max_size=120),
    st.builds(lambda seq, ts, v: json.dumps({"asset": "P-1", "seq": seq,
                                             "readings": [[ts, "vibration_rms", v]]}).encode(),
              st.one_of(st.integers(max_value=-1), st.text(max_size=3)),
              st.integers(), st.floats()),
    st.builds(lambda ts: json.dumps({"asset": "P-1", "seq": 1,
                                     "readings": [[ts, "x", 1.0]]}).encode(),
              st.one_of(st.integers(max_value=946_684_799_999),
                        st.integers(min_value=NOW_MS + 2 * 86_400_000))),
)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=_bad_payloads, kind=st.sampled_from(["telemetry", "status", "events"]))
def test_every_bad_message_lands_in_dead_letters_with_its_reason(
        fleet: Fleet, writer: BatchWriter, payload: bytes, kind: str) -> None:
    s = fleet.settings
    message = _msg(s, payload, kind=kind)
    result = writer.write([message])
    if message.error is None:  # hypothesis found a valid message: it is stored instead
        assert result.outcomes[0] in (STORED, DUPLICATE)
        return
    assert result.outcomes == [DEAD] and result.reasons == [message.error]
    with psycopg.connect(s.db_url) as conn:
        row = conn.execute("SELECT reason FROM dead_letter WHERE topic = %s AND payload = %s",
                           (message.topic, payload)).fetchone()
    assert row == (message.error.replace("\x00", "\\x00"),)
