"""``assetwatch bench ingest``: end-to-end ingest against the database's own speed.

Each run measures, on one machine and against the same ``telemetry`` table (same unique key
index as ingest writes to):

(a) the raw speed of binary COPY of the benchmark's readings into ``telemetry`` over as many
    connections as there are workers, in transactions as large as an ingest group: what the
    database can take, with nothing in front of it;
(b) readings/s end to end: device publishers -> Mosquitto -> ``--workers`` ingest worker
    processes (shared subscription) -> committed rows, from the first publish until the last
    batch is visible in the database;
(c) the end-to-end latency, publish to commit, p50/p99, publishing at half of (b) (commit
    observed by polling the ledger every ``POLL_S``, so figures are up to that much late);

and prints (b)/(a). ``--repeat`` runs it several times (the table is emptied before each
phase) and prints every run and the medians. Where the servers run on this machine it also
prints where the CPU went in (a) and (b), in microseconds per reading for PostgreSQL, the
workers, the publisher, Mosquitto, the rest of the machine and idle
(:mod:`assetwatch.bench.cpu`): on a small machine shared by all of them, that decides how
close (b) can come to (a).

It uses a database of its own (``<database>_bench``, recreated each time; a second run on the
same database is refused while one runs), topic prefix ``awbenchNNNN`` (a number derived from
that database's name, so benchmarks on other databases never share a broker group) and
ingest group ``bench``; it needs the local stack (``assetwatch stack up``) to register its
devices with the broker. A server lost on the way ends it with one line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from assetwatch.bench.cpu import CpuMeter, CpuUse, available
from assetwatch.bench.devices import SENSORS, SITE, Publisher
from assetwatch.core.settings import Settings
from assetwatch.ingest.errors import IngestError

__all__ = ["IngestBenchResult", "IngestRun", "register", "run_bench"]

PREFIX = "awbench"  # + a number derived from the benchmark database's name
GROUP = "bench"
MODEL = "BENCH-PUMP"
POLL_S = 0.01
#: How often the throughput run looks for its last batch: at most this much late on a run of
#: 5 to 20 s, and little CPU taken from the machine being measured.
END_POLL_S = 0.025
#: End a phase when no batch was committed for this long (a server is gone).
STALL_S = 60.0
WORKERS_GROUP, PUBLISHER_GROUP = "ingest workers", "publisher (devices)"
SELF_GROUP, BROKER_GROUP = "benchmark process (polls the ledger)", "Mosquitto"


@dataclass
class IngestRun:
    """The figures of one run."""

    copy_readings_per_s: float  # (a)
    e2e_readings_per_s: float  # (b)
    ratio: float
    latency_rate: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_batches: int
    cpu_copy_us: dict[str, float] = field(default_factory=dict)  # per reading, by group
    cpu_e2e_us: dict[str, float] = field(default_factory=dict)


@dataclass
class IngestBenchResult:
    readings: int
    batch_readings: int
    workers: int
    runs: list[IngestRun]

    def median(self, name: str) -> float:
        return statistics.median(getattr(run, name) for run in self.runs)


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
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs; each is printed, then the medians (default: %(default)s)")
    parser.set_defaults(func=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    result = run_bench(settings, readings=args.readings, assets=args.assets,
                       batch_readings=args.batch_readings, workers=args.workers,
                       latency_seconds=args.latency_seconds, repeat=max(1, args.repeat),
                       progress=print)
    print()
    print(f"median of {len(result.runs)} run(s), {result.readings:,} readings, "
          f"{result.workers} worker(s), {result.batch_readings} readings per message:")
    print(f"(a) raw binary COPY into telemetry, {result.workers} connection(s): "
          f"{result.median('copy_readings_per_s'):>12,.0f} readings/s")
    print(f"(b) end to end, {result.workers} worker(s)                   : "
          f"{result.median('e2e_readings_per_s'):>12,.0f} readings/s")
    print(f"    ratio (b)/(a)                                : "
          f"{result.median('ratio'):>12.2f}")
    print(f"(c) latency publish->commit at half of (b)       : "
          f"p50 {result.median('latency_p50_ms'):.0f} ms, "
          f"p99 {result.median('latency_p99_ms'):.0f} ms")
    if result.runs[0].cpu_e2e_us:
        print()
        print(_cpu_table(result.runs))
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    out = settings.output_dir / "bench-ingest.json"
    out.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(f"written to {out}")
    return 0


def run_bench(settings: Settings, *, readings: int, assets: int, batch_readings: int,
              workers: int, latency_seconds: float, repeat: int = 3,
              progress: Callable[[str], Any] | None = None) -> IngestBenchResult:
    """Run the whole benchmark (see the module docstring) and return its figures.

    Raises :class:`IngestError` (one line) when the broker or the database is lost.
    """
    import psycopg

    say = progress or (lambda *a: None)
    try:
        return _run_all(settings, readings, assets, batch_readings, workers, latency_seconds,
                        repeat, say)
    except psycopg.OperationalError as e:
        raise IngestError(f"benchmark stopped: the database at {settings.db_endpoint} is "
                          f"unreachable or was lost ({_first_line(e)})") from None


def _run_all(settings: Settings, readings: int, assets: int, batch_readings: int,
             workers: int, latency_seconds: float, repeat: int, say: Callable[[str], Any]
             ) -> IngestBenchResult:
    bench = _prepare(settings, assets)
    tags = [f"BENCH-{i:03d}" for i in range(assets)]
    per_asset = max(1, readings // (assets * batch_readings))
    total = per_asset * assets * batch_readings
    say(f"{total:,} readings in {per_asset * assets:,} batches of {batch_readings} from "
        f"{assets} devices, {workers} worker(s), {repeat} run(s)")
    t0_ms = int(time.time() * 1000) - 6 * 3600 * 1000
    chunks = _copy_chunks(bench, tags, per_asset, batch_readings, t0_ms)
    ctx = mp.get_context("spawn")
    procs = _start_workers(ctx, bench, workers)
    database = urlsplit(bench.db_url).path.lstrip("/")
    groups = {WORKERS_GROUP: [p.pid for p in procs], SELF_GROUP: [os.getpid()],
              BROKER_GROUP: _broker_pids(bench)}
    runs = []
    try:
        for number in range(1, repeat + 1):
            meter = CpuMeter(groups, database) if available() else None
            _empty(bench)
            copy_rate, cpu_copy = _raw_copy(bench, chunks, workers, total, meter)
            _empty(bench)
            e2e_rate, cpu_e2e = _end_to_end(ctx, bench, tags, per_asset, batch_readings, t0_ms,
                                            procs, meter)
            latencies = _latency(ctx, bench, tags, batch_readings, e2e_rate / 2,
                                 latency_seconds, seq0=per_asset, workers=procs)
            run = IngestRun(copy_rate, e2e_rate, e2e_rate / copy_rate, e2e_rate / 2,
                            _quantile(latencies, 0.5), _quantile(latencies, 0.99),
                            len(latencies),
                            cpu_copy.per_reading_us(total) if cpu_copy else {},
                            cpu_e2e.per_reading_us(total) if cpu_e2e else {})
            runs.append(run)
            say(f"run {number}: (a) raw COPY {copy_rate:,.0f} readings/s, (b) end to end "
                f"{e2e_rate:,.0f} readings/s, ratio {run.ratio:.2f}; latency at "
                f"{run.latency_rate:,.0f} readings/s: p50 {run.latency_p50_ms:.0f} ms, "
                f"p99 {run.latency_p99_ms:.0f} ms ({run.latency_batches} batches)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join(30)
    return IngestBenchResult(total, batch_readings, workers, runs)


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _cpu_table(runs: list[IngestRun]) -> str:
    """Median microseconds of CPU per reading, by process group, in (a) and (b)."""
    names = list(dict.fromkeys([*runs[0].cpu_copy_us, *runs[0].cpu_e2e_us]))
    lines = ["CPU per reading (median us; 'idle': capacity left unused)   (a) COPY   (b) e2e"]
    sums = [0.0, 0.0]
    for name in names:
        copy = statistics.median(r.cpu_copy_us.get(name, 0.0) for r in runs)
        e2e = statistics.median(r.cpu_e2e_us.get(name, 0.0) for r in runs)
        sums = [sums[0] + copy, sums[1] + e2e]
        lines.append(f"  {name:<58s} {copy:8.2f} {e2e:9.2f}")
    lines.append(f"  {'= wall time x cores per reading':<58s} {sums[0]:8.2f} {sums[1]:9.2f}")
    return "\n".join(lines)


# -- set-up ---------------------------------------------------------------------------------

def _prepare(settings: Settings, assets: int) -> Settings:
    import psycopg

    from assetwatch.core.asset_registry import AssetSpec, register_fleet
    from assetwatch.core.scratch import fresh_database
    from assetwatch.stack.mosquitto import LocalMosquitto

    database = f"{urlsplit(settings.db_url).path.lstrip('/') or 'assetwatch'}_bench"
    prefix = f"{PREFIX}{zlib.crc32(database.encode()) % 10_000:04d}"
    bench = fresh_database(settings, "bench", topic_prefix=prefix, ingest_group=GROUP)
    tags = [f"BENCH-{i:03d}" for i in range(assets)]
    with psycopg.connect(bench.db_url) as conn:
        register_fleet(conn, [(SITE, "Benchmark site", None, 24)],
                       [(MODEL, "centrifugal_pump", "benchmark")],
                       [AssetSpec(t, SITE, MODEL, [(s, "u") for s in SENSORS]) for t in tags])
    if settings.manage_services:
        LocalMosquitto(bench).write_auth([(SITE, t) for t in tags])
    _clear_sessions(bench, [_worker_id(bench, i) for i in range(16)])
    return bench


def _broker_pids(settings: Settings) -> list[int]:
    """The local broker's pid (none when the broker is not ours to see)."""
    if not settings.manage_services:
        return []
    from assetwatch.stack.mosquitto import LocalMosquitto

    try:
        return [int(LocalMosquitto(settings).pid_file.read_text().strip())]
    except (OSError, ValueError):
        return []


def _worker_id(settings: Settings, i: int) -> str:
    return f"{settings.topic_prefix}-{GROUP}-worker-{i}"


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
        except OSError as e:  # refused, unreachable, reset
            raise IngestError(f"benchmark stopped: cannot reach the MQTT broker at "
                              f"{settings.mqtt_host}:{settings.mqtt_port} ({_first_line(e)})"
                              ) from None
        client.loop_start()
        time.sleep(0.05)
        client.disconnect()
        client.loop_stop()


def _empty(settings: Settings) -> None:
    """An empty telemetry table and ledger before each phase (workers idle)."""
    import psycopg

    with psycopg.connect(settings.db_url) as conn:
        conn.execute("TRUNCATE telemetry, ingest_batch")


# -- (a) raw COPY ---------------------------------------------------------------------------

def _copy_chunks(settings: Settings, tags: list[str], per_asset: int, n: int, t0_ms: int
                 ) -> list[bytes]:
    """The readings the publishers send (same assets, times and sensors), binary-encoded in
    chunks of one ingest group's size, in the order they are published."""
    import numpy as np
    import psycopg

    from assetwatch.ingest.rows import encode_telemetry

    with psycopg.connect(settings.db_url) as conn:
        sensor_ids = {(t, s): i for t, s, i in conn.execute(
            "SELECT a.asset_tag, s.name, s.sensor_id FROM sensor s JOIN asset a USING (asset_id)")}
        asset_ids: dict[str, int] = dict(
            conn.execute("SELECT asset_tag, asset_id FROM asset").fetchall())
    offsets = np.arange(n)
    tick, sensor_index = offsets // len(SENSORS), offsets % len(SENSORS)
    per_group = max(1, settings.ingest_batch_max_messages)
    order = [(tag, seq) for seq in range(per_asset) for tag in tags]
    rng = np.random.default_rng(1)
    chunks = []
    for start in range(0, len(order), per_group):
        part = order[start:start + per_group]
        ts = np.concatenate([t0_ms + seq * (n // len(SENSORS) + 1) + tick for _, seq in part])
        asset = np.repeat(np.array([asset_ids[tag] for tag, _ in part], dtype=np.int32), n)
        ids = {tag: np.array([sensor_ids[(tag, s)] for s in SENSORS], dtype=np.int32)
               for tag in tags}
        sensor = np.concatenate([ids[tag][sensor_index] for tag, _ in part])
        values = np.round(rng.normal(50, 5, len(ts)), 3)
        chunks.append(encode_telemetry(ts, asset, sensor, values))
    return chunks


def _raw_copy(settings: Settings, chunks: list[bytes], connections: int, readings: int,
              meter: CpuMeter | None) -> tuple[float, CpuUse | None]:
    """Readings/s of binary COPY of ``chunks`` over ``connections`` connections."""
    import psycopg

    shares = [chunks[i::connections] for i in range(connections)]
    conns = [psycopg.connect(settings.db_url) for _ in range(connections)]
    barrier = threading.Barrier(connections + 1)
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_copy_share, args=(c, share, barrier, errors))
               for c, share in zip(conns, shares, strict=True)]
    for thread in threads:
        thread.start()
    if meter:
        meter.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    use = meter.stop() if meter else None
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    return readings / elapsed, use


def _copy_share(conn: Any, chunks: list[bytes], barrier: threading.Barrier,
                errors: list[BaseException]) -> None:
    from assetwatch.ingest.rows import COPY_TELEMETRY

    barrier.wait()
    try:
        for chunk in chunks:
            with conn.transaction(), conn.cursor() as cur, cur.copy(COPY_TELEMETRY) as copy:
                copy.write(chunk)
    except Exception as e:  # reported by the caller
        errors.append(e)


# -- (b) end to end -------------------------------------------------------------------------

def _start_workers(ctx: Any, settings: Settings, workers: int) -> list[Any]:
    from assetwatch.ingest.launch import run_worker_process

    doc = settings.model_dump()
    events = [ctx.Event() for _ in range(workers)]
    procs = [ctx.Process(target=run_worker_process, args=(doc, _worker_id(settings, i), events[i]),
                         name=f"bench-ingest-{i}", daemon=True) for i in range(workers)]
    for p in procs:
        p.start()
    for p, e in zip(procs, events, strict=True):
        while not e.wait(0.5):
            if not p.is_alive():
                raise IngestError("an ingest worker of the benchmark could not start (see its "
                                  "log above)")
    return procs


def _check_workers(workers: list[Any]) -> None:
    dead = [p.name for p in workers if not p.is_alive()]
    if dead:
        raise IngestError(f"benchmark stopped: ingest worker(s) {', '.join(dead)} ended "
                          "(see the log above)")


def _end_to_end(ctx: Any, settings: Settings, tags: list[str], per_asset: int, n: int,
                t0_ms: int, workers: list[Any], meter: CpuMeter | None
                ) -> tuple[float, CpuUse | None]:
    import psycopg

    expected = per_asset * len(tags)
    pub = Publisher(ctx, settings, tags, list(range(per_asset)), n, t0_ms, None)
    if meter:
        meter.add(PUBLISHER_GROUP, pub.pid)
        meter.start()
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        # cheap while streaming: are the last batches of every device in? Then count all.
        last = conn.execute(
            "SELECT array_agg(asset_id) FROM asset WHERE asset_tag = ANY(%s)", (tags,)
        ).fetchone()[0]
        progress, progress_at, checked_at = -1, time.monotonic(), 0.0
        while True:
            row = conn.execute(
                "SELECT count(*) FROM ingest_batch WHERE asset_id = ANY(%s) AND seq = %s",
                (last, per_asset - 1)).fetchone()
            now = time.monotonic()
            if (row and row[0] >= len(tags)) or now - checked_at > 1.0:
                checked_at = now
                total = conn.execute("SELECT count(*) FROM ingest_batch").fetchone()[0]
                if total >= expected:
                    done = time.time()
                    break
                if total != progress:
                    progress, progress_at = total, now
                elif now - progress_at > STALL_S:
                    raise IngestError(f"benchmark stopped: no batch committed for {STALL_S:.0f}"
                                      " s (is the broker or the database down?)")
            pub.check()
            _check_workers(workers)
            time.sleep(END_POLL_S)
    use = meter.stop() if meter else None
    begin = pub.result()["begin"]
    return expected * n / (done - begin), use


def _latency(ctx: Any, settings: Settings, tags: list[str], n: int, rate: float,
             seconds: float, *, seq0: int, workers: list[Any]) -> list[float]:
    import psycopg

    per_asset = max(1, int(rate * seconds / (n * len(tags))))
    expected = per_asset * len(tags)
    t0_ms = int(time.time() * 1000) - 3600 * 1000
    pub = Publisher(ctx, settings, tags, list(range(seq0, seq0 + per_asset)), n, t0_ms, rate)
    seen: dict[tuple[str, int], float] = {}
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        deadline = time.time() + seconds * 4 + STALL_S
        low = seq0  # every batch below this seq has been seen: ask only for the newer ones
        while len(seen) < expected and time.time() < deadline:
            now = time.time()
            for tag, seq in conn.execute(
                "SELECT a.asset_tag, b.seq FROM ingest_batch b JOIN asset a USING (asset_id)"
                " WHERE a.asset_tag = ANY(%s) AND b.seq >= %s", (tags, low),
            ):
                seen.setdefault((tag, seq), now)
            while low < seq0 + per_asset and all((tag, low) in seen for tag in tags):
                low += 1
            pub.check()
            _check_workers(workers)
            time.sleep(POLL_S)
    sent = pub.result()["sent"]
    return [seen[key] - sent[key] for key in sent if key in seen]
