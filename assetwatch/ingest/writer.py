"""The batch writer: one transaction per group of messages, exactly once per (asset, seq).

For each group the writer, in ONE transaction:

1. looks up the assets the messages name (cached in memory once found);
2. inserts one ledger row per telemetry batch into ``ingest_batch`` with ``ON CONFLICT DO
   NOTHING RETURNING``: only batches that come back are new; a redelivered or replayed batch
   (same asset and seq) is a no-op;
3. registers sensors seen for the first time (see the policy below);
4. writes the readings of the new batches with one binary ``COPY`` into ``telemetry``;
5. applies status and event messages (:mod:`assetwatch.ingest.records`);
6. stores every rejected message in ``dead_letter`` (topic, raw payload, reason, time).

The caller acknowledges the group's MQTT messages only after :meth:`BatchWriter.write` returns,
that is after the commit, so a crash at any point re-delivers rather than loses, and the
ledger makes the re-delivery harmless.

Policy for what the registry does not know
------------------------------------------
* **Unknown asset tag**: the message is dead-lettered with reason ``unknown asset '<tag>'``.
  Register the asset (``assetwatch.core.registry.register_fleet``), then
  ``assetwatch ingest replay-dead-letters`` ingests it, exactly once.
* **Topic site differs from the asset's registered site**: dead-lettered with a reason.
* **Unknown sensor on a known asset**: registered on first sight in ``sensor``, with the unit
  of the asset model's ``model_sensor`` row when there is one (else no unit).

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

import numpy as np
import psycopg

from assetwatch.core.wire import AssetStatus
from assetwatch.ingest.columns import ColumnBatch
from assetwatch.ingest.inbound import Inbound
from assetwatch.ingest.records import apply_event, apply_status
from assetwatch.ingest.rows import COPY_TELEMETRY, encode_telemetry

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
    ``reasons`` (the dead-letter reason or None), and totals."""

    outcomes: list[str] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)
    batches: int = 0
    duplicates: int = 0
    readings: int = 0
    dead_letters: int = 0
    records: int = 0

    def merge(self, other: GroupResult) -> None:
        self.outcomes += other.outcomes
        self.reasons += other.reasons
        self.batches += other.batches
        self.duplicates += other.duplicates
        self.readings += other.readings
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
        self._sensors: dict[int, dict[str, int]] = {}

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
        dead: list[tuple[Inbound, str]] = []
        batches: list[tuple[int, AssetRef, ColumnBatch]] = []
        records: list[tuple[int, AssetRef]] = []
        new_sensors: dict[int, dict[str, int]] = {}
        with self.conn.transaction(), self.conn.cursor() as cur:
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
                        batches.append((i, ref, message.body))
                    else:
                        records.append((i, ref))
                if reason is not None:
                    dead.append((message, reason))
                    result.outcomes[i], result.reasons[i] = DEAD, reason
            if batches:
                self._write_batches(cur, group, batches, result, new_sensors)
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
        for asset_id, names in new_sensors.items():
            self._sensors.setdefault(asset_id, {}).update(names)
        return result

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
                       result: GroupResult, new_sensors: dict[int, dict[str, int]]) -> None:
        # (index in group, asset_id, batch), in one lock order for every worker
        todo = sorted(((i, ref.asset_id, b) for i, ref, b in batches),
                      key=lambda c: (c[1], c[2].seq))
        new = self._insert_ledger(cur, group, todo)
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
        sensor_ids = self._sensor_ids(cur, fresh, new_sensors)
        counts = [len(b) for _, _, b in fresh]
        sensor_col = np.concatenate([b.sensor_ids(sensor_ids[a]) for _, a, b in fresh])
        asset_col = np.repeat(np.array([a for _, a, _ in fresh], dtype=np.int32), counts)
        with cur.copy(COPY_TELEMETRY) as copy:
            copy.write(encode_telemetry(np.concatenate([b.ts_ms for _, _, b in fresh]),
                                        asset_col, sensor_col,
                                        np.concatenate([b.values for _, _, b in fresh])))
        last_seen: dict[int, float] = {}
        for i, asset_id, _ in fresh:
            last_seen[asset_id] = max(last_seen.get(asset_id, 0.0), group[i].received_at)
        ids = sorted(last_seen)
        cur.execute(
            "UPDATE asset SET last_seen_at = greatest(asset.last_seen_at, v.seen)"
            " FROM unnest(%s::int4[], %s::timestamptz[]) AS v(asset_id, seen)"
            " WHERE asset.asset_id = v.asset_id",
            (ids, [_at(last_seen[a]) for a in ids]),
        )
        result.batches += len(fresh)
        result.readings += sum(counts)

    def _insert_ledger(self, cur: psycopg.Cursor, group: Sequence[Inbound],
                       todo: list[tuple[int, int, ColumnBatch]]) -> set[tuple[int, int]]:
        rows = cur.execute(
            "INSERT INTO ingest_batch (asset_id, seq, readings, first_reading_at,"
            " last_reading_at, received_at, committed_at)"
            " SELECT v.*, clock_timestamp() FROM unnest(%s::int4[], %s::int8[], %s::int4[],"
            " %s::timestamptz[], %s::timestamptz[], %s::timestamptz[]) AS v"
            " ON CONFLICT (asset_id, seq) DO NOTHING RETURNING asset_id, seq",
            (
                [a for _, a, _ in todo],
                [b.seq for _, _, b in todo],
                [len(b) for _, _, b in todo],
                [_at(int(b.ts_ms.min()) / 1000) for _, _, b in todo],
                [_at(int(b.ts_ms.max()) / 1000) for _, _, b in todo],
                [_at(group[i].received_at) for i, _, _ in todo],
            ),
        ).fetchall()
        return {(r[0], r[1]) for r in rows}

    def _sensor_ids(self, cur: psycopg.Cursor, fresh: list[tuple[int, int, ColumnBatch]],
                    new_sensors: dict[int, dict[str, int]]) -> dict[int, dict[str, int]]:
        """``asset_id -> {sensor name -> sensor_id}`` for every sensor of ``fresh`` batches."""
        missing: set[tuple[int, str]] = set()
        for _, asset_id, batch in fresh:
            known = self._sensors.get(asset_id, {})
            missing.update((asset_id, n) for n in set(batch.sensors) if n not in known)
        ids = {asset_id: self._sensors.get(asset_id, {}) for _, asset_id, _ in fresh}
        if missing:
            ids = {asset_id: dict(names) for asset_id, names in ids.items()}
            asset_col, name_col = zip(*sorted(missing), strict=True)
            args = (list(asset_col), list(name_col))
            cur.execute(
                "INSERT INTO sensor (asset_id, name, unit)"
                " SELECT v.asset_id, v.name, ms.unit"
                " FROM unnest(%s::int4[], %s::text[]) AS v(asset_id, name)"
                " JOIN asset a ON a.asset_id = v.asset_id"
                " LEFT JOIN model_sensor ms ON ms.model_id = a.model_id AND ms.sensor = v.name"
                " ORDER BY v.asset_id, v.name"
                " ON CONFLICT (asset_id, name) DO NOTHING", args)
            for asset_id, name, sensor_id in cur.execute(
                "SELECT s.asset_id, s.name, s.sensor_id FROM sensor s"
                " JOIN unnest(%s::int4[], %s::text[]) AS v(asset_id, name)"
                " ON s.asset_id = v.asset_id AND s.name = v.name", args
            ):
                ids[asset_id][name] = sensor_id
                new_sensors.setdefault(asset_id, {})[name] = sensor_id
        return ids

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
