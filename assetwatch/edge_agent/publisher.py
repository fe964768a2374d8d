"""The publisher: moves spooled messages to the broker and deletes them on PUBACK.

Per asset it keeps at most ``window`` messages in flight on the asset's link. After every
(re)connection the outbox rows that existed at that moment are the *backlog*; they are sent
oldest first while rows sealed later (*live* data) keep flowing: of every round's free
in-flight slots, ``backfill_share`` go to the backlog and the rest to live rows (a lane with
nothing to send leaves its slots to the other). Rows are never held in memory beyond the
in-flight window, whatever the backlog.

Only rows on stable storage are published (:meth:`Spool.make_durable`, one WAL fsync per
round), so a published ``seq`` never names other readings after a power loss.

A row leaves the spool only when the broker acknowledged it: paho's ``on_publish`` for that
mid (QoS 1 PUBACK) queues the ack, and this thread deletes the row. Anything in flight when a
connection drops is sent again on the next connection (same payload, same ``seq``).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from assetwatch.edge_agent.link import AssetLink
from assetwatch.edge_agent.spool import OutboxRow, Spool

__all__ = ["Publisher", "PublisherCounters"]

log = logging.getLogger(__name__)


@dataclass
class PublisherCounters:
    """What the broker has acknowledged so far."""

    batches: int = 0
    readings: int = 0
    messages: int = 0
    rejected: int = 0


@dataclass
class _Lane:
    generation: int
    live_mark: int  # rows with id <= live_mark existed at connection time: the backlog
    back_cursor: int = 0
    live_cursor: int = 0
    credit: float = 0.0
    inflight: dict[int, OutboxRow] = field(default_factory=dict)


class Publisher:
    """Publishes the spool's outbox through the assets' links (its own thread)."""

    def __init__(self, spool: Spool, links: Mapping[str, AssetLink], *,
                 window: int = 64, backfill_share: float = 0.5) -> None:
        if not 0.0 <= backfill_share <= 1.0:
            raise ValueError("backfill_share must lie between 0 and 1")
        self.spool = spool
        self.links = links
        self.window = window
        self.backfill_share = backfill_share
        self.counters = PublisherCounters()
        self.wake = threading.Event()
        self._acks: deque[tuple[str, int, int, bool]] = deque()
        self._lanes: dict[str, _Lane | None] = dict.fromkeys(links)
        self._durable = 0  # outbox rows up to this id are on stable storage
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    # -- callbacks from the links (network threads) -------------------------------------
    def on_ack(self, asset: str, generation: int, mid: int, ok: bool) -> None:
        self._acks.append((asset, generation, mid, ok))
        self.wake.set()

    def on_state(self, asset: str) -> None:
        self.wake.set()

    # -- thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(10)

    @property
    def inflight(self) -> int:
        return sum(len(lane.inflight) for lane in self._lanes.values() if lane)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wake.wait(0.05)
            self.wake.clear()
            try:
                self.step()
            except Exception:
                log.exception("publisher step failed; retrying")
                self._stop.wait(1.0)

    def step(self) -> None:
        """Apply the acknowledgements received, then fill every connected link's window."""
        self._apply_acks()
        if self.spool.last_id > self._durable and any(
                link.connected for link in self.links.values()):
            self._durable = self.spool.make_durable()
        for asset, link in self.links.items():
            lane = self._lanes.get(asset)
            if not link.connected:
                self._lanes[asset] = None
                continue
            if lane is None or lane.generation != link.generation:
                mark = min(self.spool.max_id(asset), self._durable)
                lane = _Lane(link.generation, mark, back_cursor=0, live_cursor=mark)
                self._lanes[asset] = lane
            self._fill(link, lane)

    def _apply_acks(self) -> None:
        done: list[int] = []
        while self._acks:
            asset, generation, mid, ok = self._acks.popleft()
            lane = self._lanes.get(asset)
            if lane is None or lane.generation != generation:
                continue
            row = lane.inflight.pop(mid, None)
            if row is None:
                continue  # the birth, or a message of an earlier connection
            if not ok:
                self.counters.rejected += 1
                log.error("%s: broker rejected message %d (%s); it stays spooled", asset,
                          row.id, row.kind)
                continue
            done.append(row.id)
            self.counters.messages += 1
            if row.kind == "telemetry":
                self.counters.batches += 1
                self.counters.readings += row.readings
        self.spool.acknowledge(done)

    def _fill(self, link: AssetLink, lane: _Lane) -> None:
        free = self.window - len(lane.inflight)
        if free <= 0:
            return
        asset = link.asset_tag
        backlog_left = lane.back_cursor < lane.live_mark
        k_back = 0
        if backlog_left:
            # Weighted round robin across rounds: the backlog earns ``backfill_share`` of a
            # slot per free slot, so even a window of one alternates between the lanes.
            lane.credit += free * self.backfill_share
            k_back = max(0, min(free, int(lane.credit)))
            lane.credit -= k_back
        live = self.spool.fetch(asset, lane.live_cursor, self._durable, free - k_back)
        rows: list[OutboxRow] = []
        if backlog_left:
            want = free - len(live)  # a live lane with too little to send leaves its slots
            back = self.spool.fetch(asset, lane.back_cursor, lane.live_mark, want)
            # Slots the live lane left are charged to the backlog (down to one slot of debt),
            # so live data gets the next turn as soon as it has some.
            lane.credit = max(-1.0, lane.credit - max(0, len(back) - k_back))
            if len(back) < want:
                lane.back_cursor = lane.live_mark  # backlog fully taken
                lane.credit = 0.0
                more = free - len(live) - len(back)
                if more > 0 and len(live) == free - k_back:
                    after = live[-1].id if live else lane.live_cursor
                    live += self.spool.fetch(asset, after, self._durable, more)
            rows.extend(back)
        rows.extend(live)
        for row in rows:
            sent = link.publish(row.kind, row.payload, row.retain)
            if sent is None:
                return  # disconnected: the lane is rebuilt on the next connection
            generation, mid = sent
            if generation != lane.generation:
                return
            lane.inflight[mid] = row
            if row.id <= lane.live_mark:
                lane.back_cursor = max(lane.back_cursor, row.id)
            else:
                lane.live_cursor = max(lane.live_cursor, row.id)
