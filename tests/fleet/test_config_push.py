"""Remote configuration from the server, end to end: set, push, the agent's answer stored.

A real agent (simulated source), the real broker and a real ingest worker: the desired
configuration is checked as the agent checks it, published retained, accepted by the agent,
and the agent's report lands in the database, where ``v_asset_config`` compares the two.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.core.wire import topic_for
from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
from assetwatch.edge_agent.link import MqttEndpoint
from assetwatch.edge_agent.remote_config import AssetSettings, document_hash
from assetwatch.fleet.errors import FleetError
from assetwatch.fleet.remote_config import _publish_retained, push, set_desired, show
from assetwatch.ingest.consumer import IngestWorker
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.stack.mosquitto import LocalMosquitto, device_password

pytestmark = pytest.mark.integration


def _wait(predicate, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_set_push_accept_and_a_rejection_reported(fresh_settings: Settings, tmp_path) -> None:
    s = fresh_settings
    fleet = build_fleet(1, 1, seed=31, start=datetime.now(UTC) - timedelta(days=2))
    asset = fleet.assets[0]
    with psycopg.connect(s.db_url) as conn:
        register_fleet(conn, [(x.site_id, x.name, x.customer, x.sla_hours) for x in fleet.sites],
                       fleet.models(), [AssetSpec(a.asset_tag, a.site_id, a.model_id, a.sensors)
                                        for a in fleet.assets])
    LocalMosquitto(s).write_auth(fleet.devices())
    worker = IngestWorker(s, f"{s.topic_prefix}-cfg", session_expiry_s=60)
    threading.Thread(target=worker.run, daemon=True).start()
    assert worker.ready.wait(15)
    agent = EdgeAgent(FleetSimulator(fleet, 1, 10, speed=86_400 / 120), AgentOptions(
        endpoint=MqttEndpoint(s.mqtt_host, s.mqtt_port, backoff_min_s=0.2, backoff_max_s=0.5),
        spool_path=tmp_path / "spool.db", prefix=s.topic_prefix,
        passwords={asset.asset_tag: device_password(s, asset.asset_tag)},
        defaults=AssetSettings(batch_max_readings=200, batch_max_age_s=0.5)))
    threading.Thread(target=lambda: agent.run(drain=False), daemon=True).start()
    config_topic = topic_for(s.topic_prefix, asset.site_id, asset.asset_tag, "config")
    try:
        with psycopg.connect(s.db_url, autocommit=True) as conn:
            # a document the agent would reject never leaves the server
            with pytest.raises(FleetError, match="warp_drive"):
                set_desired(conn, asset.asset_tag, {"sensors_enabled": ["warp_drive"]})
            with pytest.raises(FleetError, match="unknown asset"):
                set_desired(conn, "NO-SUCH", {})
            assert show(conn, asset.asset_tag).desired is None
            good = {"batch_max_readings": 100, "sampling_interval_s": 20}
            digest = set_desired(conn, asset.asset_tag, good, set_by="test")
            assert digest == document_hash(good)
            assert not show(conn, asset.asset_tag).drift  # stored, not pushed yet
            push(s, conn, asset.asset_tag)
            assert _wait(lambda: show(conn, asset.asset_tag).active_hash == digest)
            state = show(conn, asset.asset_tag)
            assert state.reported_state == "accepted" and not state.drift
            # a bad document published around the server's checks: rejected, reason kept
            assert _publish_retained(s, config_topic, b'{"sampling_interval_s": -1}', 10) == 0
            assert _wait(lambda: show(conn, asset.asset_tag).reported_state == "rejected")
            state = show(conn, asset.asset_tag)
            assert "sampling_interval_s" in (state.reason or "")
            assert state.active_hash == digest  # the agent keeps running the good one
            assert state.drift
            row = conn.execute("SELECT drift FROM v_asset_config WHERE asset_tag = %s",
                               (asset.asset_tag,)).fetchone()
            assert row == (True,)
    finally:
        _publish_retained(s, config_topic, b"", 10)
        agent.stop()
        worker.stop()


def test_config_commands_fail_in_one_line(fresh_settings: Settings, tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "ASSETWATCH_DB_URL": fresh_settings.db_url}
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    for argv, expected in (
            (["set", "NO-SUCH", "sampling_interval_s=5"], "unknown asset 'NO-SUCH'"),
            (["set", "NO-SUCH", "oops"], "expected KEY=VALUE"),
            (["set", "NO-SUCH", "--file", str(bad)], "not valid JSON"),
            (["push", "NO-SUCH"], "unknown asset")):
        done = subprocess.run([sys.executable, "-m", "assetwatch.cli", "edge", "config", *argv],
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert expected in done.stderr and "Traceback" not in done.stderr
