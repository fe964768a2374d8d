"""TLS with a CA and a client certificate, on a private Mosquitto with a TLS listener."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from edge_support import Collector, expected_readings, free_port, passwords

from assetwatch.core.settings import Settings
from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.stack.mosquitto import LocalMosquitto

pytestmark = pytest.mark.integration


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(d: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a gateway client certificate."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=assetwatch-test-ca", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"),
                      ("gateway", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.pem", cwd=d)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_agent_publishes_over_tls_with_a_client_certificate(settings: Settings,
                                                            tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    _certificates(certs)
    plain_port, tls_port = free_port(), free_port()
    s = settings.model_copy(update={"data_dir": tmp_path / "broker", "mqtt_port": plain_port})
    fleet = build_fleet(1, 1, seed=21, start=datetime.now(UTC) - timedelta(days=2))
    broker = LocalMosquitto(s)
    broker.write_auth(fleet.devices(), reload=False)
    for d in (broker.run_dir, broker.state_dir):
        d.mkdir(parents=True, exist_ok=True)
    conf = tmp_path / "tls.conf"  # the stack's configuration plus a TLS listener
    conf.write_text(
        f"user root\n{broker.config_text()}"
        f"listener {tls_port} 127.0.0.1\ncafile {certs}/ca.pem\n"
        f"certfile {certs}/server.pem\nkeyfile {certs}/server.key\n"
        f"require_certificate true\n")
    proc = subprocess.Popen([str(broker.build.binary), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        collector = Collector(s)  # the server side on the plain listener
        endpoint = MqttEndpoint("127.0.0.1", tls_port, tls_ca=str(certs / "ca.pem"),
                                tls_cert=str(certs / "gateway.pem"),
                                tls_key=str(certs / "gateway.key"), protocol="5")
        summary = EdgeAgent(FleetSimulator(fleet, 1, 600), AgentOptions(
            endpoint=endpoint, spool_path=tmp_path / "spool.db", prefix=s.topic_prefix,
            passwords=passwords(s, fleet))).run(drain_timeout_s=30)
        assert summary.drained
        expected = expected_readings(fleet, 1, 600)
        assert collector.wait_for(lambda: sum(map(len, collector.batches.values()))
                                  >= sum(expected.values()), 10)
        assert collector.readings() == expected
        collector.close()
    finally:
        proc.terminate()
        proc.wait(10)
