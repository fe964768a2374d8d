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
to register its devices with the broker.
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
from assetwatch.ingest.errors import IngestError

__all__ = ["IngestBenchResult", "register", "run_bench"]

PREFIX = "awbench"
GROUP = "bench"
SITE = "bench-site"
MODEL = "BENCH-PUMP"
SENSORS = tuple(f"s{i}" for i in range(8))
POLL_S = 0.01


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
        client.connect(settings.mqtt_host, settings.mqtt_port, clean_start=True)
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

    Puts ``{(tag, seq): publish time}`` on ``out`` when every message is acknowledged."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from assetwatch.core.wire import TelemetryBatch, encode_batch, topic_for
    from assetwatch.stack.mosquitto import device_password

    settings = Settings(**settings_doc)
    rng = random.Random(1)
    order = [(tag, seq) for seq in seqs for tag in tags]
    payloads = [encode_batch(TelemetryBatch(tag, seq, _batch(tag, seq, n, t0_ms, rng)))  # type: ignore[arg-type]
                for tag, seq in order]
    clients = {}
    for tag in tags:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{PREFIX}-dev-{tag}",
                             protocol=mqtt.MQTTv5)
        client.username_pw_set(tag, device_password(settings, tag))
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)
        client.connect(settings.mqtt_host, settings.mqtt_port)
        client.loop_start()
        clients[tag] = client
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
        infos.append(clients[tag].publish(topics[tag], payload, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    for client in clients.values():
        client.disconnect()
        client.loop_stop()
    out.put({"begin": begin, "sent": sent})


def _end_to_end(ctx: Any, settings: Settings, tags: list[str], per_asset: int, n: int,
                t0_ms: int) -> float:
    import psycopg

    expected = per_asset * len(tags)
    started, out = ctx.Event(), ctx.Queue()
    pub = ctx.Process(target=_publisher, args=(settings.model_dump(), tags,
                                               list(range(per_asset)), n, t0_ms, None,
                                               started, out))
    pub.start()
    started.wait(300)
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT count(*) FROM ingest_batch").fetchone()
            if row and row[0] >= expected:
                done = time.time()
                break
            time.sleep(POLL_S)
            if not pub.is_alive() and pub.exitcode:
                raise IngestError("the benchmark publisher failed")
    begin = out.get(timeout=120)["begin"]
    pub.join(30)
    return expected * n / (done - begin)


def _latency(ctx: Any, settings: Settings, tags: list[str], n: int, rate: float,
             seconds: float, *, seq0: int) -> list[float]:
    import psycopg

    per_asset = max(1, int(rate * seconds / (n * len(tags))))
    expected = per_asset * len(tags)
    started, out = ctx.Event(), ctx.Queue()
    t0_ms = int(time.time() * 1000) - 3600 * 1000
    pub = ctx.Process(target=_publisher, args=(settings.model_dump(), tags,
                                               list(range(seq0, seq0 + per_asset)), n, t0_ms,
                                               rate, started, out))
    pub.start()
    started.wait(300)
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
    sent = out.get(timeout=120)["sent"]
    pub.join(30)
    return [seen[key] - sent[key] for key in sent if key in seen]
