"""Bad settings and unreachable servers: one clear line, non-zero exit, no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _assetwatch(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assetwatch.cli", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )


def _assert_one_clear_line(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("assetwatch: error:")]
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0]


def test_bad_setting_names_the_variable() -> None:
    done = _assetwatch("db", "migrate", ASSETWATCH_MQTT_PORT="not-a-port")
    _assert_one_clear_line(done, "ASSETWATCH_MQTT_PORT")
    assert done.returncode == 2


def test_missing_database_server_names_the_setting() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _assetwatch("db", "migrate", ASSETWATCH_DB_URL=f"postgresql://x@127.0.0.1:{port}/x")
    _assert_one_clear_line(done, f"127.0.0.1:{port}", "ASSETWATCH_DB_URL")
    assert done.returncode == 3


def test_wrong_database_user_is_reported() -> None:
    from assetwatch.core.settings import load_settings

    url = load_settings().db_url.replace("assetwatch@", "nobody_here@", 1)
    done = _assetwatch("db", "migrate", ASSETWATCH_DB_URL=url)
    _assert_one_clear_line(done, "nobody_here", "ASSETWATCH_DB_URL")


def test_wrong_mqtt_password_names_the_settings() -> None:
    done = _assetwatch("stack", "status", ASSETWATCH_MQTT_PASSWORD="wrong")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    assert "ASSETWATCH_MQTT_PASSWORD" in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the local cluster is initialised as root")
def test_port_in_use_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        tmp_path.chmod(0o755)
        done = _assetwatch(
            "stack", "up",
            ASSETWATCH_DATA_DIR=str(tmp_path / "data"),
            ASSETWATCH_DB_URL=f"postgresql://assetwatch@127.0.0.1:{port}/assetwatch",
        )
    _assert_one_clear_line(done, f"port {port}", "ASSETWATCH_DB_URL")
