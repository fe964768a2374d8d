"""The publisher: moves spooled messages to the broker and deletes them once delivered.

*Delivered* means stored by the server. With ``confirm="commit"`` (the default) a telemetry
batch or event leaves the spool only when ingest's commit receipt names it
(:mod:`assetwatch.core.wire`, topic ``.../receipt``); the broker's PUBACK only moves it from
*in flight* to *unconfirmed*. So whatever the broker loses after its PUBACK (a crash before it
saved its state, a queue limit, a session that expired, a subscriber that dropped the
message) is sent again: rows still unconfirmed after ``confirm_timeout_s`` are re-sent (the
timeout doubling up to ``confirm_timeout_max_s`` while no receipt comes), and every
reconnection re-sends what was in flight or unconfirmed. The server's (asset, seq) ledger
and event ids make the copies harmless. Status rows (retained state, superseded by every
birth) are deleted on PUBACK. With ``confirm="broker"`` every row is deleted on PUBACK, for a
server without receipts.

A PUBACK with any reason code other than 0 (*No matching subscribers* included: nobody would
have stored the message) leaves the row in the spool; the asset's lane pauses and sends it
again after a back-off (``retry_min_s`` doubling to ``retry_max_s``; one message probes, the
rest follow once it is taken). Refusals are counted
per reason in :class:`DeliveryCounters`, which the agent reports in every birth's
``detail.delivery`` and keeps in the spool for ``edge status``.

Per asset at most ``window`` messages wait for their PUBACK and at most ``confirm_window``
for PUBACK or receipt, so a server that stops confirming stops the flow (the spool, not the
broker, holds the backlog). After every (re)connection the outbox rows that existed at that
moment are the *backlog*; they are sent oldest first while rows sealed later (*live* data)
keep flowing: of every round's free slots, ``backfill_share`` go to the backlog and the rest to
live rows (a lane with nothing to send leaves its slots to the other). Rows are never held in
memory beyond these windows, whatever the backlog.

Only rows on stable storage are published (:meth:`Spool.make_durable`, one WAL fsync per
round), so a published ``seq`` never names other readings after a power loss.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

from assetwatch.core.wire import Receipt, WireError, decode_receipt
from assetwatch.edge_agent.link import AssetLink
from assetwatch.edge_agent.spool import OutboxRow, Spool

__all__ = ["CONFIRM_MODES", "DeliveryCounters", "Publisher", "PublisherOptions"]

log = logging.getLogger(__name__)

CONFIRM_MODES = ("commit", "broker")
#: MQTT 5 PUBACK reason codes, by value (paho names them the same way).
_REASONS = {16: "No matching subscribers", 128: "Unspecified error",
            131: "Implementation specific error", 135: "Not authorized",
            144: "Topic Name invalid", 145: "Packet identifier in use",
            151: "Quota exceeded", 153: "Payload format invalid"}
#: Delivery counters are written to the spool at most this often.
_SAVE_EVERY_S = 1.0


@dataclass(frozen=True)
class PublisherOptions:
    """How messages are confirmed and retried (see the module docstring)."""

    window: int = 64
    backfill_share: float = 0.5
    confirm: str = "commit"
    confirm_window: int = 1024
    confirm_timeout_s: float = 60.0
    confirm_timeout_max_s: float = 900.0
    retry_min_s: float = 0.5
    retry_max_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.backfill_share <= 1.0:
            raise ValueError("backfill_share must lie between 0 and 1")
        if self.confirm not in CONFIRM_MODES:
            raise ValueError(f"confirm must be one of {', '.join(CONFIRM_MODES)}")
        if self.window < 1 or self.confirm_window < self.window:
            raise ValueError("window must be at least 1 and confirm_window at least window")


@dataclass
class DeliveryCounters:
    """What became of the spooled messages since the spool was created."""

    messages: int = 0  # delivered: confirmed by receipt (or PUBACK for status / broker mode)
    batches: int = 0
    readings: int = 0
    resent: int = 0  # sent again: refused, unconfirmed in time, or cut off by a disconnect
    dead_lettered: int = 0  # delivered, but the server kept them as dead letters
    refused: dict[str, int] = field(default_factory=dict)  # PUBACK reason -> count
    last_refusal: str | None = None

    @property
    def refusals(self) -> int:
        return sum(self.refused.values())

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> DeliveryCounters:
        try:
            doc = json.loads(text or "{}")
            return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError):
            return cls()


@dataclass
class _Lane:
    """One asset's publishing state for one connection (``generation``)."""

    generation: int
    live_mark: int  # rows with id <= live_mark existed at connection time: the backlog
    timeout_s: float
    back_cursor: int = 0
    live_cursor: int = 0
    credit: float = 0.0
    inflight: dict[int, OutboxRow] = field(default_factory=dict)  # mid -> row (no PUBACK yet)
    unconfirmed: dict[int, tuple[OutboxRow, float]] = field(default_factory=dict)  # id -> sent
    retry: dict[int, OutboxRow] = field(default_factory=dict)  # id -> row to send again
    retry_at: float = 0.0
    retry_delay_s: float = 0.0

    @property
    def outstanding(self) -> int:
        return len(self.inflight) + len(self.unconfirmed)


class Publisher:
    """Publishes the spool's outbox through the assets' links (its own thread).

    ``on_change(asset)`` is called (from the publisher's thread) when an asset's delivery
    state changes: a refusal after a clean run, or the first delivery after refusals.
    """

    def __init__(self, spool: Spool, links: Mapping[str, AssetLink],
                 options: PublisherOptions | None = None, *,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.spool = spool
        self.links = links
        self.options = options or PublisherOptions()
        self.on_change = on_change
        self.counters = DeliveryCounters.from_json(spool.get_meta("delivery"))
        self.wake = threading.Event()
        self._acks: deque[tuple[str, int, int, int]] = deque()
        self._receipts: deque[tuple[str, bytes]] = deque()
        self._lanes: dict[str, _Lane | None] = dict.fromkeys(links)
        self._refusing: set[str] = set()
        self._durable = 0  # outbox rows up to this id are on stable storage
        self._synced = False  # synced in this round already
        self._saved_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    # -- callbacks from the links (network threads) -------------------------------------
    def on_ack(self, asset: str, generation: int, mid: int, reason: int) -> None:
        self._acks.append((asset, generation, mid, reason))
        self.wake.set()

    def on_receipt(self, asset: str, payload: bytes) -> None:
        self._receipts.append((asset, payload))
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
        self._save_counters(force=True)

    @property
    def inflight(self) -> int:
        return sum(len(lane.inflight) for lane in self._lanes.values() if lane)

    @property
    def unconfirmed(self) -> int:
        """Messages the broker took but the server has not confirmed yet."""
        return sum(len(lane.unconfirmed) for lane in self._lanes.values() if lane)

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
        """Apply PUBACKs and receipts, re-queue what timed out, fill every link's window."""
        now = time.monotonic()
        self._apply_acks(now)
        self._apply_receipts()
        self._synced = False
        for asset, link in self.links.items():
            lane = self._lanes.get(asset)
            if not link.connected:
                self._lanes[asset] = None
                continue
            if lane is None or lane.generation != link.generation:
                if lane is not None and lane.outstanding:
                    self.counters.resent += lane.outstanding + len(lane.retry)
                mark = min(self.spool.max_id(asset), self._durable_id())
                lane = _Lane(link.generation, mark, self.options.confirm_timeout_s,
                             live_cursor=mark)
                self._lanes[asset] = lane
            self._expire(asset, lane, now)
            self._fill(link, lane, now)
        self._save_counters()

    # -- PUBACKs and receipts -----------------------------------------------------------
    def _apply_acks(self, now: float) -> None:
        done: list[int] = []
        while self._acks:
            asset, generation, mid, reason = self._acks.popleft()
            lane = self._lanes.get(asset)
            if lane is None or lane.generation != generation:
                continue
            row = lane.inflight.pop(mid, None)
            if row is None:
                continue  # the birth, or a message of an earlier connection
            if reason != 0:
                self._refused(asset, lane, row, reason, now)
                continue
            if asset in self._refusing:
                self._refusing.discard(asset)
                log.info("%s: the broker accepts messages again", asset)
                self._changed(asset)
            lane.retry_delay_s = 0.0
            if self.options.confirm == "broker" or row.kind == "status":
                done.append(row.id)
                self._delivered(row.kind, row.readings)
            else:
                lane.unconfirmed[row.id] = (row, now)
        self.spool.acknowledge(done)

    def _refused(self, asset: str, lane: _Lane, row: OutboxRow, reason: int, now: float
                 ) -> None:
        name = _REASONS.get(reason, f"reason {reason}")
        self.counters.refused[name] = self.counters.refused.get(name, 0) + 1
        self.counters.last_refusal = name
        lane.retry[row.id] = row
        opts = self.options
        lane.retry_delay_s = min(max(lane.retry_delay_s * 2, opts.retry_min_s), opts.retry_max_s)
        lane.retry_at = now + lane.retry_delay_s
        if asset not in self._refusing:
            self._refusing.add(asset)
            log.warning("%s: the broker refused message %d (%s: %s); it stays spooled and is "
                        "sent again in %.1f s", asset, row.id, row.kind, name,
                        lane.retry_delay_s)
            self._changed(asset)

    def _apply_receipts(self) -> None:
        receipts: list[tuple[str, Receipt]] = []
        while self._receipts:
            asset, payload = self._receipts.popleft()
            try:
                receipts.append((asset, decode_receipt(payload)))
            except WireError as e:
                log.warning("%s: ignoring a malformed receipt: %s", asset, e)
        if not receipts:
            return
        gone = self.spool.confirm((a, r.seqs, r.events) for a, r in receipts)
        ids: dict[str, set[int]] = {}
        for asset, row_id, kind, readings in gone:
            self._delivered(kind, readings)
            ids.setdefault(asset, set()).add(row_id)
        for asset, receipt in receipts:
            self.counters.dead_lettered += receipt.dead_letters
            lane = self._lanes.get(asset)
            if lane is not None:
                lane.timeout_s = self.options.confirm_timeout_s  # the server confirms again
        for asset, done in ids.items():
            lane = self._lanes.get(asset)
            if lane is None:
                continue
            for i in done:
                lane.unconfirmed.pop(i, None)
                lane.retry.pop(i, None)
            if done & {row.id for row in lane.inflight.values()}:  # receipt before PUBACK
                lane.inflight = {m: r for m, r in lane.inflight.items() if r.id not in done}

    def _delivered(self, kind: str, readings: int) -> None:
        self.counters.messages += 1
        if kind == "telemetry":
            self.counters.batches += 1
            self.counters.readings += readings

    def _expire(self, asset: str, lane: _Lane, now: float) -> None:
        """Queue for re-sending what the server has not confirmed within the timeout."""
        if not lane.unconfirmed:
            return
        late = [i for i, (_, sent) in lane.unconfirmed.items() if now - sent > lane.timeout_s]
        if not late:
            return
        for i in late:
            lane.retry[i] = lane.unconfirmed.pop(i)[0]
        log.warning("%s: %d messages not confirmed by the server within %.0f s; sending them "
                    "again", asset, len(late), lane.timeout_s)
        self.counters.resent += len(late)
        lane.timeout_s = min(lane.timeout_s * 2, self.options.confirm_timeout_max_s)

    def _changed(self, asset: str) -> None:
        self._save_counters(force=True)
        if self.on_change is not None:
            self.on_change(asset)

    def _save_counters(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._saved_at >= _SAVE_EVERY_S:
            self._saved_at = now
            self.spool.set_meta("delivery", self.counters.as_json())

    # -- sending ------------------------------------------------------------------------
    def _durable_id(self) -> int:
        """The highest outbox id on stable storage, syncing the spool at most once a round
        and only when something newer than the last sync is wanted."""
        if not self._synced and self.spool.last_id > self._durable:
            self._durable = self.spool.make_durable()
            self._synced = True
        return self._durable

    def _fill(self, link: AssetLink, lane: _Lane, now: float) -> None:
        if lane.retry and now < lane.retry_at:
            return  # refused a moment ago: the lane waits out its back-off
        free = min(self.options.window - len(lane.inflight),
                   self.options.confirm_window - lane.outstanding)
        if free <= 0:
            return
        # While the broker refuses, one message probes at each back-off step; once one is
        # taken, the rest follow.
        again = [lane.retry[i] for i in sorted(lane.retry)[:1 if lane.retry_delay_s else free]]
        if again:
            for row in again:
                del lane.retry[row.id]
            if lane.retry_delay_s:
                lane.retry_at = now + lane.retry_delay_s  # the next probe, if this one fails
            if not self._send(link, lane, again):
                return
            free -= len(again)
            if free <= 0 or lane.retry:
                return
        rows = self._next_rows(link.asset_tag, lane, free)
        self._send(link, lane, rows)

    def _send(self, link: AssetLink, lane: _Lane, rows: list[OutboxRow]) -> bool:
        """Publish ``rows``; False when the link dropped (the lane is rebuilt next round)."""
        for row in rows:
            sent = link.publish(row.kind, row.payload, row.retain)
            if sent is None:
                return False  # disconnected: everything is sent again on the next connection
            generation, mid = sent
            if generation != lane.generation:
                return False
            lane.inflight[mid] = row
            if row.id <= lane.live_mark:
                lane.back_cursor = max(lane.back_cursor, row.id)
            else:
                lane.live_cursor = max(lane.live_cursor, row.id)
        return True

    def _next_rows(self, asset: str, lane: _Lane, free: int) -> list[OutboxRow]:
        """Up to ``free`` rows not sent yet on this connection: backlog and live shares."""
        backlog_left = lane.back_cursor < lane.live_mark
        k_back = 0
        if backlog_left:
            # Weighted round robin across rounds: the backlog earns ``backfill_share`` of a
            # slot per free slot, so even a window of one alternates between the lanes.
            lane.credit += free * self.options.backfill_share
            k_back = max(0, min(free, int(lane.credit)))
            lane.credit -= k_back
        durable = self._durable_id()
        live = self.spool.fetch(asset, lane.live_cursor, durable, free - k_back)
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
                    live += self.spool.fetch(asset, after, durable, more)
            rows.extend(back)
        rows.extend(live)
        return rows
