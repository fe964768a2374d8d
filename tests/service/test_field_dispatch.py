"""Dispatch on the real database: open work becomes visits that respect skills, calendars,
parts and deadlines; work at one site and a covering PM share a visit; bad input is one error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from assetwatch.service.bom import repair_kit
from assetwatch.service.errors import DispatchError
from assetwatch.service.field.closeout import close_visit
from assetwatch.service.field.greedy import GreedySolver
from assetwatch.service.field.plan import DispatchPolicy, make_solver, plan_dispatch
from assetwatch.service.field.pm import open_pm_work_orders
from assetwatch.service.field.visits import start_visits
from assetwatch.service.field.work import collect_work
from assetwatch.service.masterdata_load import load_masterdata
from assetwatch.service.reservations import reserve_kit
from assetwatch.service.ticket_lifecycle import open_ticket, start_ticket

MONDAY = datetime(2026, 3, 2, 7, tzinfo=UTC)
CREW = {
    "technicians": "technician_id,name,home_base,home_latitude,home_longitude,skills\n"
                   "T1,Ana,North,48.10,11.50,CP-200;SC-75\n"
                   "T2,Ben,South,47.90,11.40,CP-200:bearing_wear\n",
    "technician_shifts": "technician_id,weekday,starts,ends\n" + "".join(
        f"{t},{d},08:00,16:00\n" for t in ("T1", "T2") for d in range(1, 6)),
    "technician_absences": "technician_id,first_day,last_day\nT2,2026-03-02,2026-03-02\n",
    "sites": "site_id,name,latitude,longitude,response_hours\n"
             "site-01,Site 1,48.20,11.60,8\nsite-02,Site 2,47.80,11.30,48\n",
}


@pytest.fixture
def crew_db(fleet_db: tuple[psycopg.Connection, dict], tmp_path: Path
            ) -> tuple[psycopg.Connection, dict]:
    conn, ids = fleet_db
    for name, text in CREW.items():
        (tmp_path / f"{name}.csv").write_text(text)
    load_masterdata(conn, tmp_path)
    return conn, ids


def _ticket(conn: psycopg.Connection, asset_id: int, mode: str, component: str,
            model: str, **kw: object) -> int:
    return open_ticket(conn, asset_id, mode, risk=0.8, at=MONDAY - timedelta(hours=1),
                       kit=repair_kit(conn, model, component), **kw)


def _visits(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT v.visit_id, v.technician_id, v.site_id, v.starts_at, v.kit,"
        " array_agg(coalesce('T' || w.ticket_id, 'W' || w.work_order_id) ORDER BY"
        " w.ticket_id, w.work_order_id) FROM v_visit v JOIN v_visit_work w USING (visit_id)"
        " GROUP BY 1, 2, 3, 4, 5 ORDER BY v.starts_at").fetchall()


def test_a_plan_merges_work_at_a_site_and_a_covering_pm_into_one_visit(
        crew_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = crew_db
    conn.execute("UPDATE asset SET commissioned_on = %s WHERE asset_id = %s",
                 ((MONDAY - timedelta(days=85)).date(), ids["a01-00"]))
    assert open_pm_work_orders(conn, MONDAY).opened == 1   # relubrication: grease
    bearing = _ticket(conn, ids["a01-00"], "bearing_wear", "bearing", "CP-200")
    separator = _ticket(conn, ids["a01-01"], "separator_clog", "oil_separator", "SC-75")
    summary = plan_dispatch(conn, as_of=MONDAY, solver=make_solver(time_limit_s=2))
    visits = _visits(conn)
    assert len(visits) == 1, visits
    _, technician, site, starts, kit, work = visits[0]
    assert (technician, site) == ("T1", "site-01")  # T2 is absent and lacks SC-75
    assert work == [f"T{bearing}", f"T{separator}", "W1"]
    assert starts == MONDAY + timedelta(hours=1) + timedelta(minutes=round(
        conn.execute("SELECT 1.3 * 60 / 60.0 * 2 * 6371 * asin(sqrt(sin(radians(0.05))^2"
                     " + cos(radians(48.1)) * cos(radians(48.2)) * sin(radians(0.05))^2))"
                     ).fetchone()[0]))
    grease = [i["qty"] for i in kit if i["part_no"] == "GREASE-LGHP2-400"]
    assert grease == [1]  # the PM's grease covers the bearing kit's: carried once
    assert summary.metrics.sla_met == summary.metrics.sla_items == 2  # ticket+PM is one item
    statuses = conn.execute("SELECT status, scheduled_for FROM service_ticket"
                            " ORDER BY ticket_id").fetchall()
    assert statuses == [("scheduled", starts), ("scheduled", starts)]
    assert conn.execute("SELECT status FROM pm_work_order").fetchone() == ("scheduled",)
    days = conn.execute("SELECT technician_id, count(*) FROM v_technician_utilisation"
                        " GROUP BY 1 ORDER BY 1").fetchall()
    assert days == [("T1", 5), ("T2", 4)]  # Monday to Friday, T2 absent on Monday


def test_no_visit_before_its_parts_can_be_there(crew_db: tuple[psycopg.Connection, dict]
                                               ) -> None:
    conn, ids = crew_db
    conn.execute("UPDATE stock SET on_hand = 0 WHERE part_no = 'BRG-6309-C3'"
                 " AND site_id = 'site-02'")
    ticket = _ticket(conn, ids["a02-00"], "bearing_wear", "bearing", "CP-200")
    transfer, expedite = conn.execute(  # the ticket's reservation is short of the bearing
        "SELECT transfer_lead_time_days, expedite_lead_time_days FROM v_ticket_parts"
        " WHERE ticket_id = %s AND short_qty > 0", (ticket,)).fetchone()
    ready = MONDAY + timedelta(days=float(min(transfer, expedite)))
    respond_by = conn.execute("SELECT respond_by FROM service_ticket WHERE ticket_id = %s",
                              (ticket,)).fetchone()[0]
    assert ready > respond_by   # the kit comes too late for the response: a response visit
    plan_dispatch(conn, as_of=MONDAY, solver=GreedySolver(),
                  policy=DispatchPolicy(horizon_days=10))
    (visit,) = _visits(conn)
    assert visit[3] < respond_by and visit[4] == []   # in time, carrying nothing
    (started,) = start_visits(conn, until=visit[3] + timedelta(minutes=1))
    assert started.tickets == [ticket]
    close_visit(conn, visit[0], on_site_minutes=30, fixed=False, at=visit[3] + timedelta(
        minutes=30))          # diagnosed: the repair needs the bearing
    assert conn.execute("SELECT status, responded_at FROM service_ticket WHERE ticket_id = %s",
                        (ticket,)).fetchone() == ("open", visit[3])
    plan_dispatch(conn, as_of=MONDAY, solver=GreedySolver(),
                  policy=DispatchPolicy(horizon_days=10))
    (repair,) = [v for v in _visits(conn) if v[0] != visit[0]]
    assert ready <= repair[3] < ready + timedelta(days=1)   # the repair waits for its kit
    assert repair[4] != []
    # with the part in stock (reserved when the kit is reserved again) it goes the first
    # morning a technician has
    conn.execute("UPDATE stock SET on_hand = 3 WHERE part_no = 'BRG-6309-C3'"
                 " AND site_id = 'site-02'")
    reserve_kit(conn, ticket)
    plan_dispatch(conn, as_of=MONDAY, solver=GreedySolver())
    (visit,) = [v for v in _visits(conn) if v[0] != visit[0]]
    assert visit[3] < MONDAY + timedelta(hours=3)


def test_a_ticket_is_due_by_its_response_then_by_its_restore_deadline(
        crew_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = crew_db
    conn.execute("UPDATE site SET restore_hours = 56 WHERE site_id = 'site-01'")
    ticket = _ticket(conn, ids["a01-00"], "bearing_wear", "bearing", "CP-200")
    respond_by, restore_by = conn.execute(
        "SELECT respond_by, restore_by FROM service_ticket WHERE ticket_id = %s",
        (ticket,)).fetchone()
    (item,) = collect_work(conn, MONDAY)
    assert item.deadline == respond_by
    start_ticket(conn, ticket, at=MONDAY)      # responded; the visit could not fix it
    conn.execute("UPDATE service_ticket SET status = 'open' WHERE ticket_id = %s", (ticket,))
    (item,) = collect_work(conn, MONDAY + timedelta(hours=2))
    assert item.deadline == restore_by > respond_by


def test_bad_input_is_one_clear_error_and_changes_nothing(
        crew_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = crew_db
    _ticket(conn, ids["a02-00"], "bearing_wear", "bearing", "CP-200")
    with pytest.raises(DispatchError, match="unknown technician 'T9'"):
        plan_dispatch(conn, as_of=MONDAY, technicians=["T9"], solver=GreedySolver())
    conn.execute("UPDATE site SET latitude = NULL, longitude = NULL WHERE site_id = 'site-02'")
    with pytest.raises(DispatchError, match="site 'site-02' has open work but no coordinates"):
        plan_dispatch(conn, as_of=MONDAY, solver=GreedySolver())
    assert conn.execute("SELECT count(*) FROM dispatch_plan").fetchone() == (0,)
    assert conn.execute("SELECT status FROM service_ticket").fetchone() == ("open",)
