"""``bench ingest`` when its broker dies mid-run: one line naming it, no traceback."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable

import pytest

from assetwatch.bench.devices import SITE, Publisher
from assetwatch.ingest.errors import IngestError
from assetwatch.stack.mosquitto import LocalMosquitto

pytestmark = pytest.mark.integration


def test_a_broker_killed_during_publishing_is_reported_in_one_line(
        private_mosquitto: Callable[..., LocalMosquitto]) -> None:
    broker = private_mosquitto()
    s = broker.settings.model_copy(update={"topic_prefix": "awbenchlost"})
    LocalMosquitto(s).write_auth([(SITE, "BENCH-000")])
    # 10 s of paced publishing; the broker dies after one
    publisher = Publisher(mp.get_context("spawn"), s, ["BENCH-000"], list(range(400)), 50,
                          int(time.time() * 1000), 2_000.0)
    time.sleep(1.0)
    broker.kill()
    publisher.process.join(30)
    with pytest.raises(IngestError, match=r"^benchmark stopped: the publisher lost the MQTT "
                                          r"broker \(.+\)$"):
        publisher.check()
