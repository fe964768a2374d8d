"""``edge simulate`` from the command line, with passwords derived from the local device key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from edge_support import Collector, expected_readings

from assetwatch.edge_agent.credentials import derived_passwords
from assetwatch.sim.fleet import build_fleet
from assetwatch.stack.mosquitto import LocalMosquitto, device_password


def _agent_env(settings) -> dict[str, str]:
    """The environment of an edge command run as a subprocess against the test broker."""
    return {**os.environ, "ASSETWATCH_TOPIC_PREFIX": settings.topic_prefix,
            "ASSETWATCH_MQTT_HOST": settings.mqtt_host,
            "ASSETWATCH_MQTT_PORT": str(settings.mqtt_port),
            "ASSETWATCH_DATA_DIR": str(settings.data_dir.resolve())}


def test_derived_passwords_match_the_broker_s(settings) -> None:
    tags = ["S01-P001", "S02-C004"]
    derived = derived_passwords(tags, settings.secrets_dir / "device.key")
    assert derived == {t: device_password(settings, t) for t in tags}


@pytest.mark.integration
def test_edge_simulate_command(settings, tmp_path) -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    fleet = build_fleet(1, 2, seed=8, start=start)
    LocalMosquitto(settings).write_auth(fleet.devices())
    collector = Collector(settings)
    env = _agent_env(settings)
    gt = tmp_path / "gt.jsonl"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "assetwatch.cli", "edge", "simulate", "--sites", "1",
             "--assets-per-site", "2", "--days", "20", "--sample-interval", "3600",
             "--seed", "8", "--start", start.isoformat(), "--ground-truth", str(gt),
             "--spool", str(tmp_path / "spool.db")],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "simulated 2 assets at 1 sites for 20 days" in done.stdout
        expected = expected_readings(fleet, 20, 3600)
        assert collector.wait_for(lambda: sum(map(len, collector.batches.values()))
                                  >= sum(expected.values()), 10)
        assert collector.readings() == expected
        rows = [json.loads(line) for line in gt.read_text().splitlines()]
        assert {r["record"] for r in rows} >= {"world", "regimes", "sensor_fault", "life"}
        assert all(r["asset_tag"] in {a.asset_tag for a in fleet.assets}
                   for r in rows if "asset_tag" in r)
    finally:
        collector.close()


def test_edge_commands_need_no_server_settings(tmp_path) -> None:
    env = {**os.environ, "ASSETWATCH_DB_URL": "mysql://not-a-postgres-url",
           "ASSETWATCH_MQTT_PORT": "not-a-port"}
    done = subprocess.run([sys.executable, "-m", "assetwatch.cli", "edge", "run", "--config",
                           str(tmp_path / "missing.json")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "missing.json" in done.stderr and "Traceback" not in done.stderr


def test_edge_status_shows_the_backlog(tmp_path, capsys) -> None:
    from assetwatch.edge_agent.__main__ import main
    from assetwatch.edge_agent.spool import SealedBatch, Spool

    spool = Spool(tmp_path / "s.db")
    spool.set_meta("topic_prefix", "plant")
    spool.commit(sealed=[SealedBatch("P-1", [[1_767_225_600_000, "flow", 1.0]] * 7)] * 2)
    spool.close()
    assert main(["status", str(tmp_path / "s.db")]) == 0
    out = capsys.readouterr().out
    assert "prefix 'plant', 2 messages (14 readings" in out
    assert f"{'P-1':<20}{2:>10}{14:>12}" in out
    assert main(["status", str(tmp_path / "none.db")]) == 2


@pytest.mark.integration
def test_edge_simulate_killed_and_rerun_resumes_its_run(settings, tmp_path) -> None:
    import signal

    from assetwatch.edge_agent.simulate import unfinished_start

    probe = build_fleet(1, 2, seed=9, start=datetime.now(UTC))
    LocalMosquitto(settings).write_auth(probe.devices())
    collector = Collector(settings)
    env = _agent_env(settings)
    spool = tmp_path / "spool.db"
    argv = [sys.executable, "-m", "assetwatch.edge_agent", "simulate", "--sites", "1",
            "--assets-per-site", "2", "--days", "2", "--sample-interval", "60", "--seed", "9",
            "--ground-truth", str(tmp_path / "gt.jsonl"), "--spool", str(spool)]
    try:
        first = subprocess.Popen([*argv, "--speed", str(2 * 86_400 / 5)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert collector.wait_for(lambda: len(collector.batches) > 5, 20)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        start = unfinished_start(spool, 9, [a.asset_tag for a in probe.assets])
        assert start is not None
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "resuming the unfinished simulated run" in done.stderr
        expected = expected_readings(build_fleet(1, 2, seed=9, start=start), 2, 60)
        assert collector.wait_for(lambda: sum(map(len, collector.batches.values()))
                                  >= sum(expected.values()), 20)
        assert collector.readings() == expected
        assert unfinished_start(spool, 9, [a.asset_tag for a in probe.assets]) is None
    finally:
        collector.close()
