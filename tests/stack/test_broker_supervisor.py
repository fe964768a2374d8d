"""The broker's supervisor: a broker that dies is restarted, with back-off when it dies in a
loop, and ``assetwatch stack status`` says so; ``kill()``/``start()`` make a controlled outage
that the supervisor does not undo."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import time
from collections.abc import Callable

import pytest
from broker_support import TestClient

from assetwatch.core.settings import Settings
from assetwatch.stack.commands import stack_status
from assetwatch.stack.mosquitto import LocalMosquitto, device_password

pytestmark = pytest.mark.integration


def _listening(settings: Settings) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((settings.mqtt_host, settings.mqtt_port)) == 0


def _wait(predicate: Callable[[], bool], timeout_s: float) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout_s, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_killed_broker_is_restarted_and_status_says_so(
        private_mosquitto: Callable[..., LocalMosquitto], settings: Settings,
        capsys: pytest.CaptureFixture[str]) -> None:
    broker = private_mosquitto([("s", "K-1")], supervise=True)
    s = broker.settings
    first = broker.pid
    assert first and broker.supervisor_pid
    assert broker.status() == f"running (pid {first}, supervised)"
    os.kill(first, signal.SIGKILL)
    back_in = _wait(lambda: bool(broker.pid and broker.pid != first and _listening(s)), 5)
    assert back_in < 2.5, f"restarted after {back_in:.1f} s"
    status = broker.status()
    assert status.startswith(f"running (pid {broker.pid}, supervised, restarted 1 time, last at ")
    assert status.endswith("after it was killed by SIGKILL)")
    device = TestClient(s, "K-1", device_password(s, "K-1"))  # users came back with it
    assert device.subscribe(f"{s.topic_prefix}/v1/s/K-1/config") == 1
    device.close()
    own = s.model_copy(update={"db_url": settings.db_url})  # `stack status` checks the database
    assert stack_status(own, argparse.Namespace()) == 0
    out = capsys.readouterr().out
    assert "local mosquitto: running (pid" in out and "restarted 1 time, last at" in out


def test_kill_and_start_make_an_outage_the_supervisor_does_not_undo(
        private_mosquitto: Callable[..., LocalMosquitto]) -> None:
    broker = private_mosquitto([("s", "K-2")], supervise=True)
    broker.kill()
    time.sleep(1.0)
    assert not _listening(broker.settings) and broker.pid is None
    assert broker.status().startswith("down on request")
    broker.start()
    assert _listening(broker.settings) and broker.pid
    assert broker.supervisor_state()["restarts"] == 0  # a held broker is started, not restarted


def test_kill_and_start_without_a_supervisor(
        private_mosquitto: Callable[..., LocalMosquitto]) -> None:
    broker = private_mosquitto([("s", "K-3")])
    assert broker.supervisor_pid is None
    assert broker.status() == f"running (pid {broker.pid}, not supervised)"
    broker.kill()
    assert broker.pid is None and broker.status() == "stopped"
    broker.start()
    device = TestClient(broker.settings, "K-3", device_password(broker.settings, "K-3"))
    assert device.connack is not None and not device.connack.is_failure
    device.close()


def test_a_broker_dying_in_a_loop_is_restarted_with_back_off(
        private_mosquitto: Callable[..., LocalMosquitto]) -> None:
    broker = private_mosquitto([("s", "K-4")], supervise=True)
    s = broker.settings
    broker.kill()
    squatter = socket.socket()  # the broker's port taken: every start fails at once
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind((s.mqtt_host, s.mqtt_port))
    squatter.listen()
    try:
        broker.start()
        _wait(lambda: broker.supervisor_state().get("restarts", 0) >= 3
              and broker.supervisor_state().get("state") == "restarting", 15)
        record = broker.supervisor_state()
        assert record["last_exit"].startswith("exited with status")
        assert record["restart_in_s"] >= 1.0  # 0.25, 0.5, 1, 2, ... while it keeps dying
        assert broker.status().startswith("DOWN, supervisor restarting it, restarted ")
    finally:
        squatter.close()
    _wait(lambda: bool(broker.pid) and _listening(s), record["restart_in_s"] * 2 + 5)
    assert broker.status().startswith(f"running (pid {broker.pid}, supervised, restarted ")
