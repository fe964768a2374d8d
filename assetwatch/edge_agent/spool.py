"""The durable spool: an SQLite database in WAL mode between the source and the broker.

Tables

``journal``
    Readings sampled but not yet sealed into a batch (one row per asset and poll). A reading
    is written here in the same transaction as the source's checkpoint, right after it was
    sampled, before anything is published.
``outbox``
    Sealed messages waiting to be delivered, in ``id`` order: telemetry batches (with their
    ``seq``), events (with their ``event_id``) and status messages, each as its encoded
    payload. A telemetry or event row is deleted when the server's commit receipt names it
    (:meth:`Spool.confirm`); a status row, or any row when the agent confirms on the broker's
    PUBACK, when the broker acknowledged it (:meth:`Spool.acknowledge`).
``asset_seq``
    The next batch ``seq`` of every asset. It is assigned when a batch is sealed, in the same
    transaction as the outbox row, so a batch re-sent after a crash carries the same ``seq``
    and the same readings. An asset's first ``seq`` in a new spool is the spool's
    ``seq_base``: its creation time in seconds times 2^20. So ``seq`` keeps increasing by
    one per batch, and stays increasing when a gateway's spool is replaced by a new one (a
    new disk, a reinstalled gateway): the server's (asset, seq) ledger never mistakes the new
    spool's batches for repeats of the old one's.
``meta``
    The source checkpoint, accepted remote configurations, counters of dropped readings.

Durability (``sync``): with ``"normal"`` (``PRAGMA synchronous=NORMAL``, the default) every
committed transaction survives a crash or ``kill -9`` of the agent; after a power loss the
database is consistent but the transactions of the last moments (since the WAL was last
synced, at most the WAL auto-checkpoint interval) may be rolled back: their readings are not
acknowledged to anyone and a replayable source re-produces them from the older checkpoint.
With ``"full"`` (``synchronous=FULL``) every commit is fsynced and survives power loss too,
at the cost of one fsync per poll. In both modes a row is published only after
:meth:`Spool.make_durable` put it on stable storage, so a ``seq`` seen by the server is never
re-assigned to other readings after a power loss.

Memory stays bounded whatever the backlog: the publisher pages through the outbox by ``id``
and SQLite's page cache is limited to a few megabytes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from assetwatch.core.wire import TelemetryBatch, encode_batch

__all__ = ["OutboxRow", "SealedBatch", "Spool", "SpoolMessage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, asset TEXT NOT NULL, readings TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, asset TEXT NOT NULL, kind TEXT NOT NULL,
    seq INTEGER, readings INTEGER NOT NULL, retain INTEGER NOT NULL, payload BLOB NOT NULL,
    event_id TEXT);
CREATE INDEX IF NOT EXISTS outbox_by_asset ON outbox (asset, id);
CREATE TABLE IF NOT EXISTS asset_seq (asset TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: Made after the tables exist, so that a spool written by an older agent gets its column first.
_INDEXES = """
CREATE INDEX IF NOT EXISTS outbox_by_seq ON outbox (asset, seq) WHERE seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_by_event ON outbox (asset, event_id) WHERE event_id IS NOT NULL;
"""

Reading = list  # [ts_ms, sensor, value]


@dataclass(frozen=True, slots=True)
class SealedBatch:
    """Readings of one asset closed into a batch; the spool gives it its ``seq``."""

    asset: str
    readings: list[Reading]


@dataclass(frozen=True, slots=True)
class SpoolMessage:
    """A non-telemetry message to publish in order: an event (with its ``event_id``) or a
    status."""

    asset: str
    kind: str
    payload: bytes
    retain: bool = False
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message read back from the outbox for publishing."""

    id: int
    asset: str
    kind: str
    seq: int | None
    readings: int
    retain: bool
    payload: bytes
    event_id: str | None = None


class Spool:
    """The agent's on-disk spool; thread-safe (one connection, one lock).

    Parameters
    ----------
    path
        The SQLite file (created with its directory).
    sync
        ``"normal"`` or ``"full"``; see the module docstring for what each survives.
    """

    def __init__(self, path: Path | str, sync: str = "normal") -> None:
        if sync not in ("normal", "full"):
            raise ValueError("sync must be 'normal' or 'full'")
        self.path = Path(path)
        self.sync = sync
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None,
                                   check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={sync.upper()}")
        self._db.execute("PRAGMA cache_size=-2048")
        self._db.executescript(_SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(outbox)")}
        if "event_id" not in columns:  # a spool of an agent before commit receipts
            self._db.execute("ALTER TABLE outbox ADD COLUMN event_id TEXT")
        self._db.executescript(_INDEXES)
        row = self._db.execute(
            "SELECT count(*), coalesce(sum(length(payload)), 0), coalesce(sum(readings), 0)"
            " FROM outbox").fetchone()
        self.messages, self.bytes, self.readings = int(row[0]), int(row[1]), int(row[2])
        self.journal_bytes = int(self._db.execute(
            "SELECT coalesce(sum(length(readings)), 0) FROM journal").fetchone()[0])
        base = self._db.execute("SELECT value FROM meta WHERE key = 'seq_base'").fetchone()
        if base is None:
            base = (str(int(time.time()) << 20),)
            self._db.execute("INSERT INTO meta (key, value) VALUES ('seq_base', ?)", base)
        #: The first ``seq`` of an asset in this spool.
        self.seq_base = int(base[0])
        #: The highest outbox id ever committed (ids are never reused: AUTOINCREMENT).
        self.last_id = int(self._db.execute(
            "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'"
        ).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (key, value))

    # -- journal ----------------------------------------------------------------------
    def load_journal(self) -> dict[str, list[Reading]]:
        """Readings sampled but not yet sealed, per asset, in sampling order."""
        journal: dict[str, list[Reading]] = {}
        with self._lock:
            for asset, text in self._db.execute(
                    "SELECT asset, readings FROM journal ORDER BY id"):
                journal.setdefault(asset, []).extend(json.loads(text))
        return journal

    # -- sealing ----------------------------------------------------------------------
    def commit(self, *, appended: Mapping[str, Sequence[Reading]] = {},
               sealed: Sequence[SealedBatch] = (),
               reopened: Mapping[str, Sequence[Reading]] = {},
               messages: Sequence[SpoolMessage] = (),
               checkpoint: str | None = None) -> int:
        """One transaction: journal new readings, seal batches, queue messages, checkpoint.

        ``appended`` adds readings to the journal of assets that sealed nothing; for an
        asset that sealed, ``reopened`` replaces its whole journal with the readings still
        open after the seal. Sealed batches get the asset's next ``seq``; events and status
        ``messages`` are queued after them. Returns the number of outbox rows added.
        """
        added_bytes = added_readings = 0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for asset, readings in appended.items():
                    if readings:
                        text = json.dumps(readings, separators=(",", ":"))
                        db.execute("INSERT INTO journal (asset, readings) VALUES (?, ?)",
                                   (asset, text))
                        self.journal_bytes += len(text)
                seqs: dict[str, int] = {}
                rows: list[tuple[str, str, int | None, int, int, bytes, str | None]] = []
                for batch in sealed:
                    seq = seqs.get(batch.asset)
                    if seq is None:
                        found = db.execute("SELECT next_seq FROM asset_seq WHERE asset = ?",
                                           (batch.asset,)).fetchone()
                        seq = int(found[0]) if found else self.seq_base
                    # Readings are lists (as read back from JSON); they encode like tuples.
                    payload = encode_batch(TelemetryBatch(
                        batch.asset, seq, batch.readings))  # type: ignore[arg-type]
                    seqs[batch.asset] = seq + 1
                    rows.append((batch.asset, "telemetry", seq, len(batch.readings), 0, payload,
                                 None))
                    added_bytes += len(payload)
                    added_readings += len(batch.readings)
                db.executemany("INSERT OR REPLACE INTO asset_seq (asset, next_seq) VALUES (?, ?)",
                               list(seqs.items()))
                for asset, readings in reopened.items():
                    db.execute("DELETE FROM journal WHERE asset = ?", (asset,))
                    if readings:
                        text = json.dumps(readings, separators=(",", ":"))
                        db.execute("INSERT INTO journal (asset, readings) VALUES (?, ?)",
                                   (asset, text))
                for m in messages:
                    rows.append((m.asset, m.kind, None, 0, int(m.retain), m.payload,
                                 m.event_id))
                    added_bytes += len(m.payload)
                db.executemany("INSERT INTO outbox (asset, kind, seq, readings, retain, payload,"
                               " event_id) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                last = db.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence"
                                  " WHERE name = 'outbox'").fetchone()[0] if rows else None
                if checkpoint is not None:
                    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               ("source_checkpoint", checkpoint))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if reopened:
                self.journal_bytes = int(db.execute(
                    "SELECT coalesce(sum(length(readings)), 0) FROM journal").fetchone()[0])
            if last is not None:
                self.last_id = int(last)
            self.messages += len(rows)
            self.bytes += added_bytes
            self.readings += added_readings
        return len(rows)

    # -- publishing -------------------------------------------------------------------
    def make_durable(self) -> int:
        """Put every committed transaction on stable storage; return the highest outbox id
        that is now durable.

        The publisher sends only durable rows. With ``sync="normal"`` a power loss may roll
        back recent commits; were such a batch already published, the source would re-produce
        its readings and a new batch could get the same ``seq`` with other readings. Syncing
        the WAL before publishing (one fsync per publishing round, not per commit) rules that
        out; with ``sync="full"`` every commit is synced already.
        """
        with self._lock:
            mark = self.last_id
        if self.sync == "normal":
            for name in (f"{self.path}-wal", str(self.path)):
                try:
                    fd = os.open(name, os.O_RDONLY)
                except FileNotFoundError:
                    continue
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        return mark

    def pending(self, assets: Iterable[str]) -> int:
        """Outbox rows waiting for these assets."""
        assets = list(assets)
        with self._lock:
            return sum(int(self._db.execute("SELECT count(*) FROM outbox WHERE asset = ?",
                                            (a,)).fetchone()[0]) for a in assets)

    def max_id(self, asset: str) -> int:
        """The id of the newest outbox row of ``asset`` (0 if none)."""
        with self._lock:
            row = self._db.execute("SELECT max(id) FROM outbox WHERE asset = ?",
                                   (asset,)).fetchone()
        return int(row[0] or 0)

    def fetch(self, asset: str, after_id: int, upto_id: int | None, limit: int
              ) -> list[OutboxRow]:
        """Up to ``limit`` outbox rows of ``asset`` with ``after_id < id <= upto_id``."""
        if limit <= 0:
            return []
        upper = upto_id if upto_id is not None else 2**62
        with self._lock:
            rows = self._db.execute(
                "SELECT id, asset, kind, seq, readings, retain, payload, event_id FROM outbox"
                " WHERE asset = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
                (asset, after_id, upper, limit)).fetchall()
        return [OutboxRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in rows]

    def acknowledge(self, ids: Iterable[int]) -> int:
        """Delete acknowledged rows (already dropped rows are ignored); return how many."""
        ids = list(ids)
        if not ids:
            return 0
        gone = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for i in ids:
                    row = self._db.execute(
                        "DELETE FROM outbox WHERE id = ? RETURNING length(payload), readings",
                        (i,)).fetchone()
                    if row is not None:
                        gone += 1
                        self.bytes -= int(row[0])
                        self.readings -= int(row[1])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self.messages -= gone
        return gone

    def confirm(self, receipts: Iterable[tuple[str, Iterable[int], Iterable[str]]]
                ) -> list[tuple[str, int, str, int]]:
        """Delete the rows that commit receipts name, in one transaction: for each
        ``(asset, seqs, event_ids)``, telemetry rows by ``seq`` and events by ``event_id``.
        Returns ``(asset, id, kind, readings)`` of each row deleted; rows already gone (an
        earlier receipt for a re-sent copy) are ignored."""
        gone: list[tuple[str, int, str, int]] = []
        freed = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for asset, seqs, event_ids in receipts:
                    found = [*(self._db.execute(
                        "DELETE FROM outbox WHERE asset = ? AND seq = ?"
                        " RETURNING id, kind, readings, length(payload)", (asset, seq)).fetchone()
                        for seq in seqs), *(self._db.execute(
                        "DELETE FROM outbox WHERE asset = ? AND event_id = ?"
                        " RETURNING id, kind, readings, length(payload)",
                        (asset, event_id)).fetchone() for event_id in event_ids)]
                    for row in found:
                        if row is not None:
                            gone.append((asset, int(row[0]), str(row[1]), int(row[2])))
                            freed += int(row[3])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self.bytes -= freed
            self.readings -= sum(n for _, _, _, n in gone)
            self.messages -= len(gone)
        return gone

    def drop_oldest(self, target_bytes: int) -> int:
        """Delete the oldest telemetry batches until the outbox holds ``target_bytes`` at
        most; return the number of readings dropped (events and status are kept)."""
        dropped = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                while self.bytes + self.journal_bytes > target_bytes:
                    rows = self._db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
                        " WHERE kind = 'telemetry' ORDER BY id LIMIT 1)"
                        " RETURNING length(payload), readings").fetchall()
                    if not rows:
                        break
                    for size, n in rows:
                        self.bytes -= int(size)
                        self.readings -= int(n)
                        dropped += int(n)
                    self.messages -= len(rows)
                row = self._db.execute(
                    "SELECT value FROM meta WHERE key = 'dropped_readings'").fetchone()
                total = int(row[0]) if row else 0
                self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                                 ("dropped_readings", str(total + dropped)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return dropped

    def per_asset(self) -> list[tuple[str, int, int, int | None]]:
        """``(asset, messages waiting, readings waiting, next seq)`` of every known asset."""
        with self._lock:
            waiting = {a: (int(m), int(r)) for a, m, r in self._db.execute(
                "SELECT asset, count(*), sum(readings) FROM outbox GROUP BY asset")}
            seqs = dict(self._db.execute("SELECT asset, next_seq FROM asset_seq").fetchall())
        return [(a, *waiting.get(a, (0, 0)), seqs.get(a))
                for a in sorted(set(waiting) | set(seqs))]

    @property
    def size_bytes(self) -> int:
        """Bytes of payload waiting (outbox) plus journaled readings."""
        return self.bytes + self.journal_bytes
