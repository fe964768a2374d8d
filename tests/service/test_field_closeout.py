"""Close-out and the dispatch command line: time on site, parts used against the kit (the
difference back to stock), a repeat visit when not fixed, one-line errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from test_field_dispatch import CREW, MONDAY, _ticket

from assetwatch.cli import main
from assetwatch.core.settings import Settings
from assetwatch.service.errors import DispatchError
from assetwatch.service.field.closeout import close_visit
from assetwatch.service.field.greedy import GreedySolver
from assetwatch.service.field.plan import plan_dispatch
from assetwatch.service.masterdata_load import load_masterdata


@pytest.fixture
def crew_db(fleet_db: tuple[psycopg.Connection, dict], tmp_path: Path
            ) -> tuple[psycopg.Connection, dict]:
    conn, ids = fleet_db
    for name, text in CREW.items():
        (tmp_path / f"{name}.csv").write_text(text)
    load_masterdata(conn, tmp_path)
    return conn, ids


def _on_hand(conn: psycopg.Connection, part_no: str) -> int:
    return conn.execute("SELECT on_hand FROM stock WHERE part_no = %s AND site_id = 'site-01'",
                        (part_no,)).fetchone()[0]


def test_parts_used_replace_the_kit_and_the_rest_returns_to_stock(
        crew_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = crew_db
    ticket = _ticket(conn, ids["a01-00"], "bearing_wear", "bearing", "CP-200")
    plan_dispatch(conn, as_of=MONDAY, solver=GreedySolver())
    visit, kit = conn.execute("SELECT visit_id, kit FROM v_visit").fetchone()
    carried = {i["part_no"]: i["qty"] for i in kit}
    assert carried == {"BRG-6309-C3": 1, "ORING-52X3-FKM": 2, "GREASE-LGHP2-400": 1}
    before = {p: _on_hand(conn, p) for p in carried}
    done = close_visit(conn, visit, on_site_minutes=95, at=MONDAY + timedelta(hours=3),
                       parts_used={"BRG-6309-C3": 1, "ORING-52X3-FKM": 1})
    assert done.tickets_closed == [ticket]
    assert done.returned == {"BRG-6309-C3": 0, "ORING-52X3-FKM": 1, "GREASE-LGHP2-400": 1}
    after = {p: _on_hand(conn, p) for p in carried}
    assert {p: before[p] - after[p] for p in carried} == {
        "BRG-6309-C3": 1, "ORING-52X3-FKM": 1, "GREASE-LGHP2-400": 0}
    rows = conn.execute("SELECT part_no, kit_qty, used_qty, returned_qty FROM"
                        " v_visit_part_return ORDER BY part_no").fetchall()
    assert rows == [("BRG-6309-C3", 1, 1, 0), ("GREASE-LGHP2-400", 1, 0, 1),
                    ("ORING-52X3-FKM", 2, 1, 1)]
    status = conn.execute("SELECT t.status, t.resolution_code, v.on_site_minutes, v.status"
                          " FROM service_ticket t, v_visit v").fetchone()
    assert status == ("closed", "confirmed_failure", 95.0, "done")
    with pytest.raises(DispatchError, match=f"visit {visit} is done"):
        close_visit(conn, visit, on_site_minutes=1)


def test_not_fixed_keeps_the_ticket_open_for_a_second_visit(
        crew_db: tuple[psycopg.Connection, dict]) -> None:
    conn, ids = crew_db
    _ticket(conn, ids["a01-00"], "bearing_wear", "bearing", "CP-200")
    plan_dispatch(conn, as_of=MONDAY, solver=GreedySolver())
    (visit,) = conn.execute("SELECT visit_id FROM v_visit").fetchone()
    close_visit(conn, visit, on_site_minutes=30, fixed=False, at=MONDAY + timedelta(hours=2))
    assert conn.execute("SELECT status FROM service_ticket").fetchone() == ("open",)
    plan_dispatch(conn, as_of=MONDAY + timedelta(hours=3), solver=GreedySolver())
    visits = conn.execute("SELECT status FROM v_visit ORDER BY visit_id").fetchall()
    assert visits == [("done",), ("planned",)]


def test_dispatch_commands_plan_show_and_refuse_an_unknown_technician(
        crew_db: tuple[psycopg.Connection, dict], fresh_settings: Settings,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    conn, ids = crew_db
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    monkeypatch.setenv("COLUMNS", "200")  # the table's width
    _ticket(conn, ids["a01-00"], "bearing_wear", "bearing", "CP-200")
    assert main(["dispatch", "plan", "--as-of", MONDAY.isoformat(), "--solver", "greedy"]) == 0
    assert "1 visits covering 1 of 1 work items" in capsys.readouterr().out
    assert main(["dispatch", "show", "--technician", "T1"]) == 0
    out = capsys.readouterr().out
    assert "a01-00: bearing_wear" in out and "BRG-6309-C3" in out
    assert main(["dispatch", "show", "--technician", "T9"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown technician 'T9'" in err
    (visit,) = conn.execute("SELECT visit_id FROM v_visit").fetchone()
    assert main(["dispatch", "close", str(visit), "--on-site-minutes", "80",
                 "--used", "BRG-6309-C3=1", "--used", "NOPE-1=1"]) == 1
    assert "unknown part(s) NOPE-1" in capsys.readouterr().err
    assert conn.execute("SELECT status FROM v_visit").fetchone() == ("planned",)
