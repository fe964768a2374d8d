"""The fault-injection rig: real servers of the test's own, real processes, counted results.

A :class:`Rig` owns a PostgreSQL+TimescaleDB cluster and a Mosquitto broker on free ports
under a temporary directory (so killing them disturbs nothing else), a fresh database per
case, and the processes of the pipeline as a user runs them:

* the edge agent: ``python -m assetwatch.edge_agent run --config agent.json`` streaming a
  simulated site (spool on disk, credentials derived from the broker's device key);
* ingest: ``python -m assetwatch.cli ingest run --workers 2``.

:meth:`Rig.expected` replays the simulator on its own, independently of the pipeline, and
:meth:`Rig.stored` reads back what the database holds, so a case checks *sent == stored,
exactly once* reading by reading, not by comparing two counters of the same code.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.migrate import migrate
from assetwatch.core.settings import Settings
from assetwatch.core.source import Sample
from assetwatch.sim.fleet import Fleet, build_fleet
from assetwatch.sim.simulator import FleetSimulator
from assetwatch.stack.mosquitto import LocalMosquitto
from assetwatch.stack.postgres import LocalPostgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class StreamSpec:
    """A simulated site: ``assets`` assets sampled every ``interval_s`` for ``days`` days,
    streamed in about ``seconds`` of wall time."""

    assets: int = 4
    days: float = 2.0
    interval_s: float = 60.0
    seconds: float = 10.0
    seed: int = 21


class Servers:
    """A private PostgreSQL cluster and a private broker (created once per test module)."""

    def __init__(self, base: Settings) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="aw-faults-", dir="/tmp"))
        self.root.chmod(0o755)
        db_url = f"postgresql://assetwatch@127.0.0.1:{free_port()}/assetwatch"
        self.settings = base.model_copy(update={
            "data_dir": self.root, "db_url": db_url, "mqtt_port": free_port()})
        self.postgres = LocalPostgres(self.settings)
        self.broker = LocalMosquitto(self.settings)
        self.postgres.up()
        self.broker.up(supervise=False)  # the cases decide when it comes back

    # -- faults on the servers ---------------------------------------------------------
    def kill_broker(self) -> None:
        assert self.broker.pid, "the broker is not running"
        self.broker.kill()

    def start_broker(self) -> None:
        self.broker.start()

    def stop_database_fast(self) -> None:
        self.postgres.down()

    def kill_database(self) -> None:
        """SIGKILL the postmaster; wait until its backends are gone too."""
        pid = int((self.postgres.pgdata / "postmaster.pid").read_text().splitlines()[0])
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        for child in [pid, *children]:
            _wait_gone(child, 30)

    def start_database(self) -> None:
        self.postgres.up()

    def close(self) -> None:
        """Stop both servers and delete their data: the cluster is killed, since a clean stop
        would first write out all it holds (tens of seconds) only to have it deleted."""
        self.broker.down()
        if self.postgres.status() == "running":
            self.kill_database()
        shutil.rmtree(self.root, ignore_errors=True)


class Rig:
    """One case: a fresh database on :class:`Servers`, a fleet, the edge and ingest."""

    def __init__(self, servers: Servers, name: str, spec: StreamSpec | None = None) -> None:
        self.servers = servers
        self.spec = spec or StreamSpec()
        self.dir = servers.root / name
        self.dir.mkdir()
        database = f"faults_{name}"
        with psycopg.connect(servers.settings.db_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
            conn.execute(f'CREATE DATABASE "{database}"')
        url = servers.settings.db_url.rsplit("/", 1)[0] + f"/{database}"
        self.settings = servers.settings.model_copy(update={
            "db_url": url, "topic_prefix": f"faults{name.replace('_', '')}"})
        migrate(self.settings)
        start = (datetime.now(UTC) - timedelta(days=self.spec.days + 2)).replace(microsecond=0)
        self.start = start
        self.fleet: Fleet = build_fleet(1, self.spec.assets, seed=self.spec.seed, start=start)
        self._register()
        self.edge: subprocess.Popen | None = None
        self.ingest: subprocess.Popen | None = None

    # -- set-up ------------------------------------------------------------------------
    def _register(self) -> None:
        fleet = self.fleet
        with psycopg.connect(self.settings.db_url) as conn:
            register_fleet(conn, [(s.site_id, s.name, s.customer, s.sla_hours)
                                  for s in fleet.sites], fleet.models(),
                           [AssetSpec(a.asset_tag, a.site_id, a.model_id, a.sensors)
                            for a in fleet.assets])
        LocalMosquitto(self.settings).write_auth(fleet.devices())  # under the rig's prefix

    def env(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "PYTHONUNBUFFERED": "1",
                "ASSETWATCH_DATA_DIR": str(s.data_dir), "ASSETWATCH_DB_URL": s.db_url,
                "ASSETWATCH_MQTT_PORT": str(s.mqtt_port),
                "ASSETWATCH_TOPIC_PREFIX": s.topic_prefix,
                "ASSETWATCH_MANAGE_SERVICES": "false"}

    # -- processes ---------------------------------------------------------------------
    def start_ingest(self, workers: int = 2) -> None:
        self.ingest = subprocess.Popen(
            [sys.executable, "-m", "assetwatch.cli", "ingest", "run", "--workers",
             str(workers)], env=self.env(), start_new_session=True,
            stdout=(self.dir / "ingest.log").open("ab"), stderr=subprocess.STDOUT)

    def kill_ingest(self) -> None:
        """SIGKILL ingest's whole process group (the pool and its workers)."""
        assert self.ingest is not None
        os.killpg(self.ingest.pid, signal.SIGKILL)
        self.ingest.wait(10)

    def ingest_workers(self) -> list[int]:
        """Pids of the pool's worker processes (not multiprocessing's resource tracker)."""
        assert self.ingest is not None
        return [pid for pid in _children(self.ingest.pid)
                if b"resource_tracker" not in _cmdline(pid)]

    def start_edge(self) -> None:
        spec = self.spec
        config = {
            "prefix": self.settings.topic_prefix,
            "broker": {"host": self.settings.mqtt_host, "port": self.settings.mqtt_port,
                       "backoff_min_s": 0.2, "backoff_max_s": 1.0},
            "credentials": {"device_key": str(self.settings.secrets_dir / "device.key")},
            "spool": {"path": str(self.dir / "spool.db")},
            "batch": {"max_readings": 400, "max_age_s": 0.5},
            "source": {"type": "simulator", "sites": 1, "assets_per_site": spec.assets,
                       "seed": spec.seed, "days": spec.days,
                       "sample_interval_s": spec.interval_s, "start": self.start.isoformat(),
                       "speed": spec.days * 86_400 / spec.seconds},
        }
        path = self.dir / "agent.json"
        path.write_text(json.dumps(config))
        self.edge = subprocess.Popen(
            [sys.executable, "-m", "assetwatch.edge_agent", "run", "--config", str(path)],
            env=self.env(), start_new_session=True,
            stdout=(self.dir / "edge.log").open("ab"), stderr=subprocess.STDOUT)

    def kill_edge(self) -> None:
        assert self.edge is not None
        self.edge.send_signal(signal.SIGKILL)
        self.edge.wait(10)

    def wait_edge(self, timeout_s: float = 180) -> None:
        """Wait until the agent has delivered everything (it exits after draining)."""
        assert self.edge is not None
        try:
            code = self.edge.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the edge agent did not finish; see {self.dir}/edge.log"
                                 ) from None
        assert code == 0, (self.dir / "edge.log").read_text()[-2000:]

    def stop(self) -> None:
        for proc in (self.edge, self.ingest):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    # -- counting ----------------------------------------------------------------------
    def expected(self) -> Counter:
        """Every reading the simulated site produces, from a replay of its own."""
        sim = FleetSimulator(self.fleet, self.spec.days, self.spec.interval_s)
        out: Counter = Counter()
        while not sim.exhausted:
            for item in sim.poll(20_000, 0):
                if type(item) is Sample:
                    out.update((item.asset, item.ts_ms, s, v) for s, v in item.values)
        return out

    def expected_events(self) -> set[str]:
        sim = FleetSimulator(self.fleet, self.spec.days, self.spec.interval_s)
        return {e.event_id for tl in sim.timelines for e, _ in tl.events}

    def stored(self) -> Counter:
        with psycopg.connect(self.settings.db_url) as conn:
            return Counter(conn.execute(
                "SELECT a.asset_tag, (extract(epoch FROM t.time) * 1000)::int8, s.name, t.value"
                " FROM telemetry t JOIN asset a USING (asset_id) JOIN sensor s USING (sensor_id)"
            ).fetchall())

    def count(self, sql: str) -> int:
        with psycopg.connect(self.settings.db_url) as conn:
            row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0

    def readings_stored(self) -> int:
        return self.count("SELECT count(*) FROM telemetry")

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except psycopg.OperationalError:
                pass  # the database is down in this case
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; logs in {self.dir}")

    def assert_exactly_once(self, *, dead_letters: int = 0) -> None:
        """sent == stored, reading by reading; every event once; no dead letters."""
        expected = self.expected()
        total = sum(expected.values())
        self.wait_for(lambda: self.readings_stored() >= total, 120, f"{total} readings")
        time.sleep(1.0)  # anything late would show up as a duplicate now
        stored = self.stored()
        missing = expected - stored
        extra = stored - expected
        assert not missing and not extra, (
            f"sent {total}, stored {sum(stored.values())}: {sum(missing.values())} missing, "
            f"{sum(extra.values())} extra (e.g. {list(missing)[:2]} {list(extra)[:2]})")
        events = {e for (e,) in _rows(self.settings, "SELECT event_id FROM asset_event")}
        assert events == self.expected_events()
        assert self.count("SELECT count(*) FROM dead_letter") == dead_letters


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with psycopg.connect(settings.db_url) as conn:
        return conn.execute(sql).fetchall()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(c) for c in text]
    except FileNotFoundError:
        pass
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _wait_gone(pid: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            stat = Path(f"/proc/{pid}/stat").read_text().split()
            if stat[2] == "Z":  # a zombie: dead, waiting for its parent
                return
        except (ProcessLookupError, FileNotFoundError):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} did not end")
