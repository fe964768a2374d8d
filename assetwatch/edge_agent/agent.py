"""The edge agent: source -> journal -> batches -> spool -> one MQTT link per asset.

After every poll of the source the new readings are journaled in the spool together with the
source's checkpoint (one transaction), so what was sampled is on disk before anything else
happens. A batch of an asset is sealed when it reaches ``batch_max_readings`` readings,
``batch_max_bytes`` bytes or ``batch_max_age_s`` seconds; sealing gives it the asset's next
``seq`` in the same transaction. The publisher thread sends sealed batches and events and
deletes them once delivered: when ingest's commit receipt names them (or on the broker's
PUBACK with ``delivery.confirm = "broker"``); see :mod:`assetwatch.edge_agent.publisher`.
What the broker refuses or does not pass on is sent again; each asset's birth reports it in
``detail.delivery``.

When the spool reaches ``spool_max_bytes`` the configured policy applies and is reported in
the log (warning) and in the ``detail.spool`` of every asset's retained status:
``drop_oldest`` deletes the oldest telemetry batches (counted in ``dropped_readings``),
``stop_sampling`` stops polling the source until the spool has drained below 90 %
(:mod:`assetwatch.edge_agent.spool_limit`). Remote configurations are kept per asset by
:mod:`assetwatch.edge_agent.remote_configs`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assetwatch import __version__
from assetwatch.core.source import CheckpointMismatch, Sample, Source, SourceEvent
from assetwatch.core.wire import AssetStatus, encode_event, encode_status
from assetwatch.edge_agent.batching import Batcher
from assetwatch.edge_agent.errors import (
    AgentConfigError,
    EdgeError,
)
from assetwatch.edge_agent.link import AssetLink, MqttEndpoint
from assetwatch.edge_agent.publisher import Publisher, PublisherOptions
from assetwatch.edge_agent.remote_config import AssetSettings, config_hash
from assetwatch.edge_agent.remote_configs import RemoteConfigs
from assetwatch.edge_agent.spool import Spool, SpoolMessage
from assetwatch.edge_agent.spool_limit import SPOOL_POLICIES, SpoolLimit

__all__ = ["AgentOptions", "AgentSummary", "EdgeAgent"]

log = logging.getLogger(__name__)

_BIRTHS_REMEMBERED = 64
"""Birth times remembered per asset to keep births apart (births are rare: connects,
configurations, parts replaced)."""


@dataclass(frozen=True)
class AgentOptions:
    """How the agent runs (everything but the source)."""

    endpoint: MqttEndpoint
    spool_path: Path
    prefix: str = "assetwatch"
    passwords: Mapping[str, str] = field(default_factory=dict)
    spool_max_bytes: int = 1 << 30
    spool_full_policy: str = "drop_oldest"
    spool_sync: str = "normal"
    defaults: AssetSettings = field(default_factory=AssetSettings)
    backfill_share: float = 0.5
    delivery: PublisherOptions | None = None  # window and backfill_share come from the above
    max_poll_readings: int = 5000
    local_config: Mapping[str, Any] = field(default_factory=dict)  # hashed into config_hash

    def __post_init__(self) -> None:
        if self.spool_full_policy not in SPOOL_POLICIES:
            raise AgentConfigError(f"spool.full_policy: must be one of {', '.join(SPOOL_POLICIES)}")
        if self.spool_max_bytes < 1_000_000:
            raise AgentConfigError("spool.max_bytes: must be at least 1000000")


@dataclass
class AgentSummary:
    """What one run did: sampled, sealed and delivered counts (delivered: confirmed by the
    server's commit receipt, or by the broker with ``confirm="broker"``)."""

    readings: int = 0
    batches: int = 0
    events: int = 0
    acked_readings: int = 0
    acked_batches: int = 0
    resent: int = 0
    refused: int = 0
    dropped_readings: int = 0
    elapsed_s: float = 0.0
    drained: bool = False


class EdgeAgent:
    """Runs one source through the spool to the broker; see the module docstring."""

    def __init__(self, source: Source, options: AgentOptions) -> None:
        self.source = source
        self.options = options
        self.summary = AgentSummary()
        self._stop = threading.Event()
        self._configs: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._rebirths: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._assets = {a.asset_tag: a for a in source.assets()}
        self._settings = dict.fromkeys(self._assets, options.defaults)
        self._remote = RemoteConfigs(self._assets, options.defaults, self._settings, source)
        self._batcher = Batcher(self._assets, self._settings)
        self._limit = SpoolLimit(options.spool_full_policy, options.spool_max_bytes)
        self.spool: Spool | None = None
        self.links: dict[str, AssetLink] = {}
        self.publisher: Publisher | None = None
        self._delivered_before = (0, 0, 0, 0)
        self._birth_ms: dict[str, set[int]] = {}
        self._birth_lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`run` to return after its current poll (safe from any thread)."""
        self._stop.set()

    def run(self, *, drain: bool = True, drain_timeout_s: float | None = None) -> AgentSummary:
        """Poll the source until it is exhausted or :meth:`stop`; then, with ``drain``, wait
        until every spooled message has been acknowledged (or the timeout passed)."""
        t0 = time.monotonic()
        try:
            self._open_spool()
        except sqlite3.Error as e:
            raise EdgeError(f"spool {self.options.spool_path}: {e}") from e
        self._start_links()
        try:
            return self._run(drain, drain_timeout_s)
        except sqlite3.Error as e:
            raise EdgeError(f"spool {self.options.spool_path}: {e}; what was committed stays "
                            "there") from e
        finally:
            self._shutdown()
            self.summary.elapsed_s = time.monotonic() - t0

    def _run(self, drain: bool, drain_timeout_s: float | None) -> AgentSummary:
        """The poll loop, then the drain (see :meth:`run`)."""
        while not self._stop.is_set():
            self._apply_remote_configs()
            self._publish_rebirths()
            self._enforce_spool_limit()
            if self._limit.paused:
                self._stop.wait(0.1)
                continue
            try:
                items = self.source.poll(self.options.max_poll_readings, 0.1)
            except EdgeError:
                self._commit(seal_all=True)
                if drain:
                    self._drain(drain_timeout_s if drain_timeout_s is not None else 30.0)
                raise
            self._take(items)
            if self.source.exhausted:
                self._commit(seal_all=True)
                break
        else:
            self._commit(seal_all=False)
        if drain:
            self.summary.drained = self._drain(drain_timeout_s)
        return self.summary

    def _open_spool(self) -> None:
        spool = Spool(self.options.spool_path, self.options.spool_sync)
        self.spool = spool
        prefix = spool.get_meta("topic_prefix")
        if prefix is None:
            spool.set_meta("topic_prefix", self.options.prefix)
        elif prefix != self.options.prefix:
            spool.close()
            raise AgentConfigError(f"spool {spool.path} holds messages for topic prefix "
                                   f"{prefix!r}, not {self.options.prefix!r}; use another spool")
        checkpoint = spool.get_meta("source_checkpoint")
        if checkpoint is not None:
            try:
                self.source.restore(checkpoint)
            except CheckpointMismatch as e:
                log.warning("%s; the source starts from its beginning (spooled messages are "
                            "still sent)", e)
        self._batcher.restore(spool.load_journal(), time.monotonic())
        self._remote.restore(spool)
        self._limit.restore(spool)
        if spool.messages:
            log.info("spool %s holds %d messages (%d readings) from an earlier run",
                     spool.path, spool.messages, spool.readings)
            orphans = spool.messages - spool.pending(self._assets)
            if orphans:
                log.warning("spool %s holds %d messages of assets this agent does not serve; "
                            "they stay in the spool", spool.path, orphans)

    def _start_links(self) -> None:
        assert self.spool is not None
        self.links = {}
        base = self.options.delivery or PublisherOptions()
        window = max(self.options.endpoint.max_inflight, 1)
        delivery = dataclasses.replace(base, window=window,
                                       confirm_window=max(base.confirm_window, window),
                                       backfill_share=self.options.backfill_share)
        publisher = Publisher(self.spool, self.links, delivery, on_change=self._rebirths.put)
        for tag, ident in self._assets.items():
            self.links[tag] = AssetLink(
                self.options.endpoint, asset_tag=tag, site_id=ident.site_id,
                prefix=self.options.prefix, password=self.options.passwords.get(tag),
                birth=functools.partial(self.birth, tag), on_ack=publisher.on_ack,
                on_config=lambda asset, payload: self._configs.put((asset, payload)),
                on_state=publisher.on_state, on_receipt=publisher.on_receipt)
        self.publisher = publisher
        c = publisher.counters
        self._delivered_before = (c.readings, c.batches, c.resent, c.refusals)
        publisher.start()
        for link in self.links.values():
            link.start()

    def _shutdown(self) -> None:
        if self.publisher:
            self.publisher.stop()
            counters = self.publisher.counters
            self.summary.acked_readings = counters.readings - self._delivered_before[0]
            self.summary.acked_batches = counters.batches - self._delivered_before[1]
            self.summary.resent = counters.resent - self._delivered_before[2]
            self.summary.refused = counters.refusals - self._delivered_before[3]
        for link in self.links.values():
            link.stop()
        self.source.close()
        if self.spool:
            self.spool.close()

    def _drain(self, timeout_s: float | None) -> bool:
        assert self.spool is not None and self.publisher is not None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        started = time.monotonic()
        served = list(self._assets)
        while self.spool.pending(served) > 0:
            refused = sorted(a for a, link in self.links.items() if link.refused)
            if refused and time.monotonic() - started > 5:
                raise EdgeError(f"the broker refuses the credentials of {', '.join(refused)}; "
                                "register these devices (and their passwords) with the broker; "
                                f"their messages stay in {self.spool.path}")
            if self._stop.is_set() and deadline is None:
                return False
            if deadline is not None and time.monotonic() > deadline:
                return False
            self._apply_remote_configs()
            self._publish_rebirths()
            time.sleep(0.02)
        return True

    # -- status -------------------------------------------------------------------------
    def birth(self, asset: str, at_ms: int | None = None) -> AssetStatus:
        """The retained ``online`` status of an asset as of now (or ``at_ms``).

        No two births of an asset share a millisecond: a birth at a millisecond an earlier
        birth already holds is moved to the next free one. The ingest keeps the newest birth,
        and two births in one millisecond (a simulated clock that has not moved between the
        connect and an applied configuration) would otherwise be kept in whatever order the
        ingest workers took them. A birth for a past event (a part replaced) keeps its
        event's time when that is free, although a later birth may already be out."""
        with self._birth_lock:
            ts_ms = at_ms if at_ms is not None else self.source.clock_ms()
            taken = self._birth_ms.setdefault(asset, set())
            while ts_ms in taken:
                ts_ms += 1
            taken.add(ts_ms)
            if len(taken) > _BIRTHS_REMEMBERED:
                taken.remove(min(taken))
        spool = self.spool
        spool_detail = dict(self._limit.state)
        if spool is not None:
            spool_detail.update(bytes=spool.size_bytes, readings=spool.readings,
                                max_bytes=self.options.spool_max_bytes)
        detail: dict[str, Any] = {"spool": spool_detail, "config": self._remote.state(asset)}
        if self.publisher is not None:
            c = self.publisher.counters
            detail["delivery"] = {
                "confirm": self.publisher.options.confirm, "delivered": c.messages,
                "unconfirmed": self.publisher.unconfirmed, "resent": c.resent,
                "refused": dict(c.refused), "last_refusal": c.last_refusal,
                "dead_lettered": c.dead_lettered}
        return AssetStatus(
            state="online", ts_ms=ts_ms,
            agent_version=__version__, firmware=self.source.firmware(asset),
            config_hash=config_hash(dict(self.options.local_config), self._remote.active[asset]),
            components=self.source.components(asset, at_ms),
            detail=detail)

    def _publish_births(self) -> None:
        for link in self.links.values():
            link.publish_birth()

    def _publish_rebirths(self) -> None:
        """Re-publish the birth of assets whose delivery state changed (refusals)."""
        assets = set()
        while True:
            try:
                assets.add(self._rebirths.get_nowait())
            except queue.Empty:
                break
        for asset in assets:
            if asset in self.links:
                self.links[asset].publish_birth()

    # -- remote configuration and the spool limit ----------------------------------------
    def _apply_remote_configs(self) -> None:
        while True:
            try:
                asset, payload = self._configs.get_nowait()
            except queue.Empty:
                return
            if self._remote.receive(asset, payload, self.spool):
                self.links[asset].publish_birth()

    def _enforce_spool_limit(self) -> None:
        assert self.spool is not None
        changed, dropped = self._limit.check(self.spool)
        self.summary.dropped_readings += dropped
        if changed:
            if self._limit.paused:
                self._commit(seal_all=True)
            self._publish_births()

    # -- batching -----------------------------------------------------------------------
    def _take(self, items: list[Sample | SourceEvent]) -> None:
        """Batch the polled items and commit them (journal, sealed batches, events)."""
        messages: list[SpoolMessage] = []
        now = time.monotonic()
        for item in items:
            if type(item) is Sample:
                self._batcher.add(item.asset, item.ts_ms, item.values, now)
            else:
                assert isinstance(item, SourceEvent)
                messages.append(SpoolMessage(item.asset, "events", encode_event(item.event),
                                             event_id=item.event.event_id))
                self.summary.events += 1
                if item.components_changed:
                    birth = self.birth(item.asset, at_ms=item.event.ts_ms)
                    messages.append(SpoolMessage(item.asset, "status", encode_status(birth),
                                                 retain=True))
        self._batcher.seal_due(now)
        self._commit(seal_all=False, messages=messages)

    def _commit(self, *, seal_all: bool, messages: list[SpoolMessage] | None = None) -> None:
        assert self.spool is not None
        if seal_all:
            self._batcher.seal_all()
        work = self._batcher.take()
        self.summary.readings = self._batcher.readings
        self.summary.batches = self._batcher.batches
        if not (work or messages):
            return
        self.spool.commit(appended=work.appended, sealed=work.sealed, reopened=work.reopened,
                          messages=messages or (), checkpoint=self.source.checkpoint())
        if self.publisher is not None:
            self.publisher.wake.set()
