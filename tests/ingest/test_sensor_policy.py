"""Sensors belong to the asset model: an undeclared sensor dead-letters the whole message."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
from ingest_support import SITE, Fleet, register, telemetry_counts

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.core.wire import topic_for
from assetwatch.ingest.inbound import classify
from assetwatch.ingest.replay import replay_dead_letters
from assetwatch.ingest.writer import DEAD, STORED, BatchWriter
from assetwatch.service.masterdata_load import load_masterdata

TS = int(time.time() * 1000) - 60_000
EVIL = "x'); DROP TABLE telemetry;--"


def _message(settings: Settings, seq: int, sensors: list[str], asset: str = "P-1"):
    readings = [[TS + seq, name, float(k)] for k, name in enumerate(sensors)]
    payload = json.dumps({"asset": asset, "seq": seq, "readings": readings}).encode()
    return classify(topic_for(settings.topic_prefix, SITE, asset, "telemetry"), payload,
                    settings.topic_prefix)


@pytest.fixture
def fleet(fresh_settings: Settings) -> Fleet:
    return register(fresh_settings, ["P-1", "P-2"], broker=False)


def _count(settings: Settings, sql: str, *args: object) -> int:
    with psycopg.connect(settings.db_url) as conn:
        return int(conn.execute(sql, args).fetchone()[0])


def test_a_message_with_an_undeclared_sensor_is_dead_lettered_whole(fleet: Fleet) -> None:
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        result = BatchWriter(conn).write([
            _message(s, 1, ["vibration_rms", EVIL, "bearing_temp", "humidity"]),
            _message(s, 1, ["vibration_rms", "bearing_temp"], asset="P-2")])
    assert result.outcomes == [DEAD, STORED]
    assert result.reasons[0] == (
        "undeclared sensor(s) of asset model 'CP-200': \"x'); DROP TABLE telemetry;--\", "
        "'humidity' (declare them in the model's sensors, or allow new sensors on the model)")
    assert telemetry_counts(s) == (2, 2, 1)  # nothing of the refused message, not even its seq
    assert _count(s, "SELECT count(*) FROM sensor WHERE name IN (%s, 'humidity')", EVIL) == 0
    with psycopg.connect(s.db_url) as conn:
        assert conn.execute("SELECT reason_class FROM v_dead_letter_rate").fetchall() == [
            ("undeclared sensor(s) of asset model '*'",)]


def test_the_reason_names_at_most_five_sensors(fleet: Fleet) -> None:
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        result = BatchWriter(conn).write([_message(s, 1, [f"junk{k}" for k in range(40)])])
    assert "'junk4' and 35 more (declare" in result.reasons[0]


def test_a_model_that_allows_new_sensors_registers_them_without_unit(fleet: Fleet) -> None:
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        register_fleet(conn, [], [("CP-200", "centrifugal_pump", "pump", True)], [])
        assert BatchWriter(conn).write([_message(s, 1, ["vibration_rms", "humidity"])]
                                       ).outcomes == [STORED]
        assert conn.execute("SELECT unit FROM sensor WHERE name = 'humidity'").fetchall() == [
            (None,)]
        # registering the model again without the flag keeps it
        register_fleet(conn, [], [("CP-200", "centrifugal_pump", "pump")], [])
        assert conn.execute("SELECT allow_new_sensors FROM asset_model").fetchone() == (True,)


def test_dead_letters_are_ingested_once_after_the_model_declares_the_sensor(
        fleet: Fleet, tmp_path: Path) -> None:
    s = fleet.settings
    with psycopg.connect(s.db_url) as conn:
        writer = BatchWriter(conn)
        assert writer.write([_message(s, 7, ["vibration_rms", "humidity"])]).outcomes == [DEAD]
    assert replay_dead_letters(s).still_rejected == 1
    (tmp_path / "model_sensors.csv").write_text(
        "model_id,sensor,unit\nCP-200,humidity,%RH\n")
    summary = load_masterdata(s, tmp_path)
    assert summary.counts["model_sensors"] == 1
    report = replay_dead_letters(s)
    assert (report.examined, report.ingested) == (1, 1)
    assert replay_dead_letters(s).examined == 0  # replayed once, kept as replayed
    assert telemetry_counts(s) == (2, 2, 1)
    assert _count(s, "SELECT count(*) FROM v_telemetry WHERE sensor = 'humidity'"
                  " AND unit = '%%RH'") == 1


def test_masterdata_sets_the_models_policy(fleet: Fleet, tmp_path: Path) -> None:
    s = fleet.settings
    (tmp_path / "asset_models.csv").write_text(
        "model_id,kind,allow_new_sensors\nCP-200,centrifugal_pump,yes\nLAB-1,lab_rig,\n")
    load_masterdata(s, tmp_path)
    with psycopg.connect(s.db_url) as conn:
        assert dict(conn.execute("SELECT model_id, allow_new_sensors FROM asset_model")) == {
            "CP-200": True, "LAB-1": False}


def test_registering_a_fleet_declares_its_sensors(fresh_settings: Settings) -> None:
    with psycopg.connect(fresh_settings.db_url) as conn:
        register_fleet(conn, [("s", "Site", None, 24)], [("M", "pump", None)],
                       [AssetSpec("A-1", "s", "M", [("flow", "m3/h"), ("speed", "rpm")])])
        assert conn.execute("SELECT sensor, unit FROM model_sensor ORDER BY 1").fetchall() == [
            ("flow", "m3/h"), ("speed", "rpm")]
