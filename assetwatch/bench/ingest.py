"""``assetwatch bench ingest``: raw binary COPY versus end-to-end ingest, and latency.

In one run on one machine it measures

(a) the raw speed of binary COPY of the benchmark's rows straight into the ``telemetry``
    hypertable: the better of one connection and as many connections as workers, with
    transactions as large as an ingest batch group;
(b) readings/s end to end: device publishers -> Mosquitto -> ``--workers`` ingest worker
    processes (shared subscription) -> committed rows, from the first publish to the moment
    the last batch is visible in the database;

and prints both and the ratio (b)/(a). It then publishes at half of (b) for a few seconds and
prints the end-to-end latency, publish to commit, p50/p99 (commit observed by polling the
ledger every ``POLL_S``, so figures are up to that much late).

It uses a database of its own (``<database>_bench``, recreated each run), topic prefix
``awbench`` and ingest group ``bench``; it needs the local stack (``assetwatch stack up``)
to register its devices with the broker. A broker that cannot be reached, or that drops the
publishers' connections during a run (it died, even if its supervisor restarted it), ends
the benchmark with one line naming it and a non-zero exit: the figures of such a run would
not be the pipeline's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.errors import ServiceUnavailable
from assetwatch.ingest.errors import IngestError

__all__ = ["IngestBenchResult", "register", "run_bench"]

PREFIX = "awbench"
GROUP = "bench"
SITE = "bench-site"
MODEL = "BENCH-PUMP"
SENSORS = tuple(f"s{i}" for i in range(8))
POLL_S = 0.01
#: End the run when no batch has been committed for this long.
STALL_S = 120.0


def _broker_lost(settings: Settings, detail: str) -> str:
    return (f"the MQTT broker at {settings.mqtt_host}:{settings.mqtt_port} went away during "
            f"the benchmark ({detail})")


@dataclass
class IngestBenchResult:
    readings: int
    batch_readings: int
    workers: int
    copy_1_connection_readings_per_s: float
    copy_n_connections_readings_per_s: float
    copy_readings_per_s: float  # the better of the two: the raw speed (a)
    e2e_readings_per_s: float
    ratio: float
    latency_rate: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_batches: int


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("ingest", help="raw COPY vs end-to-end ingest readings/s, "
                                               "and publish-to-commit latency")
    parser.add_argument("--readings", type=int, default=3_000_000,
                        help="readings in the throughput runs (default: %(default)s)")
    parser.add_argument("--assets", type=int, default=10, help="publishing devices")
    parser.add_argument("--batch-readings", type=int, default=500,
                        help="readings per MQTT message (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="ingest worker processes")
    parser.add_argument("--latency-seconds", type=float, default=6.0,
                        help="length of the half-rate latency run (default: %(default)s)")
    parser.set_defaults(func=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    result = run_bench(settings, readings=args.readings, assets=args.assets,
                       batch_readings=args.batch_readings, workers=args.workers,
                       latency_seconds=args.latency_seconds, progress=print)
    print()
    print(f"(a) raw binary COPY into telemetry : {result.copy_readings_per_s:>12,.0f} readings/s"
          f" (1 connection {result.copy_1_connection_readings_per_s:,.0f}, {result.workers}: "
          f"{result.copy_n_connections_readings_per_s:,.0f})")
    print(f"(b) end to end, {result.workers} worker(s)        : "
          f"{result.e2e_readings_per_s:>12,.0f} readings/s")
    print(f"    ratio (b)/(a)                  : {result.ratio:>12.2f}")
    print(f"    latency publish->commit at {result.latency_rate:,.0f} readings/s: "
          f"p50 {result.latency_p50_ms:.0f} ms, p99 {result.latency_p99_ms:.0f} ms "
          f"({result.latency_batches} batches)")
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    out = settings.output_dir / "bench-ingest.json"
    out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(f"    written to {out}")
    return 0


def run_bench(settings: Settings, *, readings: int, assets: int, batch_readings: int,
              workers: int, latency_seconds: float, progress: Any = None) -> IngestBenchResult:
    """Run the whole benchmark (see the module docstring) and return its figures."""
    say = progress or (lambda *a: None)
    bench = _prepare(settings, assets)
    tags = [f"BENCH-{i:03d}" for i in range(assets)]
    per_asset = max(1, readings // (assets * batch_readings))
    total_readings = per_asset * assets * batch_readings
    say(f"preparing {total_readings:,} readings in {per_asset * assets:,} batches "
        f"of {batch_readings} from {assets} devices")
    t0_ms = int(time.time() * 1000) - 6 * 3600 * 1000
    copy_single = _raw_copy(bench, tags, per_asset, batch_readings, t0_ms, 1)
    copy_parallel = _raw_copy(bench, tags, per_asset, batch_readings, t0_ms, workers)
    copy_rate = max(copy_single, copy_parallel)
    say(f"(a) raw binary COPY: {copy_single:,.0f} readings/s over 1 connection, "
        f"{copy_parallel:,.0f} over {workers}")

    ctx = mp.get_context("spawn")
    procs = _start_workers(ctx, bench, workers)
    try:
        e2e_rate = _end_to_end(ctx, bench, tags, per_asset, batch_readings, t0_ms)
        say(f"(b) end to end: {e2e_rate:,.0f} readings/s")
        rate = e2e_rate / 2
        latencies = _latency(ctx, bench, tags, batch_readings, rate, latency_seconds,
                             seq0=per_asset)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(30)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 \
        if latencies else float("nan")  # noqa: E731
    return IngestBenchResult(total_readings, batch_readings, workers, copy_single,
                             copy_parallel, copy_rate, e2e_rate, e2e_rate / copy_rate, rate,
                             pick(0.5), pick(0.99), len(latencies))


# -- set-up ---------------------------------------------------------------------------------

def _prepare(settings: Settings, assets: int) -> Settings:
    import psycopg

    from assetwatch.core.registry import AssetSpec, register_fleet
    from assetwatch.core.scratch import fresh_database
    from assetwatch.stack.mosquitto import LocalMosquitto

    bench = fresh_database(settings, "bench", topic_prefix=PREFIX, ingest_group=GROUP)
    tags = [f"BENCH-{i:03d}" for i in range(assets)]
    with psycopg.connect(bench.db_url) as conn:
        register_fleet(conn, [(SITE, "Benchmark site", None, 24)],
                       [(MODEL, "centrifugal_pump", "benchmark")],
                       [AssetSpec(t, SITE, MODEL, [(s, "u") for s in SENSORS]) for t in tags])
    if settings.manage_services:
        LocalMosquitto(bench).write_auth([(SITE, t) for t in tags])
    _clear_sessions(bench, [_worker_id(i) for i in range(16)])
    return bench


def _worker_id(i: int) -> str:
    return f"{PREFIX}-{GROUP}-worker-{i}"


def _clear_sessions(settings: Settings, client_ids: list[str]) -> None:
    """Remove what the broker kept for these client ids from an earlier run."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    for client_id in client_ids:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5)
        client.username_pw_set(settings.mqtt_username, settings.resolved_mqtt_password())
        try:
            client.connect(settings.mqtt_host, settings.mqtt_port, clean_start=True)
        except OSError as e:
            raise ServiceUnavailable(
                f"cannot reach the MQTT broker at {settings.mqtt_host}:{settings.mqtt_port} "
                f"({e.strerror or e}); start it with 'assetwatch stack up'") from None
        client.loop_start()
        time.sleep(0.05)
        client.disconnect()
        client.loop_stop()


def _batch(tag: str, seq: int, n: int, t0_ms: int, rng: random.Random) -> list[list[Any]]:
    """``n`` readings of one batch; (time, sensor) unique per asset and seq."""
    base = t0_ms + seq * (n // len(SENSORS) + 1)
    return [[base + i // len(SENSORS), SENSORS[i % len(SENSORS)], round(rng.gauss(50, 5), 3)]
            for i in range(n)]


# -- (a) raw COPY ---------------------------------------------------------------------------

def _raw_copy(settings: Settings, tags: list[str], per_asset: int, n: int, t0_ms: int,
              connections: int) -> float:
    """Readings/s of binary COPY of the benchmark's rows over ``connections`` connections
    (transactions of one ingest group's size each); the table is emptied afterwards."""
    import numpy as np
    import psycopg

    from assetwatch.ingest.rows import encode_telemetry

    with psycopg.connect(settings.db_url) as conn:
        sensor_ids = {(t, s): i for t, s, i in conn.execute(
            "SELECT a.asset_tag, s.name, s.sensor_id FROM sensor s JOIN asset a USING (asset_id)")}
        asset_ids: dict[str, int] = dict(
            conn.execute("SELECT asset_tag, asset_id FROM asset").fetchall())
    rng = random.Random(1)
    group_rows = settings.ingest_batch_max_messages * n
    chunks, ts, aid, sid, val = [], [], [], [], []
    for seq in range(per_asset):
        for tag in tags:
            for t, s, v in _batch(tag, seq, n, t0_ms, rng):
                ts.append(t)
                aid.append(asset_ids[tag])
                sid.append(sensor_ids[(tag, s)])
                val.append(v)
            if len(ts) >= group_rows:
                chunks.append(encode_telemetry(np.array(ts), np.array(aid), np.array(sid),
                                               np.array(val)))
                ts, aid, sid, val = [], [], [], []
    if ts:
        chunks.append(encode_telemetry(np.array(ts), np.array(aid), np.array(sid),
                                       np.array(val)))
    rows = per_asset * len(tags) * n
    shares = [chunks[i::connections] for i in range(connections)]
    conns = [psycopg.connect(settings.db_url) for _ in range(connections)]
    barrier = threading.Barrier(connections + 1)
    threads = [threading.Thread(target=_copy_chunks, args=(c, share, barrier))
               for c, share in zip(conns, shares, strict=True)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    with psycopg.connect(settings.db_url) as conn:
        conn.execute("TRUNCATE telemetry")
    return rows / elapsed


def _copy_chunks(conn: Any, chunks: list[bytes], barrier: threading.Barrier) -> None:
    from assetwatch.ingest.rows import COPY_TELEMETRY

    barrier.wait()
    for chunk in chunks:
        with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
            copy.write(chunk)


# -- (b) end to end -------------------------------------------------------------------------

def _start_workers(ctx: Any, settings: Settings, workers: int) -> list[Any]:
    from assetwatch.ingest.service import run_worker_process

    doc = settings.model_dump()
    events = [ctx.Event() for _ in range(workers)]
    procs = [ctx.Process(target=run_worker_process, args=(doc, _worker_id(i), events[i]),
                         name=f"bench-ingest-{i}", daemon=True) for i in range(workers)]
    for p in procs:
        p.start()
    for e in events:
        if not e.wait(60):
            raise IngestError("an ingest worker of the benchmark did not become ready")
    return procs


def _publisher(settings_doc: dict[str, Any], tags: list[str], seqs: list[int], n: int,
               t0_ms: int, rate: float | None, started: Any, out: Any) -> None:
    """Publish every (tag, seq) batch; with ``rate`` (readings/s) paced, else at full speed.

    Puts ``{(tag, seq): publish time}`` on ``out`` when every message is acknowledged, or
    ``{"error": ...}`` when the broker cannot be reached or drops a connection."""
    settings = Settings(**settings_doc)
    try:
        out.put(_publish(settings, tags, seqs, n, t0_ms, rate, started))
    except _BrokerLost as e:
        started.set()
        out.put({"error": str(e)})


class _BrokerLost(Exception):
    pass


def _publish(settings: Settings, tags: list[str], seqs: list[int], n: int, t0_ms: int,
             rate: float | None, started: Any) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from assetwatch.core.wire import TelemetryBatch, encode_batch
    from assetwatch.stack.mosquitto import device_password

    rng = random.Random(1)
    order = [(tag, seq) for seq in seqs for tag in tags]
    payloads = [encode_batch(TelemetryBatch(tag, seq, _batch(tag, seq, n, t0_ms, rng)))  # type: ignore[arg-type]
                for tag, seq in order]
    lost = threading.Event()
    clients = {}
    for tag in tags:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{PREFIX}-dev-{tag}",
                             protocol=mqtt.MQTTv5)
        client.username_pw_set(tag, device_password(settings, tag))
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        client.on_disconnect = lambda *a: lost.set()
        try:
            client.connect(settings.mqtt_host, settings.mqtt_port)
        except OSError as e:
            raise _BrokerLost(f"cannot reach the MQTT broker at {settings.mqtt_host}:"
                              f"{settings.mqtt_port} ({e.strerror or e})") from None
        client.loop_start()
        clients[tag] = client
    try:
        return _publish_all(clients, tags, order, payloads, n, rate, started, lost, settings)
    finally:
        for client in clients.values():
            client.disconnect()
            client.loop_stop()


def _acknowledged(info: Any) -> bool:
    try:
        return bool(info.is_published())
    except (RuntimeError, ValueError):  # paho: the client was not connected when publishing
        return False


def _publish_all(clients: dict[str, Any], tags: list[str], order: list[tuple[str, int]],
                 payloads: list[bytes], n: int, rate: float | None, started: Any,
                 lost: threading.Event, settings: Settings) -> dict[str, Any]:
    import paho.mqtt.client as mqtt

    from assetwatch.core.wire import topic_for

    topics = {tag: topic_for(PREFIX, SITE, tag, "telemetry") for tag in tags}
    sent: dict[tuple[str, int], float] = {}
    infos = []
    started.set()
    begin = time.time()
    for i, ((tag, seq), payload) in enumerate(zip(order, payloads, strict=True)):
        if rate:
            due = begin + i * n / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
        sent[(tag, seq)] = time.time()
        info = clients[tag].publish(topics[tag], payload, qos=1)
        infos.append(info)
        if lost.is_set() or info.rc == mqtt.MQTT_ERR_NO_CONN:
            raise _BrokerLost(_broker_lost(settings, "a publisher was disconnected"))
    deadline = time.monotonic() + 120
    for info in infos:
        while not _acknowledged(info):
            if lost.is_set():
                raise _BrokerLost(_broker_lost(settings, "a publisher was disconnected"))
            if time.monotonic() > deadline:
                raise _BrokerLost(_broker_lost(settings, "no PUBACK for 120 s"))
            time.sleep(0.005)
    return {"begin": begin, "sent": sent}


class _PublisherRun:
    """The publisher process of one run and its one report (see :func:`_publisher`)."""

    def __init__(self, ctx: Any, settings: Settings, tags: list[str], seqs: list[int], n: int,
                 t0_ms: int, rate: float | None) -> None:
        self.started, self.out = ctx.Event(), ctx.Queue()
        self.process = ctx.Process(target=_publisher, args=(settings.model_dump(), tags, seqs,
                                                            n, t0_ms, rate, self.started,
                                                            self.out))
        self._report: dict[str, Any] | None = None
        self.process.start()
        self.started.wait(300)

    def check(self) -> None:
        """Raise if the publisher reported a lost broker or died."""
        import queue

        if self._report is None:
            try:
                self._report = self.out.get_nowait()
            except queue.Empty:
                if not self.process.is_alive() and self.process.exitcode:
                    raise IngestError(f"the benchmark publisher failed (exit code "
                                      f"{self.process.exitcode})") from None
                return
        assert self._report is not None
        if "error" in self._report:
            self.process.join(30)
            raise ServiceUnavailable(self._report["error"])

    def report(self) -> dict[str, Any]:
        """The publisher's report once every message is acknowledged."""
        import queue

        if self._report is None:
            try:
                self._report = self.out.get(timeout=120)
            except queue.Empty:
                raise IngestError(f"the benchmark publisher did not finish (exit code "
                                  f"{self.process.exitcode})") from None
        self.check()
        self.process.join(30)
        assert self._report is not None
        return self._report


def _end_to_end(ctx: Any, settings: Settings, tags: list[str], per_asset: int, n: int,
                t0_ms: int) -> float:
    import psycopg

    expected = per_asset * len(tags)
    pub = _PublisherRun(ctx, settings, tags, list(range(per_asset)), n, t0_ms, None)
    committed, progress_at = -1, time.monotonic()
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM ingest_batch").fetchone()
            count = int(row[0]) if row else 0
            if count >= expected:
                done = time.time()
                break
            if count != committed:
                committed, progress_at = count, time.monotonic()
            elif time.monotonic() - progress_at > STALL_S:
                raise IngestError(f"ingest committed nothing for {STALL_S:.0f} s "
                                  f"({count} of {expected} batches)")
            time.sleep(POLL_S)
            pub.check()
    begin = pub.report()["begin"]
    return expected * n / (done - begin)


def _latency(ctx: Any, settings: Settings, tags: list[str], n: int, rate: float,
             seconds: float, *, seq0: int) -> list[float]:
    import psycopg

    per_asset = max(1, int(rate * seconds / (n * len(tags))))
    expected = per_asset * len(tags)
    t0_ms = int(time.time() * 1000) - 3600 * 1000
    pub = _PublisherRun(ctx, settings, tags, list(range(seq0, seq0 + per_asset)), n, t0_ms,
                        rate)
    seen: dict[tuple[str, int], float] = {}
    stop = threading.Event()
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        deadline = time.time() + seconds * 4 + 60
        while len(seen) < expected and time.time() < deadline and not stop.is_set():
            now = time.time()
            for tag, seq in conn.execute(
                "SELECT a.asset_tag, b.seq FROM ingest_batch b JOIN asset a USING (asset_id)"
                " WHERE b.seq >= %s AND b.committed_at > now() - INTERVAL '5 seconds'",
                (seq0,),
            ):
                seen.setdefault((tag, seq), now)
            time.sleep(POLL_S)
            pub.check()
    sent = pub.report()["sent"]
    return [seen[key] - sent[key] for key in sent if key in seen]
