"""The compose fleet-setup job: the simulated fleet registered, broker users and ACL written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory the broker's own user can enter (as in the container's volume)."""
    path = Path(tempfile.mkdtemp(prefix="assetwatch-fleet-setup-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd missing")
def test_fleet_setup_writes_broker_users_and_acl(data_dir: Path) -> None:
    tmp_path = data_dir
    env = dict(os.environ, ASSETWATCH_DATA_DIR=str(tmp_path), ASSETWATCH_MQTT_PASSWORD="pw-1",
               ASSETWATCH_TOPIC_PREFIX="plant", SIM_SITES="2", SIM_ASSETS_PER_SITE="3",
               SIM_SEED="7")
    done = subprocess.run([sys.executable, str(ROOT / "deploy/fleet_setup.py"), "--broker-only"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    auth = tmp_path / "mosquitto/auth"
    users = [line.split(":", 1)[0] for line in (auth / "passwords").read_text().splitlines()]
    assert users[0] == "ingest" and len(users) == 1 + 2 * 3
    assert all(":$7$" in line for line in (auth / "passwords").read_text().splitlines())
    acl = (auth / "acl").read_text()
    assert "user ingest\ntopic read +/v1/#\n" in acl
    device = users[1]
    assert f"user {device}\ntopic write plant/v1/" in acl
    assert (tmp_path / "secrets/mqtt-ingest.password").read_text().strip() == "pw-1"


def test_fleet_setup_refuses_to_run_without_the_ingest_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ASSETWATCH_MQTT_PASSWORD"}
    env["ASSETWATCH_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "deploy/fleet_setup.py")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "ASSETWATCH_MQTT_PASSWORD" in done.stderr


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd missing")
def test_fleet_setup_registers_the_simulated_fleet_once(fresh_settings, data_dir: Path) -> None:
    import psycopg

    env = dict(os.environ, ASSETWATCH_DATA_DIR=str(data_dir), ASSETWATCH_MQTT_PASSWORD="pw-2",
               ASSETWATCH_DB_URL=fresh_settings.db_url, ASSETWATCH_MANAGE_SERVICES="false",
               SIM_SITES="1", SIM_ASSETS_PER_SITE="3", SIM_SEED="7")
    counts = []
    for _ in range(2):  # compose runs the job on every `up`: the second run changes nothing
        done = subprocess.run([sys.executable, str(ROOT / "deploy/fleet_setup.py")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        with psycopg.connect(fresh_settings.db_url) as conn:
            counts.append(conn.execute(
                "SELECT (SELECT count(*) FROM asset), (SELECT count(*) FROM sensor),"
                " (SELECT count(*) FROM installed_component), (SELECT count(*) FROM part)"
            ).fetchone())
    assert counts[0] == counts[1]
    assets, sensors, components, parts = counts[0]
    assert assets == 3 and sensors >= 3 * 4 and components >= 3 * 3 and parts > 0
