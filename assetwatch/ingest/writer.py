"""The batch writer: one transaction per group of messages, exactly once per reading.

For each group the writer, in ONE transaction:

1. looks up the assets the messages name (cached in memory once found) and checks every
   telemetry batch's sensors against its asset model (see the policy below);
2. takes the installed-base lock of every asset with status or event messages in the group
   (:func:`assetwatch.core.locks.lock_installed_base`), before touching any of its rows;
3. inserts one ledger row per telemetry batch into ``ingest_batch`` with ``ON CONFLICT DO
   NOTHING RETURNING``: only batches that come back are new; a redelivered or replayed batch
   (same asset and seq) is a no-op;
4. registers the asset's sensors seen for the first time (declared by its model);
5. stores the readings of the new batches once each (:mod:`assetwatch.ingest.readings`:
   binary ``COPY``; a reading already stored, by key ``(asset, time, sensor)``, is skipped and
   counted in the batch's ``duplicate_readings``);
6. applies status and event messages (:mod:`assetwatch.ingest.records`);
7. stores every rejected message in ``dead_letter`` (topic, raw payload, reason, time).

The caller acknowledges the group's MQTT messages only after :meth:`BatchWriter.write` returns,
that is after the commit, so a crash at any point re-delivers rather than loses, and the
ledger makes the re-delivery harmless.

Policy for what the registry does not know
------------------------------------------
* **Unknown asset tag**: the message is dead-lettered with reason ``unknown asset '<tag>'``.
  Register the asset (``assetwatch.core.asset_registry.register_fleet``), then
  ``assetwatch ingest replay-dead-letters`` ingests it, exactly once.
* **Topic site differs from the asset's registered site**: dead-lettered with a reason.
* **Sensor the asset's model does not declare** (``model_sensor``): the whole message is
  dead-lettered with a reason naming the sensors, unless the model has
  ``allow_new_sensors`` (then the sensor is registered on first sight, without a unit).
  Declare the sensor, then replay the dead letters.

Errors: connection failures and transaction conflicts (``psycopg.OperationalError``) are
raised so the caller can reconnect and retry the same group. Any other database error makes
the writer retry the group message by message; a message the database still refuses is
dead-lettered with the database's reason, so one bad message never stalls the stream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg

from assetwatch.core.locks import lock_installed_base
from assetwatch.core.wire import AssetStatus
from assetwatch.ingest.columns import ColumnBatch
from assetwatch.ingest.inbound import Inbound
from assetwatch.ingest.readings import NewBatch, store_readings
from assetwatch.ingest.records import apply_event, apply_status
from assetwatch.ingest.sensors import SensorCatalog, undeclared_reason

__all__ = ["AssetRef", "BatchWriter", "GroupResult"]

log = logging.getLogger(__name__)

STORED, DUPLICATE, DEAD = "stored", "duplicate", "dead_letter"

#: Called inside the transaction after the group was applied (used by dead-letter replay).
WithinTransaction = Callable[[psycopg.Cursor, Sequence[Inbound], "GroupResult"], None]


@dataclass(frozen=True, slots=True)
class AssetRef:
    asset_id: int
    site_id: str
    model_id: str


@dataclass(slots=True)
class GroupResult:
    """What became of a group: per message ``outcomes`` (stored/duplicate/dead_letter) and
    ``reasons`` (the dead-letter reason or None), and totals: ``batches`` new and
    ``duplicates`` repeated batches, ``readings`` stored and ``duplicate_readings`` of new
    batches not stored because already stored."""

    outcomes: list[str] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)
    batches: int = 0
    duplicates: int = 0
    readings: int = 0
    duplicate_readings: int = 0
    dead_letters: int = 0
    records: int = 0

    def merge(self, other: GroupResult) -> None:
        self.outcomes += other.outcomes
        self.reasons += other.reasons
        self.batches += other.batches
        self.duplicates += other.duplicates
        self.readings += other.readings
        self.duplicate_readings += other.duplicate_readings
        self.dead_letters += other.dead_letters
        self.records += other.records


def _text(value: str) -> str:
    """Text PostgreSQL can store: no NUL, no unpaired surrogates."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC)


class BatchWriter:
    """Writes groups of :class:`Inbound` messages through one connection.

    Parameters
    ----------
    conn:
        A connection not in autocommit mode, used by this writer alone.
    keep_dead_letters:
        Store rejected messages in ``dead_letter`` (False when replaying dead letters, whose
        rows already exist).
    """

    def __init__(self, conn: psycopg.Connection, *, keep_dead_letters: bool = True) -> None:
        self.conn = conn
        self.keep_dead_letters = keep_dead_letters
        self._assets: dict[str, AssetRef] = {}
        self._sensors = SensorCatalog()

    def write(self, group: Sequence[Inbound], within: WithinTransaction | None = None
              ) -> GroupResult:
        """Apply ``group`` in one transaction (see the module docstring); return the result."""
        try:
            return self._write_group(group, within)
        except (psycopg.OperationalError, psycopg.InterfaceError):
            raise
        except psycopg.Error as e:
            if len(group) == 1:
                return self._reject(group[0], f"database rejected: {_reason(e)}", within)
            log.warning("group of %d rejected (%s); writing its messages one by one",
                        len(group), _reason(e))
            result = GroupResult()
            for message in group:
                result.merge(self.write([message], within))
            return result

    def _reject(self, message: Inbound, reason: str, within: WithinTransaction | None
                ) -> GroupResult:
        result = GroupResult([DEAD], [reason], dead_letters=1)
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._store_dead_letters(cur, [(message, reason)])
            if within:
                within(cur, [message], result)
        return result

    def _write_group(self, group: Sequence[Inbound], within: WithinTransaction | None
                     ) -> GroupResult:
        result = GroupResult([STORED] * len(group), [None] * len(group))
        registered: dict[int, dict[str, int]] = {}
        with self.conn.transaction(), self.conn.cursor() as cur:
            dead, batches, records = self._triage(cur, group, result)
            if records:  # before any row of these assets is locked: one global lock order
                lock_installed_base(cur, (ref.asset_id for _, ref in records))
            if batches:
                self._write_batches(cur, group, batches, result, registered)
            for i, ref in records:
                body = group[i].body
                if isinstance(body, AssetStatus):
                    apply_status(cur, ref.asset_id, body)
                    result.records += 1
                elif apply_event(cur, ref.asset_id, body):  # type: ignore[arg-type]
                    result.records += 1
                else:
                    result.outcomes[i] = DUPLICATE
            if dead:
                self._store_dead_letters(cur, dead)
            result.dead_letters = len(dead)
            if within:
                within(cur, group, result)
        self._sensors.remember(registered)
        return result

    def _triage(self, cur: psycopg.Cursor, group: Sequence[Inbound], result: GroupResult
                ) -> tuple[list[tuple[Inbound, str]], list[tuple[int, AssetRef, ColumnBatch]],
                           list[tuple[int, AssetRef]]]:
        """Sort the group into dead letters (with their reason, also set in ``result``),
        telemetry batches and records (status, events), by what the registry knows."""
        dead: list[tuple[Inbound, str]] = []
        batches: list[tuple[int, AssetRef, ColumnBatch]] = []
        records: list[tuple[int, AssetRef]] = []
        assets = self._lookup_assets(cur, group)
        for i, message in enumerate(group):
            reason = message.error
            if reason is None:
                assert message.address is not None and message.body is not None
                tag, site = message.address.asset, message.address.site
                ref = assets.get(tag)
                if ref is None:
                    reason = f"unknown asset {tag!r}"
                elif ref.site_id != site:
                    reason = (f"topic site {site!r} is not the registered site "
                              f"{ref.site_id!r} of asset {tag!r}")
                elif isinstance(message.body, ColumnBatch):
                    undeclared = self._sensors.undeclared(cur, ref.asset_id, ref.model_id,
                                                          message.body.names)
                    if undeclared:
                        reason = undeclared_reason(ref.model_id, undeclared)
                    else:
                        batches.append((i, ref, message.body))
                else:
                    records.append((i, ref))
            if reason is not None:
                dead.append((message, reason))
                result.outcomes[i], result.reasons[i] = DEAD, reason
        return dead, batches, records

    def _lookup_assets(self, cur: psycopg.Cursor, group: Sequence[Inbound]
                       ) -> dict[str, AssetRef]:
        tags = {m.address.asset for m in group if m.error is None and m.address is not None}
        missing = [t for t in tags if t not in self._assets]
        if missing:
            for tag, asset_id, site_id, model_id in cur.execute(
                "SELECT asset_tag, asset_id, site_id, model_id FROM asset"
                " WHERE asset_tag = ANY(%s)", (missing,)
            ):
                self._assets[tag] = AssetRef(asset_id, site_id, model_id)
        return self._assets

    def _write_batches(self, cur: psycopg.Cursor, group: Sequence[Inbound],
                       batches: list[tuple[int, AssetRef, ColumnBatch]],
                       result: GroupResult, registered: dict[int, dict[str, int]]) -> None:
        # (index in group, asset_id, batch), in one lock order for every worker
        todo = sorted(((i, ref.asset_id, b) for i, ref, b in batches),
                      key=lambda c: (c[1], c[2].seq))
        spans = {i: (int(b.ts_ms.min()), int(b.ts_ms.max())) for i, _, b in todo}
        new = self._insert_ledger(cur, group, todo, spans)
        seen: set[tuple[int, int]] = set()
        fresh: list[tuple[int, int, ColumnBatch]] = []
        for i, asset_id, batch in todo:
            key = (asset_id, batch.seq)
            if key in new and key not in seen:
                seen.add(key)
                fresh.append((i, asset_id, batch))
            else:
                result.outcomes[i] = DUPLICATE
                result.duplicates += 1
        if not fresh:
            return
        ids = self._sensors.ids(cur, [(a, b.names) for _, a, b in fresh], registered)
        repeated = store_readings(cur, [
            NewBatch(a, b.seq, b.ts_ms, b.sensor_ids(ids[a]), b.values, b.period, spans[i])
            for i, a, b in fresh])
        if any(repeated):
            counted = [(a, b.seq, r) for (_, a, b), r in zip(fresh, repeated, strict=True) if r]
            cur.execute(
                "UPDATE ingest_batch SET duplicate_readings = v.repeated"
                " FROM unnest(%s::int4[], %s::int8[], %s::int4[]) AS v(asset_id, seq, repeated)"
                " WHERE ingest_batch.asset_id = v.asset_id AND ingest_batch.seq = v.seq",
                ([c[0] for c in counted], [c[1] for c in counted], [c[2] for c in counted]))
        last_seen: dict[int, float] = {}
        for i, asset_id, _ in fresh:
            last_seen[asset_id] = max(last_seen.get(asset_id, 0.0), group[i].received_at)
        ids_in_order = sorted(last_seen)
        cur.execute(
            "UPDATE asset SET last_seen_at = greatest(asset.last_seen_at, to_timestamp(v.seen))"
            " FROM unnest(%s::int4[], %s::float8[]) AS v(asset_id, seen)"
            " WHERE asset.asset_id = v.asset_id",
            (ids_in_order, [last_seen[a] for a in ids_in_order]),
        )
        result.batches += len(fresh)
        result.duplicate_readings += sum(repeated)
        result.readings += sum(len(b) for _, _, b in fresh) - sum(repeated)

    def _insert_ledger(self, cur: psycopg.Cursor, group: Sequence[Inbound],
                       todo: list[tuple[int, int, ColumnBatch]],
                       spans: dict[int, tuple[int, int]]) -> set[tuple[int, int]]:
        rows = cur.execute(
            "INSERT INTO ingest_batch (asset_id, seq, readings, first_reading_at,"
            " last_reading_at, received_at, committed_at)"
            " SELECT v.asset_id, v.seq, v.readings, to_timestamp(v.first_ms / 1000.0),"
            " to_timestamp(v.last_ms / 1000.0), to_timestamp(v.received), clock_timestamp()"
            " FROM unnest(%s::int4[], %s::int8[], %s::int4[], %s::int8[], %s::int8[],"
            " %s::float8[]) AS v(asset_id, seq, readings, first_ms, last_ms, received)"
            " ON CONFLICT (asset_id, seq) DO NOTHING RETURNING asset_id, seq",
            (
                [a for _, a, _ in todo],
                [b.seq for _, _, b in todo],
                [len(b) for _, _, b in todo],
                [spans[i][0] for i, _, _ in todo],
                [spans[i][1] for i, _, _ in todo],
                [group[i].received_at for i, _, _ in todo],
            ),
        ).fetchall()
        return {(r[0], r[1]) for r in rows}

    def _store_dead_letters(self, cur: psycopg.Cursor, dead: list[tuple[Inbound, str]]
                            ) -> None:
        if not self.keep_dead_letters:
            return
        cur.execute(
            "INSERT INTO dead_letter (received_at, topic, payload, reason)"
            " SELECT * FROM unnest(%s::timestamptz[], %s::text[], %s::bytea[], %s::text[])"
            " ON CONFLICT DO NOTHING",
            ([_at(m.received_at) for m, _ in dead], [_text(m.topic) for m, _ in dead],
             [m.payload for m, _ in dead], [_text(r) for _, r in dead]),
        )


def _reason(error: psycopg.Error) -> str:
    return (error.diag.message_primary or str(error) or type(error).__name__).strip()
