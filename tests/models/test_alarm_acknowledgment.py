"""Acknowledging an alarm event through the database: no re-alarm until the deviation changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch import cli
from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.models.monitoring.acknowledge import AcknowledgeError, acknowledge_event
from assetwatch.models.monitoring.worker import score_pending

pytestmark = pytest.mark.integration

SENSORS = [("flow", "m3/h"), ("pressure", "bar"), ("temp", "degC")]
PARAMS = {"detector_params": {"warmup": 100}, "settle_s": 0.0, "rearm_s": 20.0,
          "min_duration_s": 3.0}
START = datetime(2026, 3, 1, tzinfo=UTC)


def _asset(settings: Settings) -> tuple[int, dict[str, int]]:
    with psycopg.connect(settings.db_url) as conn:
        ids = register_fleet(conn, [("S1", "Site one", None, 24)],
                             [("CP-T", "centrifugal_pump", None)],
                             [AssetSpec("ACK-1", "S1", "CP-T", SENSORS)])
        sensors = dict(conn.execute("SELECT name, sensor_id FROM sensor WHERE asset_id = %s",
                                    (ids["ACK-1"],)).fetchall())
    return ids["ACK-1"], sensors


def _insert(settings: Settings, asset_id: int, sensors: dict[str, int], first: int,
            samples: list[dict[str, float]]) -> None:
    with psycopg.connect(settings.db_url) as conn, conn.cursor().copy(
            "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN") as copy:
        for i, sample in enumerate(samples, start=first):
            for name, value in sample.items():
                copy.write_row((START + timedelta(seconds=i), asset_id, sensors[name], value))


def _samples(rng: random.Random, n: int, flow_drop: float = 0.0,
             pressure_drop: float = 0.0) -> list[dict[str, float]]:
    return [{"flow": 30 + rng.gauss(0, 0.3) - flow_drop,
             "pressure": 6 + rng.gauss(0, 0.05) - pressure_drop,
             "temp": 60 + rng.gauss(0, 0.3)} for _ in range(n)]


def _firing(settings: Settings) -> list[str]:
    """Subjects of the 'anomaly event critical' alert rule."""
    from assetwatch.dashboards.alerts import ALERT_RULES

    rule = next(r for r in ALERT_RULES if r.uid == "aw-anomaly-critical")
    with psycopg.connect(settings.db_url) as conn:
        return [row[0] for row in conn.execute(rule.sql) if rule.fires(row[2])]


def _events(settings: Settings) -> list[tuple]:
    with psycopg.connect(settings.db_url) as conn:
        return conn.execute(
            "SELECT anomaly_event_id, started_at, ended_at, acknowledged, ack_note, sensors"
            " FROM v_anomaly_event WHERE kind = 'anomaly' ORDER BY started_at").fetchall()


def test_acknowledged_deviation_stays_one_event_until_it_changes(
        fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    asset_id, sensors = _asset(fresh_settings)
    rng = random.Random(3)
    _insert(fresh_settings, asset_id, sensors, 0,
            _samples(rng, 200) + _samples(rng, 60, flow_drop=3.0))
    score_pending(fresh_settings, **PARAMS)
    ((event_id, started, ended, acknowledged, _, names),) = _events(fresh_settings)
    assert START + timedelta(seconds=200) <= started < START + timedelta(seconds=220)
    assert ended is None and not acknowledged and names[0] == "flow"

    assert _firing(fresh_settings) == ["ACK-1"]

    monkeypatch.setattr(cli, "_COMMAND_MODULES", ("assetwatch.models.commands",))
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    assert cli.main(["detect", "ack", str(event_id), "--note", "valve throttled on purpose"]) == 0
    assert f"event {event_id} of ACK-1 acknowledged" in capsys.readouterr().out
    assert _firing(fresh_settings) == []  # acknowledged: the alert rule no longer fires

    # the same deviation persists, disappears briefly and comes back: no new alarm
    _insert(fresh_settings, asset_id, sensors, 260,
            _samples(rng, 60, flow_drop=3.0) + _samples(rng, 8) + _samples(rng, 60, flow_drop=3.0))
    score_pending(fresh_settings, **PARAMS)
    ((same_id, _, ended, acknowledged, note, _),) = _events(fresh_settings)
    assert (same_id, ended, acknowledged, note) == (event_id, None, True,
                                                    "valve throttled on purpose")

    # it changes: the pressure now leads the deviation -> the acknowledged event ends, a new
    # one (not acknowledged) begins
    _insert(fresh_settings, asset_id, sensors, 388,
            _samples(rng, 40, flow_drop=3.0, pressure_drop=1.5))
    score_pending(fresh_settings, **PARAMS)
    first, second = _events(fresh_settings)
    assert first[0] == event_id and first[2] is not None and first[3]
    assert second[2] is None and not second[3] and "pressure" in second[5]
    assert _firing(fresh_settings) == ["ACK-1"]  # the new deviation alerts again

    # one clear line for a bad acknowledgment, and nothing changes
    assert cli.main(["detect", "ack", str(event_id)]) == 1
    assert cli.main(["detect", "ack", "999999"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"assetwatch: error: event {event_id} of ACK-1 was already "
                             "acknowledged at")
    assert err[1] == "assetwatch: error: no anomaly event 999999"
    with pytest.raises(AcknowledgeError):
        acknowledge_event(fresh_settings, 999999)
    assert _events(fresh_settings)[0][4] == "valve throttled on purpose"
