"""Master data: the sample loads and matches the fleet catalogue; bad files load nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from assetwatch.service.errors import MasterDataError
from assetwatch.service.masterdata_load import load_masterdata, sample_path
from assetwatch.sim.catalogue import load_catalogue


def _catalogue() -> dict:
    return load_catalogue()


def test_sample_matches_the_fleet_catalogue(fleet_db: tuple[psycopg.Connection, dict]) -> None:
    conn, _ = fleet_db
    for model_id, model in _catalogue()["asset_models"].items():
        for component_type, component in model["components"].items():
            parts = {r[0] for r in conn.execute(
                "SELECT part_no FROM v_bom WHERE model_id = %s AND component_type = %s",
                (model_id, component_type))}
            assert component["part_no"] in parts, (model_id, component_type)
            for failure_mode, spec in component["failure_modes"].items():
                mode = conn.execute("SELECT component_type FROM failure_mode"
                                    " WHERE failure_mode = %s", (failure_mode,)).fetchone()
                assert mode == (component_type,), failure_mode
                for part_no in spec["parts"]:
                    known = conn.execute("SELECT 1 FROM part WHERE part_no = %s",
                                         (part_no,)).fetchone()
                    assert known, (failure_mode, part_no)
                mode_parts = {r[0] for r in conn.execute(
                    "SELECT part_no FROM failure_mode_part WHERE model_id = %s"
                    " AND failure_mode = %s", (model_id, failure_mode))}
                assert mode_parts == set(spec["parts"]), (model_id, failure_mode)
            life = conn.execute("SELECT weibull_beta, weibull_eta_days FROM component_life"
                                " WHERE model_id = %s AND component_type = %s",
                                (model_id, component_type)).fetchone()
            assert life is not None and min(life) > 0, (model_id, component_type)


def test_sample_gives_every_stocked_part_a_lead_time_at_every_site(
        fleet_db: tuple[psycopg.Connection, dict]) -> None:
    conn, _ = fleet_db
    missing = conn.execute("SELECT count(*) FROM v_part_lead_time WHERE lead_time_days IS NULL")
    assert missing.fetchone() == (0,)
    site_01 = conn.execute("SELECT lead_time_days FROM v_part_lead_time"
                           " WHERE part_no = 'BRG-6309-C3' AND site_id = 'site-01'").fetchone()
    site_02 = conn.execute("SELECT lead_time_days FROM v_part_lead_time"
                           " WHERE part_no = 'BRG-6309-C3' AND site_id = 'site-02'").fetchone()
    assert (float(site_01[0]), float(site_02[0])) == (5.0, 14.0)
    stock = dict(conn.execute("SELECT site_id, on_hand FROM stock WHERE part_no = 'BRG-6309-C3'"))
    assert stock == {"site-01": 6, "site-02": 2}


def test_the_kit_follows_the_diagnosis(fleet_db: tuple[psycopg.Connection, dict]) -> None:
    """A motor whose cooling fails needs its air filter: the kit for that diagnosis is the
    motor's bill of materials plus the filter; for a winding fault the filter is not in it."""
    from assetwatch.service.bom import repair_kit

    conn, _ = fleet_db
    component = {str(i["part_no"]) for i in repair_kit(conn, "SC-75", "motor")}
    cooling = {str(i["part_no"]) for i in repair_kit(conn, "SC-75", "motor", "motor_cooling")}
    winding = {str(i["part_no"]) for i in repair_kit(conn, "SC-75", "motor", "motor_winding")}
    assert "FLT-AIR-75" not in component and winding == component
    assert cooling == component | {"FLT-AIR-75"}


def test_loading_twice_is_idempotent(fleet_db: tuple[psycopg.Connection, dict]) -> None:
    conn, _ = fleet_db
    before = conn.execute("SELECT count(*) FROM kit_item").fetchone()
    load_masterdata(conn, sample_path(), skip_unknown_sites=True)
    assert conn.execute("SELECT count(*) FROM kit_item").fetchone() == before


def _copy_sample(tmp_path: Path) -> Path:
    target = tmp_path / "md"
    target.mkdir()
    for file in sample_path().glob("*.csv"):
        (target / file.name).write_text(file.read_text())
    (target / "sites.csv").write_text(
        "site_id,name\n" + "".join(f"site-{i:02d},Site {i}\n" for i in range(1, 9)))
    return target


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + line + "\n")


@pytest.mark.parametrize(("file", "line", "reason"), [
    ("bom.csv", "CP-200,bearing,NO-SUCH-PART,1", "unknown part number 'NO-SUCH-PART'"),
    ("kits.csv", "KIT-BRG-CP200,FLT-AIR-75,-2", "negative quantity -2"),
    ("kits.csv", "ORING-52X3-FKM,FLT-AIR-75,1", "is not a kit"),
    ("parts.csv", "BOLT-M12,Bolt M12,0.30,0,false,", "missing lead time for 'BOLT-M12'"),
    ("lead_times.csv", "FLT-AIR-75,site-01,", "missing lead time"),
    ("stock.csv", "FLT-AIR-75,site-99,1,0", "unknown site 'site-99'"),
    ("failure_mode_parts.csv", "SC-75,motor_sparks,FLT-AIR-75,1",
     "unknown failure mode 'motor_sparks'"),
    ("failure_mode_parts.csv", "SC-75,motor_cooling,NO-SUCH-PART,1",
     "unknown part number 'NO-SUCH-PART'"),
])
def test_bad_rows_are_rejected_with_file_row_and_reason(
        empty_db: psycopg.Connection, tmp_path: Path, file: str, line: str, reason: str) -> None:
    source = _copy_sample(tmp_path)
    _append(source / file, line)
    with pytest.raises(MasterDataError) as caught:
        load_masterdata(empty_db, source)
    problem = caught.value.problems[0]
    assert problem.file == file
    assert isinstance(problem.row, int) and problem.row > 2
    assert reason in problem.reason
    assert reason in str(caught.value)
    assert empty_db.execute("SELECT count(*) FROM part").fetchone() == (0,)
    assert empty_db.execute("SELECT count(*) FROM site").fetchone() == (0,)


def test_a_cycle_in_kits_is_rejected(empty_db: psycopg.Connection, tmp_path: Path) -> None:
    source = _copy_sample(tmp_path)
    _append(source / "parts.csv", "KIT-A,Kit A,0,0,true,")
    _append(source / "parts.csv", "KIT-B,Kit B,0,0,true,")
    _append(source / "kits.csv", "KIT-A,KIT-B,1")
    _append(source / "kits.csv", "KIT-B,KIT-A,1")
    with pytest.raises(MasterDataError) as caught:
        load_masterdata(empty_db, source)
    reasons = [p.reason for p in caught.value.problems]
    assert any("cycle in kits" in r and "KIT-A" in r and "KIT-B" in r for r in reasons)
    assert caught.value.problems[0].file == "kits.csv"
    assert empty_db.execute("SELECT count(*) FROM kit_item").fetchone() == (0,)


def test_a_failure_late_in_the_load_leaves_nothing(empty_db: psycopg.Connection,
                                                    tmp_path: Path) -> None:
    source = _copy_sample(tmp_path)
    (source / "sites.csv").write_text("site_id,name\nsite-01,One\n")
    with pytest.raises(MasterDataError):
        load_masterdata(empty_db, source)  # lead_times names site-04 and site-08
    assert empty_db.execute("SELECT count(*) FROM component_type").fetchone() == (0,)


def test_yaml_source(empty_db: psycopg.Connection, tmp_path: Path) -> None:
    doc = tmp_path / "md.yaml"
    doc.write_text(
        "asset_models: [{model_id: X-1, kind: fan}]\n"
        "component_types: [{component_type: belt}]\n"
        "failure_modes: [{failure_mode: belt_slip, component_type: belt, sensors: [speed]}]\n"
        "sites: [{site_id: s1, name: One, sla_hours: 8}]\n"
        "parts:\n"
        "  - {part_no: BELT-1, description: Belt, unit_cost: 12.5, lead_time_days: 3}\n"
        "  - {part_no: KIT-BELT, description: Belt kit, unit_cost: 0, is_kit: true}\n"
        "kits: [{kit_part_no: KIT-BELT, part_no: BELT-1, qty: 2}]\n"
        "bom: [{model_id: X-1, component_type: belt, part_no: KIT-BELT, qty: 1}]\n"
        "stock: [{part_no: BELT-1, site_id: '*', on_hand: 4}]\n")
    summary = load_masterdata(empty_db, doc)
    assert summary.counts["parts"] == 2
    assert empty_db.execute("SELECT part_no, qty FROM v_bom").fetchall() == [("BELT-1", 2)]
    assert empty_db.execute("SELECT on_hand FROM stock").fetchall() == [(4,)]
    doc.write_text("parts: [{part_no: BELT-2, description: Belt, unit_cost: -1}]\n")
    with pytest.raises(MasterDataError) as caught:
        load_masterdata(empty_db, doc)
    assert caught.value.problems[0].row == "parts[1]"


def test_sites_registered_after_the_master_data_get_the_default_stock(
        empty_db: psycopg.Connection) -> None:
    from assetwatch.service.masterdata_load import load_sample_masterdata

    load_sample_masterdata(empty_db)
    assert empty_db.execute("SELECT count(*) FROM stock").fetchone() == (0,)
    empty_db.execute("INSERT INTO site (site_id, name) VALUES ('site-05', 'Late')")
    stock = dict(empty_db.execute("SELECT part_no, on_hand FROM stock WHERE site_id ="
                                  " 'site-05'").fetchall())
    assert stock["BRG-6309-C3"] == 2 and stock["OIL-SC46-5L"] == 12
