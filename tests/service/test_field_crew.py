"""Technicians as master data: loaded with their skills and calendars; bad rows load nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from assetwatch.service.errors import DispatchError, MasterDataError
from assetwatch.service.field.crew import load_crew
from assetwatch.service.masterdata_load import load_masterdata

TECHNICIANS = """technician_id,name,home_base,home_latitude,home_longitude,skills,timezone
T1,Ana,Munich depot,48.14,11.58,CP-200;SC-75:separator_clog,Europe/Berlin
T2,Ben,Augsburg,48.37,10.90,CP-200:bearing_wear,
"""
SHIFTS = """technician_id,weekday,starts,ends
T1,mon,08:00,12:00
T1,mon,13:00,17:00
T2,2,07:00,15:30
"""
ABSENCES = """technician_id,first_day,last_day,reason
T1,2026-03-09,2026-03-13,holiday
"""
SITES = """site_id,name,latitude,longitude,response_hours,restore_hours
site-01,Site 1,48.2,11.4,8,24
"""


def _write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def _count(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM technician").fetchone()[0]


def test_technicians_load_with_skills_calendar_and_site_contract(
        fleet_db: tuple[psycopg.Connection, dict], tmp_path: Path) -> None:
    conn, _ = fleet_db
    load_masterdata(conn, _write(tmp_path, technicians=TECHNICIANS, technician_shifts=SHIFTS,
                                 technician_absences=ABSENCES, sites=SITES))
    crew = {t.technician_id: t for t in load_crew(conn)}
    assert crew["T1"].can_do("CP-200", "seal_leak") and crew["T1"].can_do("SC-75", None)
    assert not crew["T1"].can_do("SC-75", "bearing_wear")
    assert crew["T2"].can_do("CP-200", "bearing_wear") and not crew["T2"].can_do("SC-75", None)
    # Monday 2 March: two shifts in Berlin time (UTC+1); the next Monday T1 is on holiday
    windows = crew["T1"].windows(datetime(2026, 3, 2, tzinfo=UTC),
                                 datetime(2026, 3, 16, tzinfo=UTC))
    assert [(a.hour, b.hour) for a, b in windows] == [(7, 11), (12, 16)]
    site = conn.execute("SELECT latitude, longitude, response_hours, restore_hours FROM site"
                        " WHERE site_id = 'site-01'").fetchone()
    assert site == (48.2, 11.4, 8.0, 24.0)


@pytest.mark.parametrize(("files", "reason"), [
    ({"technicians": TECHNICIANS.replace("CP-200:bearing_wear", "")},
     "technicians.csv row 3: technician 'T2' has no skills"),
    ({"technicians": TECHNICIANS, "technician_shifts": SHIFTS + "T1,mon,11:30,12:30\n"},
     "technician_shifts.csv row 5: technician 'T1': shift overlaps another on mon (row 2)"),
    ({"technicians": TECHNICIANS, "technician_absences": ABSENCES + "T1,2026-03-13,2026-03-20,\n"},
     "technician_absences.csv row 3: technician 'T1': absence overlaps another (row 2)"),
    ({"sites": "site_id,name,latitude\nsite-01,Site 1,48.2\n"},
     "sites.csv row 2: site 'site-01' needs both latitude and longitude"),
    ({"technician_shifts": "technician_id,weekday,starts,ends\nT9,mon,08:00,16:00\n"},
     "technician_shifts.csv row 2: unknown technician 'T9'"),
    ({"technicians": TECHNICIANS.replace("CP-200;", "XP-1;")},
     "technicians.csv row 2: technician 'T1': unknown asset model 'XP-1'"),
])
def test_bad_crew_rows_are_named_and_nothing_loads(
        fleet_db: tuple[psycopg.Connection, dict], tmp_path: Path, files: dict[str, str],
        reason: str) -> None:
    conn, _ = fleet_db
    before = conn.execute("SELECT latitude FROM site WHERE site_id = 'site-01'").fetchone()
    with pytest.raises(MasterDataError) as caught:
        load_masterdata(conn, _write(tmp_path, **files))
    assert [str(p) for p in caught.value.problems] == [reason]
    assert _count(conn) == 0
    assert conn.execute("SELECT latitude FROM site WHERE site_id = 'site-01'").fetchone() == before


def test_a_plan_for_an_unknown_technician_is_one_clear_error(
        fleet_db: tuple[psycopg.Connection, dict], tmp_path: Path) -> None:
    conn, _ = fleet_db
    load_masterdata(conn, _write(tmp_path, technicians=TECHNICIANS))
    with pytest.raises(DispatchError, match="unknown technician 'T7'; known: T1, T2"):
        load_crew(conn, ["T1", "T7"])
    assert [t.technician_id for t in load_crew(conn, ["T2"])] == ["T2"]
