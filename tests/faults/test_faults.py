"""Zero loss, proven by injecting faults into real servers and processes, and counting.

Every case streams a simulated site (4 assets x 8 sensors, 5 days at one-minute samples:
230,400 readings and its events) through the real edge agent, a real broker and
``ingest run --workers 2`` into a real TimescaleDB, injects one fault mid-stream, and then
checks that what the database holds equals an independent replay of the simulator, reading
by reading: nothing missing, nothing twice, no dead letter.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
from fault_support import Rig, Servers

from assetwatch.core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(base_settings: Settings) -> Iterator[Servers]:
    made = Servers(base_settings)
    yield made
    made.close()


@pytest.fixture
def rig(servers: Servers, request: pytest.FixtureRequest) -> Iterator[Rig]:
    name = request.node.name.removeprefix("test_").replace("[", "_").rstrip("]")
    name = "".join(ch if ch.isalnum() else "_" for ch in name)[:40]
    made = Rig(servers, name)
    yield made
    made.stop()
    if servers.broker.status() != "running":
        servers.start_broker()
    if servers.postgres.status() != "running":
        servers.start_database()


def _mid_stream(rig: Rig) -> None:
    """Wait until a good part of the stream, but not all of it, is stored."""
    total = sum(rig.expected().values())
    rig.wait_for(lambda: rig.readings_stored() > total // 5, 60, "the stream to be under way")


def test_ingest_worker_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    workers = rig.ingest_workers()
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    rig.wait_edge()
    rig.assert_exactly_once()
    assert workers[0] not in rig.ingest_workers() and len(rig.ingest_workers()) == 2


def test_whole_ingest_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.kill_ingest()
    time.sleep(1.0)
    rig.start_ingest()
    rig.wait_edge()
    rig.assert_exactly_once()


def test_edge_agent_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.kill_edge()
    rig.start_edge()  # resumes its spool and the simulator's checkpoint
    rig.wait_edge()
    rig.assert_exactly_once()


@pytest.mark.parametrize("outage_s", [1, 10, 60])
def test_broker_killed(rig: Rig, outage_s: int) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.servers.kill_broker()
    time.sleep(outage_s)
    rig.servers.start_broker()
    rig.wait_edge(180 + outage_s)
    rig.assert_exactly_once()


def test_database_fast_stop(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.servers.stop_database_fast()
    time.sleep(3)
    rig.servers.start_database()
    rig.wait_edge()
    rig.assert_exactly_once()


def test_database_killed(rig: Rig) -> None:
    rig.start_ingest()
    rig.start_edge()
    _mid_stream(rig)
    rig.servers.kill_database()
    time.sleep(2)
    rig.servers.start_database()
    rig.wait_edge()
    rig.assert_exactly_once()
