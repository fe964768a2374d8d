"""``assetwatch ingest run`` as a user starts it: several workers, clear one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_support import Fleet, batch_payload, telemetry_counts

from assetwatch.core.settings import Settings
from assetwatch.ingest.consumer import IngestWorker
from assetwatch.ingest.errors import IngestError
from assetwatch.ingest.monitor import wait_idle


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "ASSETWATCH_DB_URL": settings.db_url,
            "ASSETWATCH_TOPIC_PREFIX": settings.topic_prefix,
            "ASSETWATCH_DATA_DIR": str(settings.data_dir.resolve()), **extra}


def test_run_with_two_worker_processes_and_sigterm(fleet: Fleet, devices, tmp_path: Path
                                                   ) -> None:
    s = fleet.settings
    log = tmp_path / "ingest.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assetwatch.cli", "ingest", "run", "--workers", "2",
             "--client-id", f"{s.topic_prefix}-cli"], env=_env(s), stdout=out,
            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while log.read_text().count("subscribed") < 2:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    device = devices(s, fleet.site, "P-1")
    for seq in range(40):
        device.publish(batch_payload("P-1", seq, n=4), wait=False)
    device.publish(batch_payload("P-1", 0, n=4))
    wait_idle(s, expected_batches=40, timeout=30)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, log.read_text()
    assert telemetry_counts(s) == (160, 160, 40)
    assert log.read_text().count("stopped") == 2


def test_wrong_broker_password_is_one_clear_error(fleet: Fleet) -> None:
    s = fleet.settings.model_copy(update={"mqtt_password": "wrong"})
    with pytest.raises(IngestError, match="refused user 'ingest'"):
        IngestWorker(s, f"{s.topic_prefix}-bad").run()
    done = subprocess.run([sys.executable, "-m", "assetwatch.cli", "ingest", "run"],
                          env=_env(s, ASSETWATCH_MQTT_PASSWORD="wrong"), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1].startswith("assetwatch: error: the MQTT broker")
    assert "Traceback" not in done.stderr


def test_database_down_at_start_is_one_clear_error(fleet: Fleet) -> None:
    s = fleet.settings
    done = subprocess.run([sys.executable, "-m", "assetwatch.cli", "ingest", "run"],
                          env=_env(s, ASSETWATCH_DB_URL="postgresql://nobody@127.0.0.1:9/x"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "cannot connect to PostgreSQL at 127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_broker_is_one_clear_error(fleet: Fleet) -> None:
    s = fleet.settings.model_copy(update={"mqtt_port": 9})
    with pytest.raises(IngestError, match=r"cannot connect to the MQTT broker at 127\.0\.0\.1:9"):
        IngestWorker(s, f"{s.topic_prefix}-nobroker", connect_timeout_s=1.0).run()
