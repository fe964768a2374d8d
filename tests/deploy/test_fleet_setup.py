"""The compose fleet-setup job: the simulated fleet registered, broker users and rules written."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assetwatch.stack.broker_access import ADMIN_USER, device_role

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory the broker's own user can enter (as in the container's volume)."""
    path = Path(tempfile.mkdtemp(prefix="assetwatch-fleet-setup-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_fleet_setup_writes_broker_users_and_rules(data_dir: Path) -> None:
    env = dict(os.environ, ASSETWATCH_DATA_DIR=str(data_dir), ASSETWATCH_MQTT_PASSWORD="pw-1",
               ASSETWATCH_TOPIC_PREFIX="plant", SIM_SITES="2", SIM_ASSETS_PER_SITE="3",
               SIM_SEED="7")
    done = subprocess.run([sys.executable, str(ROOT / "deploy/fleet_setup.py"), "--broker-only"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    document = json.loads((data_dir / "mosquitto/auth/dynamic-security.json").read_text())
    clients = {c["username"]: c for c in document["clients"]}
    assert set(clients) >= {"ingest", ADMIN_USER} and len(clients) == 2 + 2 * 3
    ingest = clients["ingest"]
    digest = hashlib.pbkdf2_hmac("sha512", b"pw-1", base64.b64decode(ingest["salt"]),
                                 ingest["iterations"])
    assert base64.b64encode(digest).decode() == ingest["password"]
    assert document["defaultACLAccess"] == {"publishClientSend": False,
                                            "publishClientReceive": False,
                                            "subscribe": False, "unsubscribe": True}
    roles = {r["rolename"]: r for r in document["roles"]}
    device = next(name for name in clients if name not in ("ingest", ADMIN_USER))
    acls = {(a["acltype"], a["topic"]) for a in roles[device_role(device)]["acls"]}
    site = next(t.split("/")[2] for _, t in acls)
    base = f"plant/v1/{site}/{device}"
    assert acls == {("publishClientSend", f"{base}/telemetry"),
                    ("publishClientSend", f"{base}/status"),
                    ("publishClientSend", f"{base}/events"),
                    ("subscribeLiteral", f"{base}/config"),
                    ("publishClientReceive", f"{base}/config"),
                    ("subscribeLiteral", f"{base}/receipt"),
                    ("publishClientReceive", f"{base}/receipt")}
    assert (data_dir / "secrets/mqtt-ingest.password").read_text().strip() == "pw-1"


def test_fleet_setup_refuses_to_run_without_the_ingest_password(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ASSETWATCH_MQTT_PASSWORD"}
    env["ASSETWATCH_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, str(ROOT / "deploy/fleet_setup.py")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "ASSETWATCH_MQTT_PASSWORD" in done.stderr


@pytest.mark.integration
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
