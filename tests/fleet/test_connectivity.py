"""Stale assets become work: a connectivity ticket opens for a silent asset and closes itself.

The silence is real data in ``ingest_batch`` (as ingest writes it), so the ticket follows the
same staleness view the alert rule and the dashboards read.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.fleet.connectivity import update_connectivity_tickets

pytestmark = pytest.mark.integration


@pytest.fixture
def site_db(fresh_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO site (site_id, name, customer, sla_hours) VALUES"
                     " ('S1', 'Plant North', 'Acme', 8)")
        conn.execute("INSERT INTO asset_model (model_id, kind) VALUES ('CP-200', 'pump')")
        for tag, criticality in (("P-1", 1), ("P-2", 2), ("P-3", 2)):
            conn.execute("INSERT INTO asset (asset_tag, site_id, model_id, criticality)"
                         " VALUES (%s, 'S1', 'CP-200', %s)", (tag, criticality))
        yield conn


def _batches(conn: psycopg.Connection, tag: str, *, silent_minutes: float,
             first_seq: int = 1) -> None:
    """Twenty batches a minute apart, the newest ``silent_minutes`` ago."""
    conn.execute(
        "INSERT INTO ingest_batch (asset_id, seq, readings, first_reading_at, last_reading_at,"
        "                          received_at)"
        " SELECT a.asset_id, %(seq)s + k, 8,"
        "        now() - make_interval(mins => %(silent)s + k) - interval '1 minute',"
        "        now() - make_interval(mins => %(silent)s + k),"
        "        now() - make_interval(mins => %(silent)s + k)"
        " FROM asset a, generate_series(0, 19) AS k WHERE a.asset_tag = %(tag)s",
        {"seq": first_seq, "silent": silent_minutes, "tag": tag})


def _tickets(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT asset_tag, kind, failure_mode, status, resolution_code, kit, priority,"
        " due_at - opened_at FROM v_service_ticket ORDER BY ticket_id").fetchall()


def test_only_an_asset_silent_past_its_site_ticket_time_gets_a_ticket(
        site_db: psycopg.Connection) -> None:
    _batches(site_db, "P-1", silent_minutes=180)   # silent 3 h: past 120 min
    _batches(site_db, "P-2", silent_minutes=30)    # stale (grace 15) but not ticket-worthy
    _batches(site_db, "P-3", silent_minutes=0)     # reporting
    report = update_connectivity_tickets(site_db)
    assert (report.opened, report.closed, report.open_tickets) == (1, 0, 1)
    [(tag, kind, mode, status, code, kit, priority, due)] = _tickets(site_db)
    assert (tag, kind, mode, status, code, kit) == ("P-1", "connectivity", "connectivity",
                                                    "open", None, [])
    assert priority == 2 and due.total_seconds() == 8 * 3600  # critical asset; site SLA

    again = update_connectivity_tickets(site_db)
    assert (again.opened, again.closed, again.open_tickets) == (0, 0, 1)


def test_the_ticket_closes_when_readings_flow_again_and_reopens_on_a_new_silence(
        site_db: psycopg.Connection) -> None:
    _batches(site_db, "P-2", silent_minutes=300)
    assert update_connectivity_tickets(site_db).opened == 1
    _batches(site_db, "P-2", silent_minutes=0, first_seq=100)   # the link is back
    report = update_connectivity_tickets(site_db)
    assert (report.opened, report.closed, report.open_tickets) == (0, 1, 0)
    [row] = _tickets(site_db)
    assert row[3:5] == ("closed", "data_restored")
    labels = site_db.execute("SELECT count(*) FROM failure_label").fetchone()[0]
    assert labels == 0   # a dropped link teaches the failure models nothing

    site_db.execute("UPDATE site SET connectivity_ticket_minutes = 5")
    site_db.execute("DELETE FROM ingest_batch WHERE seq >= 100")
    assert update_connectivity_tickets(site_db).opened == 1


def test_a_longer_site_ticket_time_opens_nothing(site_db: psycopg.Connection) -> None:
    site_db.execute("UPDATE site SET connectivity_ticket_minutes = 600")
    _batches(site_db, "P-1", silent_minutes=180)
    assert update_connectivity_tickets(site_db).opened == 0
