"""Status and event messages into records: online state, installed base and asset events.

Birth and death messages set ``asset.online`` (a message older than the last state change is
ignored, so a redelivered death cannot undo a newer birth). A birth also keeps the installed
base over time, and a ``part_replaced`` event changes its component, both through
:mod:`assetwatch.core.installed_base` (the one writer, shared with ticket closing; its rules:
idempotent, older changes ignored, new component types registered, unknown part numbers kept
as NULL with a warning, warranty from the part's master data). Events are stored once per
``event_id``. What a birth says of the agent's remote configuration (``detail.config``:
accepted or rejected with the reason, the hash of the document in force) is kept in
``asset_config_reported`` next to the desired configuration.

All functions run inside the caller's transaction. The installed-base writer takes the
asset's lock; a caller that applies records of several assets takes their locks up front,
before locking any row of theirs (the batch writer does), to keep one global lock order.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.core.installed_base import apply_birth, replace_component
from assetwatch.core.locks import lock_installed_base
from assetwatch.core.wire import AssetEvent, AssetStatus

__all__ = ["apply_event", "apply_status"]


def _at(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def apply_status(cur: psycopg.Cursor, asset_id: int, status: AssetStatus) -> None:
    """Record a birth or death message of one asset."""
    lock_installed_base(cur, [asset_id])
    at = _at(status.ts_ms)
    cur.execute(
        "UPDATE asset SET online = %s, status_changed_at = %s,"
        " last_seen_at = greatest(last_seen_at, %s)"
        " WHERE asset_id = %s AND (status_changed_at IS NULL OR status_changed_at <= %s)",
        (status.state == "online", at, at, asset_id, at),
    )
    if status.state == "online":
        apply_birth(cur, asset_id, at, firmware=status.firmware,
                    agent_version=status.agent_version, config_hash=status.config_hash,
                    components=status.components)
        _record_reported_config(cur, asset_id, at, status)


def _record_reported_config(cur: psycopg.Cursor, asset_id: int, at: datetime,
                            status: AssetStatus) -> None:
    """Keep what the agent says of its remote configuration (``detail.config``): accepted or
    rejected with the reason, and the hash of the document in force; an older birth than the
    one recorded changes nothing."""
    config = status.detail.get("config")
    if not isinstance(config, dict):
        return
    state, reason, active = config.get("state"), config.get("reason"), config.get("active_hash")
    cur.execute(
        "INSERT INTO asset_config_reported (asset_id, reported_at, state, reason, active_hash,"
        " config_hash) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (asset_id) DO UPDATE SET reported_at = EXCLUDED.reported_at,"
        " state = EXCLUDED.state, reason = EXCLUDED.reason,"
        " active_hash = EXCLUDED.active_hash, config_hash = EXCLUDED.config_hash"
        " WHERE asset_config_reported.reported_at <= EXCLUDED.reported_at",
        (asset_id, at, str(state or "unknown")[:32], None if reason is None else str(reason)[:1000],
         None if active is None else str(active)[:64], status.config_hash))


def apply_event(cur: psycopg.Cursor, asset_id: int, event: AssetEvent) -> bool:
    """Store an event once (by ``event_id``); True when it was new."""
    lock_installed_base(cur, [asset_id])
    at = _at(event.ts_ms)
    row = cur.execute(
        "INSERT INTO asset_event (event_id, asset_id, time, kind, component_type, part_no,"
        " serial_removed, serial_installed, code, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
        (event.event_id, asset_id, at, event.kind, event.component_type, event.part_no,
         event.serial_removed, event.serial_installed, event.code, Jsonb(event.detail)),
    ).fetchone()
    if row is None:
        return False
    if event.kind == "part_replaced" and event.component_type and event.serial_installed:
        replace_component(cur, asset_id, event.component_type, event.serial_installed,
                          event.part_no, at)
    return True
