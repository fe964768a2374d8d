"""``assetwatch bench edge``: readings through the edge agent's spool to the local broker.

Two phases, each a real :class:`~assetwatch.edge_agent.agent.EdgeAgent` with a synthetic
source of ``--assets`` assets and 10 sensors:

``stream``
    ``--readings`` readings sampled, journaled, sealed into durable batches (committed to the
    SQLite spool), published with QoS 1 and deleted when confirmed; timed until the last one
    is confirmed.
``backlog``
    the broker is unreachable while ``--backlog`` readings pile up in the spool (timed: spool
    rate); then a new agent on the same spool drains the backlog (timed: drain rate).

For each phase it prints readings/s, batches/s and the peak resident memory of the process
during that phase (sampled from ``/proc/self/status``).

The agent confirms deliveries as it does in production (``--confirm commit``: a batch leaves
the spool when a commit receipt names it). To measure the agent and not a database, the
server side here is a subscriber that sends the receipt as soon as a batch arrives (in the
command's own process); ``--confirm broker`` deletes on the broker's PUBACK instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from assetwatch.core.source import AssetIdentity, Sample, Source, SourceEvent
from assetwatch.edge_agent.errors import EdgeError

__all__ = ["BenchError", "register"]

_SENSORS = tuple(f"sensor_{i:02d}" for i in range(10))


def register(benches: argparse._SubParsersAction) -> None:
    bench = benches.add_parser("edge", help="edge agent: readings/s through the spool")
    bench.add_argument("--readings", type=int, default=2_000_000)
    bench.add_argument("--backlog", type=int, default=1_000_000,
                       help="readings spooled while the broker is unreachable (0: skip)")
    bench.add_argument("--assets", type=int, default=4)
    bench.add_argument("--batch", type=int, default=2000, help="readings per batch")
    bench.add_argument("--sync", choices=("normal", "full"), default="normal")
    bench.add_argument("--spool-dir", type=Path, default=None)
    bench.add_argument("--confirm", choices=("commit", "broker"), default="commit",
                       help="delete spooled batches on a commit receipt (default) or on PUBACK")
    bench.set_defaults(func=_command)


class _Synthetic(Source):
    """``total`` readings over ``assets`` assets, one sample of 10 sensors per second."""

    def __init__(self, assets: int, total: int) -> None:
        self._assets = [f"BENCH-{i:03d}" for i in range(assets)]
        self._left = total
        self._ts = int(time.time() * 1000) - 86_400_000
        self._values = [(name, round(20.0 + i * 1.37, 3)) for i, name in enumerate(_SENSORS)]

    def assets(self) -> Sequence[AssetIdentity]:
        return [AssetIdentity(tag, "bench", _SENSORS) for tag in self._assets]

    @property
    def exhausted(self) -> bool:
        return self._left <= 0

    def poll(self, max_readings: int, timeout_s: float) -> list[Sample | SourceEvent]:
        n = min(max_readings, self._left) // len(_SENSORS)
        out: list[Sample | SourceEvent] = []
        assets, values, ts = self._assets, self._values, self._ts
        for k in range(n):
            if k % len(assets) == 0:
                ts += 1000
            out.append(Sample(assets[k % len(assets)], ts, values))
        self._ts = ts
        self._left -= max(n * len(_SENSORS), self._left if n == 0 else 0)
        return out


class _RssPeak:
    """Samples this process's resident memory in a thread; ``peak_mb`` after ``stop``."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _rss_kb())
            self._stop.wait(0.05)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak_kb = max(self.peak_kb, _rss_kb())
        return self.peak_kb / 1024


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class BenchError(EdgeError):
    """The benchmark's agent process failed."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command(settings, args: argparse.Namespace) -> int:
    from assetwatch.stack.mosquitto import LocalMosquitto, device_password

    prefix = f"{settings.topic_prefix}bench"
    bench_settings = settings.model_copy(update={"topic_prefix": prefix})
    tags = [f"BENCH-{i:03d}" for i in range(args.assets)]
    LocalMosquitto(bench_settings).write_auth([("bench", t) for t in tags])
    spec = {"host": settings.mqtt_host, "port": settings.mqtt_port, "prefix": prefix,
            "passwords": {t: device_password(bench_settings, t) for t in tags},
            "assets": args.assets, "readings": args.readings, "backlog": args.backlog,
            "batch": args.batch, "sync": args.sync, "confirm": args.confirm,
            "spool_dir": str(args.spool_dir) if args.spool_dir else None}
    # The agent runs in a process of its own that imports the edge agent only, as on a
    # gateway, so its memory is the agent's and not the whole command line's.
    confirmer = _Confirmer(bench_settings, receipts=args.confirm == "commit")
    try:
        done = subprocess.run([sys.executable, "-m", "assetwatch.bench.edge"],
                              input=json.dumps(spec), capture_output=True, text=True)
    finally:
        confirmer.close()
    if done.returncode != 0:
        raise BenchError(f"edge bench failed: {done.stderr.strip().splitlines()[-1:]}")
    rows = json.loads(done.stdout)
    print(f"edge agent bench: {args.assets} assets, {args.batch} readings/batch, "
          f"spool sync={args.sync}, confirm={args.confirm}, broker "
          f"{settings.mqtt_host}:{settings.mqtt_port}")
    print(f"{'phase':<30}{'readings':>12}{'batches':>9}{'seconds':>9}{'readings/s':>12}"
          f"{'batches/s':>11}{'peak RSS MB':>13}")
    for name, readings, batches, seconds, peak in rows:
        print(f"{name:<30}{readings:>12}{batches:>9}{seconds:>9.1f}{readings / seconds:>12.0f}"
              f"{batches / seconds:>11.1f}{peak:>13.1f}")
    return 0


class _Confirmer:
    """The server side of the benchmark: subscribes to the telemetry and, with ``receipts``,
    confirms every batch with a receipt on arrival.

    It stands in for ingest (which confirms after its commit) so that the figures are the
    agent's, not a database's; ``bench ingest`` measures ingest. Without a subscriber the
    broker would refuse every batch (*No matching subscribers*) and the agent keep them.
    """

    def __init__(self, settings, *, receipts: bool = True) -> None:
        import re

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from assetwatch.core.wire import Receipt, encode_receipt

        seq = re.compile(rb'"seq":(\d+)')
        subscribed = threading.Event()

        def on_message(client, userdata, msg) -> None:
            found = seq.search(msg.payload, 0, 200) if receipts else None
            if found:
                receipt = encode_receipt(Receipt(seqs=[int(found.group(1))]))
                client.publish(msg.topic.rsplit("/", 1)[0] + "/receipt", receipt)

        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(settings.mqtt_username, settings.resolved_mqtt_password())
        self.client.on_message = on_message
        self.client.on_connect = lambda c, *a: c.subscribe(
            f"{settings.topic_prefix}/v1/+/+/telemetry", qos=1)
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(settings.mqtt_host, settings.mqtt_port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise BenchError(f"cannot subscribe at the broker {settings.mqtt_host}:"
                             f"{settings.mqtt_port}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _phases(spec: dict) -> list[tuple[str, int, int, float, float]]:
    """Run the phases in this process; ``(phase, readings, batches, seconds, peak MB)``."""
    from assetwatch.edge_agent.agent import AgentOptions, EdgeAgent
    from assetwatch.edge_agent.link import MqttEndpoint
    from assetwatch.edge_agent.publisher import PublisherOptions
    from assetwatch.edge_agent.remote_config import AssetSettings

    logging.basicConfig(level=logging.WARNING)
    live = MqttEndpoint(spec["host"], spec["port"], max_inflight=16)
    defaults = AssetSettings(batch_max_readings=spec["batch"], batch_max_bytes=900_000,
                             batch_max_age_s=1.0)
    assets = spec["assets"]

    def options(spool: Path, endpoint: MqttEndpoint) -> AgentOptions:
        return AgentOptions(endpoint=endpoint, spool_path=spool, prefix=spec["prefix"],
                            passwords=spec["passwords"], spool_max_bytes=8 << 30,
                            spool_sync=spec["sync"], defaults=defaults,
                            max_poll_readings=20_000,
                            delivery=PublisherOptions(confirm=spec["confirm"]))

    rows: list[tuple[str, int, int, float, float]] = []
    with tempfile.TemporaryDirectory(dir=spec["spool_dir"]) as tmp:
        rss = _RssPeak()
        t0 = time.monotonic()
        s = EdgeAgent(_Synthetic(assets, spec["readings"]),
                      options(Path(tmp) / "stream.db", live)).run(drain_timeout_s=600)
        rows.append(("stream (spool+publish)", s.acked_readings, s.acked_batches,
                     time.monotonic() - t0, rss.stop()))
        if spec["backlog"] > 0:
            spool = Path(tmp) / "backlog.db"
            dead = MqttEndpoint("127.0.0.1", _free_port(), backoff_min_s=5, backoff_max_s=5)
            rss = _RssPeak()
            t0 = time.monotonic()
            b = EdgeAgent(_Synthetic(assets, spec["backlog"]),
                          options(spool, dead)).run(drain=False)
            rows.append(("backlog: spool, broker down", b.readings, b.batches,
                         time.monotonic() - t0, rss.stop()))
            rss = _RssPeak()
            t0 = time.monotonic()
            d = EdgeAgent(_Synthetic(assets, 0), options(spool, live)).run(
                drain_timeout_s=1800)
            rows.append(("backlog: drain after outage", d.acked_readings, d.acked_batches,
                         time.monotonic() - t0, rss.stop()))
    return rows


if __name__ == "__main__":
    print(json.dumps(_phases(json.loads(sys.stdin.read()))))
