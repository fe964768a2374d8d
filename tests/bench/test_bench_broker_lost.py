"""``bench ingest`` when the broker is not there or dies mid-run: one line, no traceback."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable

import pytest

from assetwatch.bench import ingest as bench
from assetwatch.core.settings import Settings
from assetwatch.errors import ServiceUnavailable
from assetwatch.stack.mosquitto import LocalMosquitto

pytestmark = pytest.mark.integration


def test_a_broker_killed_during_publishing_is_reported_in_one_line(
        private_mosquitto: Callable[..., LocalMosquitto]) -> None:
    broker = private_mosquitto()
    s = broker.settings.model_copy(update={"topic_prefix": bench.PREFIX})
    LocalMosquitto(s).write_auth([(bench.SITE, "BENCH-000")])
    started, out = threading.Event(), queue.Queue()
    publisher = threading.Thread(target=bench._publisher, args=(
        s.model_dump(), ["BENCH-000"], list(range(400)), 50, int(time.time() * 1000), 2_000.0,
        started, out))  # 10 s of paced publishing
    publisher.start()
    assert started.wait(10)
    time.sleep(1.0)
    broker.kill()
    publisher.join(30)
    report = out.get(timeout=1)
    assert report == {"error": f"the MQTT broker at 127.0.0.1:{s.mqtt_port} went away during "
                               "the benchmark (a publisher was disconnected)"}


def test_no_broker_at_all_is_reported_in_one_line(base_settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = base_settings.model_copy(update={"mqtt_port": port})
    with pytest.raises(ServiceUnavailable, match=f"cannot reach the MQTT broker at "
                                                 f"127.0.0.1:{port} .*'assetwatch stack up'"):
        bench._clear_sessions(s, ["nobody"])
    started, out = threading.Event(), queue.Queue()
    bench._publisher(s.model_dump(), ["BENCH-000"], [0], 10, 0, None, started, out)
    assert out.get_nowait() == {"error": f"cannot reach the MQTT broker at 127.0.0.1:{port} "
                                         "(Connection refused)"}
