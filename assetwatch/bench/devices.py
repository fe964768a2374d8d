"""The ingest benchmark's devices: a process publishing telemetry batches over MQTT.

Every device is an MQTT 5 client with its own credentials (as a real one), publishing QoS 1
batches in compact JSON (``wire.encode_batch``). All of them are served by one network thread
and publish from the calling thread, so the device side costs the measured machine little
CPU (real devices run elsewhere). :class:`Publisher` runs them in a process of their own,
paced at a rate (readings/s) or at full speed, and reports when each batch was sent; a
broker that cannot be reached or is lost ends it with one line.
"""

from __future__ import annotations

import queue
import random
import sys
import threading
import time
from typing import Any

from assetwatch.core.settings import Settings
from assetwatch.ingest.errors import IngestError

__all__ = ["SENSORS", "SITE", "Publisher", "batch_readings"]

SITE = "bench-site"
SENSORS = tuple(f"s{i}" for i in range(8))


def batch_readings(seq: int, n: int, t0_ms: int, rng: random.Random) -> list[list[Any]]:
    """The ``n`` readings of batch ``seq``: every sensor once per millisecond tick, the times
    of successive batches not overlapping, so (time, sensor) is unique per asset."""
    base = t0_ms + seq * (n // len(SENSORS) + 1)
    return [[base + i // len(SENSORS), SENSORS[i % len(SENSORS)], round(rng.gauss(50, 5), 3)]
            for i in range(n)]


class Publisher:
    """A process publishing batches ``seqs`` of every device in ``tags`` (seq by seq)."""

    def __init__(self, ctx: Any, settings: Settings, tags: list[str], seqs: list[int], n: int,
                 t0_ms: int, rate: float | None) -> None:
        self._started, self._out = ctx.Event(), ctx.Queue()
        self.process = ctx.Process(target=_run, daemon=True, args=(
            settings.model_dump(), tags, seqs, n, t0_ms, rate, self._started, self._out))
        self.process.start()
        while not self._started.wait(0.5):
            if not self.process.is_alive():
                raise IngestError("the benchmark publisher could not start")
        self.check()

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def check(self) -> None:
        """Raise :class:`IngestError` (one line) if the publisher failed."""
        if self.process.exitcode not in (None, 0):
            try:
                reason = self._out.get(timeout=1).get("error", "it failed")
            except queue.Empty:
                reason = f"it ended with exit code {self.process.exitcode}"
            raise IngestError(f"benchmark stopped: {reason}")

    def result(self) -> dict[str, Any]:
        """``{"begin": first publish time, "sent": {(tag, seq): publish time}}`` once every
        message is acknowledged."""
        try:
            result = self._out.get(timeout=120)
        except queue.Empty:
            raise IngestError("the benchmark publisher did not finish within 120 s") from None
        self.process.join(30)
        if "error" in result:
            raise IngestError(f"benchmark stopped: {result['error']}")
        return result


def _run(settings_doc: dict[str, Any], tags: list[str], seqs: list[int], n: int,
         t0_ms: int, rate: float | None, started: Any, out: Any) -> None:
    """The publisher process: puts its result on ``out``, or ``{"error": reason}`` and exits
    with 3 when the broker cannot be reached or is lost."""
    try:
        out.put(_publish(Settings(**settings_doc), tags, seqs, n, t0_ms, rate, started))
    except (OSError, RuntimeError, ValueError) as e:  # refused, reset, not acknowledged
        text = str(e).strip()
        out.put({"error": "the publisher lost the MQTT broker "
                          f"({text.splitlines()[0] if text else type(e).__name__})"})
        started.set()
        out.close()
        out.join_thread()
        sys.exit(3)


def _publish(settings: Settings, tags: list[str], seqs: list[int], n: int, t0_ms: int,
             rate: float | None, started: Any) -> dict[str, Any]:
    from assetwatch.core.wire import TelemetryBatch, encode_batch, topic_for

    rng = random.Random(1)
    order = [(tag, seq) for seq in seqs for tag in tags]
    payloads = [encode_batch(TelemetryBatch(tag, seq, batch_readings(seq, n, t0_ms, rng)))  # type: ignore[arg-type]
                for tag, seq in order]
    devices = _Devices(settings, tags)
    topics = {tag: topic_for(settings.topic_prefix, SITE, tag, "telemetry") for tag in tags}
    sent: dict[tuple[str, int], float] = {}
    infos = []
    started.set()
    begin = time.time()
    try:
        for i, ((tag, seq), payload) in enumerate(zip(order, payloads, strict=True)):
            if rate:
                delay = begin + i * n / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            sent[(tag, seq)] = time.time()
            infos.append(devices.clients[tag].publish(topics[tag], payload, qos=1))
        deadline = time.monotonic() + 120
        for info in infos:
            while not info.is_published():
                # short waits: a broker that dies leaves messages in flight unacknowledged,
                # and only the devices' connection state tells that no ack will come
                info.wait_for_publish(0.2)
                if not info.is_published() and not devices.connected():
                    raise RuntimeError("the connection to the broker was lost")
                if time.monotonic() > deadline:
                    raise RuntimeError("a message was not acknowledged within 120 s")
    finally:
        devices.close()
    return {"begin": begin, "sent": sent}


class _Devices:
    """One paho client per device, all served by one network thread (see the module)."""

    def __init__(self, settings: Settings, tags: list[str]) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from assetwatch.stack.mosquitto import device_password

        self.clients: dict[str, Any] = {}
        self._done = threading.Event()
        for tag in tags:
            client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                 client_id=f"{settings.topic_prefix}-dev-{tag}",
                                 protocol=mqtt.MQTTv5)
            client.username_pw_set(tag, device_password(settings, tag))
            client.max_inflight_messages_set(200)
            client.max_queued_messages_set(0)
            client.connect(settings.mqtt_host, settings.mqtt_port)
            self.clients[tag] = client
        deadline = time.monotonic() + 30
        while not all(c.is_connected() for c in self.clients.values()):
            for client in self.clients.values():
                client.loop(timeout=0.01)
            if time.monotonic() > deadline:
                raise OSError("the broker did not accept the devices within 30 s")
        self._thread = threading.Thread(target=self._network, name="devices", daemon=True)
        self._thread.start()

    def _network(self) -> None:
        import select

        clients = list(self.clients.values())
        last_misc = time.monotonic()
        while not self._done.is_set():
            by_socket = {c.socket(): c for c in clients if c.socket() is not None}
            writers = [s for s, c in by_socket.items() if c.want_write()]
            try:
                readable, writable, _ = select.select(list(by_socket), writers, [], 0.05)
            except (OSError, ValueError):  # a socket closed under us: the broker is gone
                return
            for sock in readable:
                by_socket[sock].loop_read(100)
            for sock in writable:
                by_socket[sock].loop_write()
            if time.monotonic() - last_misc > 1.0:
                for client in clients:
                    client.loop_misc()
                last_misc = time.monotonic()

    def connected(self) -> bool:
        """Whether every device is still connected to the broker."""
        return all(c.is_connected() for c in self.clients.values())

    def close(self) -> None:
        self._done.set()
        self._thread.join(5)
        for client in self.clients.values():
            client.disconnect()
