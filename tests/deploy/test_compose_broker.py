"""The compose broker configuration, run for real: users, access rules and the TLS option.

Mosquitto (the release the compose image carries, as the local stack builds it) is started
from ``deploy/mosquitto/mosquitto.conf`` with only the container paths mapped to a temporary
directory and free loopback ports, the users and rules written by the ``fleet-setup`` job,
and (second run) ``tls.conf.example`` enabled with a throw-away CA.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from assetwatch.core.settings import load_settings
from assetwatch.stack.broker_access import device_role
from assetwatch.stack.broker_build import MosquittoBuild, find_mosquitto
from assetwatch.stack.mosquitto import device_password
from assetwatch.stack.system import StackError

ROOT = Path(__file__).resolve().parents[2]


def _compose_release() -> MosquittoBuild | None:
    try:
        return find_mosquitto("current", install=False)
    except StackError:
        return None


BUILD = _compose_release()
pytestmark = pytest.mark.skipif(BUILD is None, reason="Mosquitto 2.1 is not built "
                                "('assetwatch stack up' builds it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, root: Path, tls: bool) -> None:
        self.root, self.port, self.tls_port = root, _free_port(), _free_port()
        self.data_dir = root / "assetwatch-data"
        env = dict(os.environ, ASSETWATCH_DATA_DIR=str(self.data_dir),
                   ASSETWATCH_MQTT_PASSWORD="ingest-pw", ASSETWATCH_TOPIC_PREFIX="plant",
                   SIM_SITES="1", SIM_ASSETS_PER_SITE="2", SIM_SEED="7")
        done = subprocess.run([sys.executable, str(ROOT / "deploy/fleet_setup.py"),
                               "--broker-only"], env=env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        self.settings = load_settings(data_dir=self.data_dir)
        deploy = root / "assetwatch"
        shutil.copytree(ROOT / "deploy/mosquitto", deploy / "mosquitto")
        if tls:
            shutil.copy(deploy / "mosquitto/tls.conf.example", deploy / "mosquitto/conf.d/tls.conf")
            self._certificates(root / "certs")
        conf = (deploy / "mosquitto/mosquitto.conf").read_text()
        (root / "data/auth").mkdir(parents=True)
        shutil.copy(self.data_dir / "mosquitto/auth/dynamic-security.json",  # as entrypoint.sh
                    root / "data/auth/dynamic-security.json")
        assert BUILD is not None
        conf = (conf.replace("/mosquitto/data/", f"{root}/data/")
                .replace("/assetwatch/", f"{deploy}/")
                .replace("listener 1883 0.0.0.0", f"listener {self.port} 127.0.0.1")
                .replace("log_dest stdout", f"log_dest file {root}/mosquitto.log")
                .replace("/usr/lib/mosquitto_", f"{BUILD.plugin_dir}/mosquitto_"))
        (root / "test.conf").write_text(conf)
        for conf_d in (deploy / "mosquitto/conf.d").glob("*.conf"):
            text = conf_d.read_text().replace("/mosquitto/certs/", f"{root}/certs/")
            conf_d.write_text(text.replace("listener 8883 0.0.0.0",
                                           f"listener {self.tls_port} 127.0.0.1"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("mosquitto")
            for path in [root, *root.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)
        self.process = subprocess.Popen([str(BUILD.binary), "-c", str(root / "test.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait(self.port)
        if tls:
            self._wait(self.tls_port)

    def _wait(self, port: int) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        log = (self.root / "mosquitto.log").read_text() if (self.root / "mosquitto.log").exists() \
            else ""
        output = self.process.stdout.read().decode() if self.process.poll() is not None else ""
        raise AssertionError(f"mosquitto did not listen on {port}: {output} {log}")

    @staticmethod
    def _certificates(certs: Path) -> None:
        certs.mkdir()

        def ssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True)

        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.crt")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", "server.key", "-out", "server.csr")
        (certs / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(params=[False, True], ids=["plain", "tls"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    root = Path(tempfile.mkdtemp(prefix="assetwatch-compose-broker-"))
    root.chmod(0o755)
    b = Broker(root, tls=request.param)
    b.tls = request.param  # type: ignore[attr-defined]
    yield b
    b.stop()
    shutil.rmtree(root, ignore_errors=True)


def _client(broker: Broker, user: str | None, password: str | None, *, tls: bool = False
            ) -> tuple[mqtt.Client, mqtt.ReasonCode | None, list[mqtt.MQTTMessage]]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user:
        client.username_pw_set(user, password)
    if tls:
        client.tls_set(ca_certs=str(broker.root / "certs/ca.crt"))
    result: dict[str, mqtt.ReasonCode] = {}
    received: list[mqtt.MQTTMessage] = []
    client.on_connect = lambda c, u, f, rc, p: result.setdefault("rc", rc)
    client.on_message = lambda c, u, m: received.append(m)
    client.connect("localhost" if tls else "127.0.0.1",
                   broker.tls_port if tls else broker.port, keepalive=10)
    client.loop_start()
    deadline = time.monotonic() + 5
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    return client, result.get("rc"), received


def _subscribe(client: mqtt.Client, topic: str) -> int:
    """The SUBACK reason code of one subscription."""
    codes: list[int] = []
    client.on_subscribe = lambda c, u, mid, rcs, p: codes.extend(rc.value for rc in rcs)
    client.subscribe(topic, qos=1)
    deadline = time.monotonic() + 5
    while not codes and time.monotonic() < deadline:
        time.sleep(0.02)
    return codes[0]


def _devices(broker: Broker) -> list[str]:
    document = json.loads((broker.data_dir / "mosquitto/auth/dynamic-security.json").read_text())
    return sorted(r["rolename"].split(":", 1)[1] for r in document["roles"]
                  if r["rolename"].startswith(device_role("")))


def test_users_rules_and_tls(broker: Broker) -> None:
    tls = broker.tls  # type: ignore[attr-defined]
    anonymous, rc, _ = _client(broker, None, None, tls=tls)
    assert rc is not None and rc.is_failure
    anonymous.loop_stop()
    ingest, rc, received = _client(broker, "ingest", "ingest-pw", tls=tls)
    assert rc is not None and not rc.is_failure
    assert _subscribe(ingest, "+/v1/#") == 1
    assert _subscribe(ingest, "$share/ingest/plant/v1/+/+/telemetry") == 1
    own, other = _devices(broker)[:2]
    device, rc, _ = _client(broker, own, device_password(broker.settings, own), tls=tls)
    assert rc is not None and not rc.is_failure
    site = "site-01"
    assert _subscribe(device, f"plant/v1/{site}/{own}/config") == 1
    for foreign in ("$share/ingest/plant/v1/+/+/telemetry", "#",
                    f"plant/v1/{site}/{other}/config"):
        assert _subscribe(device, foreign) == 0x87, foreign
    device.publish(f"plant/v1/{site}/{own}/telemetry", b"mine", qos=1).wait_for_publish(5)
    device.publish(f"plant/v1/{site}/{other}/telemetry", b"not mine", qos=1).wait_for_publish(5)
    deadline = time.monotonic() + 3
    while len(received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert {(m.topic, m.payload) for m in received} == {
        (f"plant/v1/{site}/{own}/telemetry", b"mine")}  # once per subscription
    wrong, rc, _ = _client(broker, own, "wrong", tls=tls)
    assert rc is not None and rc.is_failure
    for client in (ingest, device, wrong):
        client.loop_stop()
        client.disconnect()
