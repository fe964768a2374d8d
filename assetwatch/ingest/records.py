"""Status and configuration records: online state, installed base and asset events.

Birth and death messages set ``asset.online`` (a message older than the last state change is
ignored, so a redelivered death cannot undo a newer birth). A birth also keeps the installed
base over time: when firmware, agent version or config hash change, the current
``asset_configuration`` row is closed at the message's time and a new one opened; when a
component's serial changes, the same happens to its ``installed_component`` row. A
``part_replaced`` event does the same for its component. Component types seen for the first
time are registered; a part number not in the ``part`` table is kept as NULL (the event keeps
the raw value); the warranty end comes from the part's ``warranty_months``.

All functions run inside the caller's transaction and take the asset's installed-base lock
(:func:`assetwatch.core.locks.lock_installed_base`) first, so two workers (or a worker and a
closed service ticket) never change one asset's records at the same time. A caller that
applies records of several assets takes their locks up front, before locking any row of
theirs (the batch writer does), to keep one global lock order.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.core.locks import lock_installed_base
from assetwatch.core.wire import AssetEvent, AssetStatus

__all__ = ["apply_event", "apply_status", "replace_component"]

log = logging.getLogger(__name__)


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
    if status.state != "online":
        return
    _update_configuration(cur, asset_id, status, at)
    for component in status.components:
        serial = component.get("serial_no")
        if serial:
            replace_component(cur, asset_id, component["component_type"], serial,
                              component.get("part_no"), at)


def _update_configuration(cur: psycopg.Cursor, asset_id: int, status: AssetStatus,
                          at: datetime) -> None:
    new = (status.firmware, status.agent_version, status.config_hash)
    current = cur.execute(
        "SELECT configuration_id, firmware, agent_version, config_hash, valid_from"
        " FROM asset_configuration WHERE asset_id = %s AND valid_to IS NULL FOR UPDATE",
        (asset_id,),
    ).fetchone()
    if current is not None:
        if tuple(current[1:4]) == new:
            return
        if current[4] >= at:
            log.info("asset %s: configuration from %s is older than the current one", asset_id, at)
            return
        cur.execute("UPDATE asset_configuration SET valid_to = %s WHERE configuration_id = %s",
                    (at, current[0]))
    cur.execute(
        "INSERT INTO asset_configuration (asset_id, firmware, agent_version, config_hash,"
        " valid_from) VALUES (%s, %s, %s, %s, %s)",
        (asset_id, *new, at),
    )


def replace_component(cur: psycopg.Cursor, asset_id: int, component_type: str, serial_no: str,
                      part_no: str | None, at: datetime) -> bool:
    """Make ``serial_no`` the installed component of its type from ``at``; True if changed.

    The current row is closed at ``at``; nothing changes when the serial is already installed
    or when ``at`` is older than the current row's start.
    """
    lock_installed_base(cur, [asset_id])
    cur.execute("INSERT INTO component_type (component_type) VALUES (%s)"
                " ON CONFLICT (component_type) DO NOTHING", (component_type,))
    current = cur.execute(
        "SELECT installed_id, serial_no, valid_from FROM installed_component"
        " WHERE asset_id = %s AND component_type = %s AND valid_to IS NULL FOR UPDATE",
        (asset_id, component_type),
    ).fetchone()
    if current is not None:
        if current[1] == serial_no:
            return False
        if current[2] > at:
            log.info("asset %s: %s change at %s is older than the installed one", asset_id,
                     component_type, at)
            return False
        cur.execute("UPDATE installed_component SET valid_to = %s WHERE installed_id = %s",
                    (at, current[0]))
    cur.execute(
        "INSERT INTO installed_component (asset_id, component_type, serial_no, part_no,"
        " valid_from, warranty_end)"
        " SELECT %s, %s, %s, p.part_no, %s,"
        "  CASE WHEN p.warranty_months > 0"
        "   THEN (%s::timestamptz + make_interval(months => p.warranty_months))::date END"
        " FROM (SELECT 1) AS one LEFT JOIN part p ON p.part_no = %s",
        (asset_id, component_type, serial_no, at, at, part_no),
    )
    return True


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
