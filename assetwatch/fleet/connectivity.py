"""Stale assets become work: connectivity tickets, opened and closed from the data itself.

An asset that has sent nothing for longer than its usual reporting interval plus its site's
``connectivity_ticket_minutes`` gets a ticket of kind ``connectivity`` (failure mode
``connectivity``, no parts kit: someone has to look at the gateway, the SIM or the cable, not
at the machine). The ticket's due date is its site's response time (``sla_hours``); its priority
follows the asset's criticality. When readings flow again (the asset is no longer stale by
``v_asset_staleness``: silent for less than its interval plus the site's grace period), the
ticket closes with resolution ``data_restored``. Short gaps page nobody and open nothing: the
alert rule ``asset-stale`` fires after the grace period, the ticket only after the longer
ticket time.

:func:`update_connectivity_tickets` is idempotent (one open ticket per asset, enforced by the
database) and runs in the ``alerts`` flow every minute.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.service.ticket_lifecycle import close_ticket, open_ticket

__all__ = ["CONNECTIVITY", "ConnectivityReport", "run_connectivity",
           "update_connectivity_tickets"]

log = logging.getLogger(__name__)

CONNECTIVITY = "connectivity"


@dataclass
class ConnectivityReport:
    """What one round did: tickets opened and closed, and how many stay open."""

    opened: int = 0
    closed: int = 0
    open_tickets: int = 0


def update_connectivity_tickets(conn: psycopg.Connection) -> ConnectivityReport:
    """Open a connectivity ticket per asset silent past its site's ticket time; close those
    of assets reporting again (one transaction)."""
    report = ConnectivityReport()
    now = datetime.now(UTC)
    with conn.transaction():
        rows = conn.execute(
            "SELECT s.asset_id, s.asset_tag, s.silent_s, s.interval_s,"
            "       s.connectivity_ticket_minutes, s.stale, s.last_reading_at,"
            "       a.criticality, si.sla_hours, t.ticket_id"
            " FROM v_asset_staleness s"
            " JOIN asset a USING (asset_id) JOIN site si ON si.site_id = a.site_id"
            " LEFT JOIN service_ticket t ON t.asset_id = s.asset_id"
            "      AND t.kind = 'connectivity' AND t.status <> 'closed'"
            " ORDER BY s.asset_id").fetchall()
        for (asset_id, tag, silent_s, interval_s, ticket_minutes, stale, last_reading_at,
             criticality, sla_hours, ticket_id) in rows:
            overdue = float(silent_s) > float(interval_s) + 60.0 * ticket_minutes
            if ticket_id is None and overdue:
                open_ticket(
                    conn, asset_id, CONNECTIVITY, risk=0.0, kind=CONNECTIVITY,
                    priority=2 if criticality == 1 else 3, opened_by="connectivity", at=now,
                    due_at=now + timedelta(hours=sla_hours),
                    evidence={"last_reading_at": last_reading_at.isoformat(),
                              "silent_minutes": round(float(silent_s) / 60.0, 1),
                              "usual_interval_s": float(interval_s)})
                log.warning("asset %s silent for %.0f min: connectivity ticket opened", tag,
                            float(silent_s) / 60.0)
                report.opened += 1
            elif ticket_id is not None and not stale:
                close_ticket(conn, ticket_id, resolution_code="data_restored", at=now,
                             note=f"readings again since {last_reading_at.isoformat()}")
                report.closed += 1
        report.open_tickets = int(conn.execute(
            "SELECT count(*) FROM service_ticket WHERE kind = 'connectivity'"
            " AND status <> 'closed'").fetchone()[0])
    return report


def run_connectivity(settings: Settings) -> ConnectivityReport:
    """One round on the configured database (the ``alerts`` flow, ``assetwatch alerts run``)."""
    with connect(settings, autocommit=True) as conn:
        return update_connectivity_tickets(conn)
