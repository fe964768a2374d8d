"""The installed base over time: the one writer of configuration records.

``installed_component`` holds one row per component serial and the interval it was installed
(``valid_from``/``valid_to``, open while installed); ``asset_configuration`` the firmware,
agent version and config hash over time. Ingest (birth messages and ``part_replaced``
events) and ticket closing (the technician's replacement) both change them through these
functions, inside their own transaction, with one set of rules:

* the asset's installed-base lock (:func:`assetwatch.core.locks.lock_installed_base`) is
  taken first, so two writers never race on one asset;
* a change is idempotent: a serial (or configuration) that is already the current one
  changes nothing, so a redelivered message is harmless;
* a change dated before the current record's start is older news and is ignored (logged);
  history is never rewritten out of order;
* a component type seen for the first time is registered;
* a new serial reported without a part number keeps the part number of the component it
  replaces; a part number the ``part`` table does not know is recorded as NULL, with a
  warning (the event that reported it keeps the raw value);
* the warranty ends ``warranty_months`` calendar months after installation (the part's
  master data; none when the part has no warranty), computed by PostgreSQL's calendar
  arithmetic (31 January + 1 month = 28/29 February).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from assetwatch.core.locks import lock_installed_base

__all__ = ["apply_birth", "replace_component", "update_configuration"]

log = logging.getLogger(__name__)


def replace_component(cur: Any, asset_id: int, component_type: str, serial_no: str,
                      part_no: str | None, at: datetime) -> bool:
    """Make ``serial_no`` the installed ``component_type`` of the asset from ``at``; True when
    that changed the records (see the module docstring for the rules).

    ``cur`` is a psycopg cursor or connection inside a transaction.
    """
    lock_installed_base(cur, [asset_id])
    cur.execute("INSERT INTO component_type (component_type) VALUES (%s)"
                " ON CONFLICT (component_type) DO NOTHING", (component_type,))
    current = cur.execute(
        "SELECT installed_id, serial_no, part_no, valid_from FROM installed_component"
        " WHERE asset_id = %s AND component_type = %s AND valid_to IS NULL FOR UPDATE",
        (asset_id, component_type)).fetchone()
    if current is not None:
        if current[1] == serial_no:
            return False
        if current[3] > at:
            log.info("asset %s: %s change at %s is older than the installed one; ignored",
                     asset_id, component_type, at)
            return False
        part_no = part_no or current[2]
    if part_no is not None and cur.execute(
            "SELECT 1 FROM part WHERE part_no = %s", (part_no,)).fetchone() is None:
        log.warning("asset %s: unknown part %r on %s %s; recorded without part number",
                    asset_id, part_no, component_type, serial_no)
        part_no = None
    if current is not None:
        cur.execute("UPDATE installed_component SET valid_to = %s WHERE installed_id = %s",
                    (at, current[0]))
    cur.execute(
        "INSERT INTO installed_component (asset_id, component_type, serial_no, part_no,"
        " valid_from, warranty_end)"
        " SELECT %s, %s, %s, p.part_no, %s,"
        "  CASE WHEN p.warranty_months > 0"
        "   THEN (%s::timestamptz + make_interval(months => p.warranty_months))::date END"
        " FROM (SELECT 1) AS one LEFT JOIN part p ON p.part_no = %s",
        (asset_id, component_type, serial_no, at, at, part_no))
    return True


def update_configuration(cur: Any, asset_id: int, at: datetime, *, firmware: str | None,
                         agent_version: str | None, config_hash: str | None) -> bool:
    """Open a new ``asset_configuration`` record at ``at`` when firmware, agent version or
    config hash differ from the current one; True when that changed the records."""
    lock_installed_base(cur, [asset_id])
    new = (firmware, agent_version, config_hash)
    current = cur.execute(
        "SELECT configuration_id, firmware, agent_version, config_hash, valid_from"
        " FROM asset_configuration WHERE asset_id = %s AND valid_to IS NULL FOR UPDATE",
        (asset_id,)).fetchone()
    if current is not None:
        if tuple(current[1:4]) == new:
            return False
        if current[4] >= at:
            log.info("asset %s: configuration from %s is older than the current one; ignored",
                     asset_id, at)
            return False
        cur.execute("UPDATE asset_configuration SET valid_to = %s WHERE configuration_id = %s",
                    (at, current[0]))
    cur.execute("INSERT INTO asset_configuration (asset_id, firmware, agent_version,"
                " config_hash, valid_from) VALUES (%s, %s, %s, %s, %s)", (asset_id, *new, at))
    return True


def apply_birth(cur: Any, asset_id: int, at: datetime, *, firmware: str | None = None,
                agent_version: str | None = None, config_hash: str | None = None,
                components: Iterable[Mapping[str, Any]] = ()) -> int:
    """Apply what a birth message reports: the configuration and every component with a
    serial number. Returns the number of records changed."""
    changed = int(update_configuration(cur, asset_id, at, firmware=firmware,
                                       agent_version=agent_version, config_hash=config_hash))
    for component in components:
        serial, component_type = component.get("serial_no"), component.get("component_type")
        if serial and component_type:
            changed += replace_component(cur, asset_id, str(component_type), str(serial),
                                         component.get("part_no"), at)
    return changed
