"""Loading validated master data into the database, all of it or nothing (one transaction).

Rows are upserted: a part, model, site or failure mode in the file replaces the stored one.
Kits, BOM entries, maintenance tasks and failure-mode sensors are replaced as a whole for every
kit, (model, component type), (model, task) and failure mode that the file mentions. A
``site_id`` of ``*`` applies a lead time (as the part's default) or a stock level to all sites:
to every site known after loading, and (``stock_default``) to each site registered later;
site-specific rows win over ``*`` rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.service.field.crew_masterdata import write_crew
from assetwatch.service.masterdata import ALL_SITES, KnownMasterData, MasterData, read_masterdata

__all__ = ["LoadSummary", "known_masterdata", "load_masterdata", "load_sample_masterdata",
           "sample_path"]

log = logging.getLogger(__name__)


@dataclass
class LoadSummary:
    """How many rows of each section were loaded, and the rows skipped on purpose."""

    source: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped: int = 0

    def __str__(self) -> str:
        parts = ", ".join(f"{n} {section}" for section, n in self.counts.items() if n)
        return f"{self.source}: loaded {parts or 'nothing'}" + (
            f" ({self.skipped} row(s) for unregistered sites skipped)" if self.skipped else "")


def sample_path() -> Path:
    """The directory of the sample master data that matches the simulated fleet."""
    return Path(str(resources.files("assetwatch.service") / "sample"))


def known_masterdata(conn: psycopg.Connection) -> KnownMasterData:
    """What the database holds already, for validating a file that refers to it."""
    known = KnownMasterData()
    known.parts = {r[0]: r[1] for r in conn.execute("SELECT part_no, is_kit FROM part")}
    for kit, part_no, qty in conn.execute("SELECT kit_part_no, part_no, qty FROM kit_item"):
        known.kit_items.setdefault(kit, {})[part_no] = qty
    known.component_types = {
        r[0] for r in conn.execute("SELECT component_type FROM component_type")}
    known.asset_models = {r[0] for r in conn.execute("SELECT model_id FROM asset_model")}
    known.sites = {r[0] for r in conn.execute("SELECT site_id FROM site")}
    known.failure_modes = {r[0] for r in conn.execute("SELECT failure_mode FROM failure_mode")}
    known.technicians = {r[0] for r in conn.execute("SELECT technician_id FROM technician")}
    known.default_lead_times = {r[0] for r in conn.execute(
        "SELECT part_no FROM part WHERE default_lead_time_days IS NOT NULL")}
    known.site_lead_times = {(r[0], r[1]) for r in conn.execute(
        "SELECT part_no, site_id FROM part_lead_time")}
    return known


def load_masterdata(settings_or_conn: Settings | psycopg.Connection, path: Path | str, *,
                    skip_unknown_sites: bool = False) -> LoadSummary:
    """Validate and load the master data at ``path`` in one transaction.

    Raises :class:`~assetwatch.service.errors.MasterDataError` (file, row and reason of every
    problem) and loads nothing when any row is bad.
    """
    if isinstance(settings_or_conn, Settings):
        with connect(settings_or_conn) as conn:
            return load_masterdata(conn, path, skip_unknown_sites=skip_unknown_sites)
    conn = settings_or_conn
    with conn.transaction():
        data = read_masterdata(path, known_masterdata(conn),
                               skip_unknown_sites=skip_unknown_sites)
        summary = _write(conn, data)
    summary.skipped = len(data.skipped)
    log.info("%s", summary)
    return summary


def load_sample_masterdata(conn: psycopg.Connection) -> LoadSummary:
    """Load the sample master data of the simulated fleet (models CP-200 and SC-75).

    Stock rows for ``*`` go to every site, registered now or later; the sample's site-specific
    rows (lead times, stock) for sites not registered yet are skipped, so load it after the
    fleet's sites are registered to keep them.
    """
    return load_masterdata(conn, sample_path(), skip_unknown_sites=True)


def _write(conn: psycopg.Connection, data: MasterData) -> LoadSummary:
    summary = LoadSummary(data.source)
    count = summary.counts
    with conn.cursor() as cur:
        rows = [r.values for r in data.rows("sites")]
        cur.executemany(
            "INSERT INTO site (site_id, name, customer, sla_hours, latitude, longitude,"
            " response_hours, restore_hours)"
            " VALUES (%(site_id)s, %(name)s, %(customer)s, coalesce(%(sla_hours)s, 72),"
            " %(latitude)s, %(longitude)s, %(response_hours)s, %(restore_hours)s)"
            " ON CONFLICT (site_id) DO UPDATE SET name = EXCLUDED.name,"
            " customer = coalesce(EXCLUDED.customer, site.customer),"
            " sla_hours = EXCLUDED.sla_hours,"
            " latitude = coalesce(EXCLUDED.latitude, site.latitude),"
            " longitude = coalesce(EXCLUDED.longitude, site.longitude),"
            " response_hours = coalesce(EXCLUDED.response_hours, site.response_hours),"
            " restore_hours = coalesce(EXCLUDED.restore_hours, site.restore_hours)", rows)
        count["sites"] = len(rows)
        rows = [r.values for r in data.rows("asset_models")]
        cur.executemany(
            "INSERT INTO asset_model (model_id, kind, description, allow_new_sensors)"
            " VALUES (%(model_id)s, %(kind)s, %(description)s,"
            " coalesce(%(allow_new_sensors)s::boolean, false))"
            " ON CONFLICT (model_id) DO UPDATE SET kind = EXCLUDED.kind,"
            " description = coalesce(EXCLUDED.description, asset_model.description),"
            " allow_new_sensors = coalesce(%(allow_new_sensors)s::boolean,"
            " asset_model.allow_new_sensors)", rows)
        count["asset_models"] = len(rows)
        rows = [r.values for r in data.rows("model_sensors")]
        cur.executemany(
            "INSERT INTO model_sensor (model_id, sensor, unit, description)"
            " VALUES (%(model_id)s, %(sensor)s, %(unit)s, %(description)s)"
            " ON CONFLICT (model_id, sensor) DO UPDATE SET"
            " unit = coalesce(EXCLUDED.unit, model_sensor.unit),"
            " description = coalesce(EXCLUDED.description, model_sensor.description)", rows)
        count["model_sensors"] = len(rows)
        rows = [r.values for r in data.rows("component_types")]
        cur.executemany(
            "INSERT INTO component_type (component_type, description)"
            " VALUES (%(component_type)s, %(description)s) ON CONFLICT (component_type)"
            " DO UPDATE SET description = EXCLUDED.description", rows)
        count["component_types"] = len(rows)
        _write_failure_modes(cur, data, count)
        _write_parts(cur, data, count)
        _write_structures(cur, data, count)
        _write_stock(cur, data, count)
        write_crew(cur, data.sections, count)
    return summary


def _write_failure_modes(cur: psycopg.Cursor, data: MasterData, count: dict[str, int]) -> None:
    rows = [r.values for r in data.rows("failure_modes")]
    cur.executemany(
        "INSERT INTO failure_mode (failure_mode, component_type, description, repair_minutes,"
        " share) VALUES (%(failure_mode)s, %(component_type)s, %(description)s,"
        " coalesce(%(repair_minutes)s, 120), %(share)s)"
        " ON CONFLICT (failure_mode) DO UPDATE SET component_type = EXCLUDED.component_type,"
        " description = EXCLUDED.description, share = EXCLUDED.share,"
        " repair_minutes = coalesce(%(repair_minutes)s, failure_mode.repair_minutes)", rows)
    with_sensors = [r for r in rows if r["sensors"] is not None]
    cur.executemany("DELETE FROM failure_mode_sensor WHERE failure_mode = %s",
                    [(r["failure_mode"],) for r in with_sensors])
    cur.executemany("INSERT INTO failure_mode_sensor (failure_mode, sensor) VALUES (%s, %s)",
                    [(r["failure_mode"], s) for r in with_sensors for s in dict.fromkeys(
                        r["sensors"])])
    count["failure_modes"] = len(rows)


def _write_parts(cur: psycopg.Cursor, data: MasterData, count: dict[str, int]) -> None:
    defaults = {r.values["part_no"]: r.values["lead_time_days"]
                for r in data.rows("lead_times") if r.values["site_id"] == ALL_SITES}
    rows = []
    for r in data.rows("parts"):
        v = dict(r.values)
        v["warranty_months"] = v["warranty_months"] or 0
        v["is_kit"] = bool(v["is_kit"])
        v["lead_time_days"] = defaults.pop(v["part_no"], v["lead_time_days"])
        v["repairable"] = bool(v.get("repairable"))
        for column in ("supplier", "expedite_lead_time_days", "repair_turnaround_days",
                       "repair_cost"):
            v.setdefault(column, None)
        rows.append(v)
    cur.executemany(
        "INSERT INTO part (part_no, description, unit_cost, warranty_months, is_kit,"
        " default_lead_time_days, supplier, expedite_lead_time_days, repairable,"
        " repair_turnaround_days, repair_cost) VALUES (%(part_no)s, %(description)s,"
        " %(unit_cost)s, %(warranty_months)s, %(is_kit)s, %(lead_time_days)s, %(supplier)s,"
        " %(expedite_lead_time_days)s, %(repairable)s, %(repair_turnaround_days)s,"
        " %(repair_cost)s) ON CONFLICT (part_no) DO UPDATE"
        " SET description = EXCLUDED.description, unit_cost = EXCLUDED.unit_cost,"
        " warranty_months = EXCLUDED.warranty_months, is_kit = EXCLUDED.is_kit,"
        " supplier = EXCLUDED.supplier, expedite_lead_time_days ="
        " EXCLUDED.expedite_lead_time_days, repairable = EXCLUDED.repairable,"
        " repair_turnaround_days = EXCLUDED.repair_turnaround_days,"
        " repair_cost = EXCLUDED.repair_cost,"
        " default_lead_time_days = coalesce(EXCLUDED.default_lead_time_days,"
        " part.default_lead_time_days)", rows)
    count["parts"] = len(rows)
    cur.executemany("UPDATE part SET default_lead_time_days = %s WHERE part_no = %s",
                    [(days, part_no) for part_no, days in defaults.items()])
    site_rows = [r.values for r in data.rows("lead_times") if r.values["site_id"] != ALL_SITES]
    cur.executemany(
        "INSERT INTO part_lead_time (part_no, site_id, lead_time_days)"
        " VALUES (%(part_no)s, %(site_id)s, %(lead_time_days)s) ON CONFLICT (part_no, site_id)"
        " DO UPDATE SET lead_time_days = EXCLUDED.lead_time_days", site_rows)
    count["lead_times"] = len(data.rows("lead_times"))


def _write_structures(cur: psycopg.Cursor, data: MasterData, count: dict[str, int]) -> None:
    kits = [r.values for r in data.rows("kits")]
    cur.executemany("DELETE FROM kit_item WHERE kit_part_no = %s",
                    [(k,) for k in {r["kit_part_no"] for r in kits}])
    cur.executemany("INSERT INTO kit_item (kit_part_no, part_no, qty)"
                    " VALUES (%(kit_part_no)s, %(part_no)s, %(qty)s)", kits)
    count["kits"] = len(kits)
    bom = [r.values for r in data.rows("bom")]
    cur.executemany("DELETE FROM bom_item WHERE model_id = %s AND component_type = %s",
                    list({(r["model_id"], r["component_type"]) for r in bom}))
    cur.executemany("INSERT INTO bom_item (model_id, component_type, part_no, qty)"
                    " VALUES (%(model_id)s, %(component_type)s, %(part_no)s, %(qty)s)", bom)
    count["bom"] = len(bom)
    mode_parts = [r.values for r in data.rows("failure_mode_parts")]
    cur.executemany("DELETE FROM failure_mode_part WHERE model_id = %s AND failure_mode = %s",
                    list({(r["model_id"], r["failure_mode"]) for r in mode_parts}))
    cur.executemany("INSERT INTO failure_mode_part (model_id, failure_mode, part_no, qty)"
                    " VALUES (%(model_id)s, %(failure_mode)s, %(part_no)s, %(qty)s)",
                    mode_parts)
    count["failure_mode_parts"] = len(mode_parts)
    lives = [r.values for r in data.rows("component_life")]
    cur.executemany(
        "INSERT INTO component_life (model_id, component_type, weibull_beta, weibull_eta_days)"
        " VALUES (%(model_id)s, %(component_type)s, %(weibull_beta)s, %(weibull_eta_days)s)"
        " ON CONFLICT (model_id, component_type) DO UPDATE SET"
        " weibull_beta = EXCLUDED.weibull_beta, weibull_eta_days = EXCLUDED.weibull_eta_days",
        lives)
    count["component_life"] = len(lives)
    plan = [r.values for r in data.rows("maintenance_plan")]
    cur.executemany("DELETE FROM maintenance_plan WHERE model_id = %s AND task = %s",
                    list({(r["model_id"], r["task"]) for r in plan}))
    cur.executemany("INSERT INTO maintenance_plan (model_id, task, interval_days,"
                    " interval_run_hours, interval_starts, duration_minutes, part_no, qty)"
                    " VALUES (%(model_id)s, %(task)s, %(interval_days)s, %(interval_run_hours)s,"
                    " %(interval_starts)s, coalesce(%(duration_minutes)s, 60), %(part_no)s,"
                    " %(qty)s)", plan)
    count["maintenance_plan"] = len(plan)


def _write_stock(cur: psycopg.Cursor, data: MasterData, count: dict[str, int]) -> None:
    stock = [r.values for r in data.rows("stock")]
    everywhere = [r for r in stock if r["site_id"] == ALL_SITES]
    specific = [r for r in stock if r["site_id"] != ALL_SITES]
    sql = ("INSERT INTO stock (part_no, site_id, on_hand, on_order) VALUES (%s, %s, %s, %s)"
           " ON CONFLICT (part_no, site_id) DO UPDATE SET on_hand = EXCLUDED.on_hand,"
           " on_order = EXCLUDED.on_order, updated_at = now()")
    cur.executemany(
        "INSERT INTO stock_default (part_no, on_hand, on_order) VALUES (%s, %s, %s)"
        " ON CONFLICT (part_no) DO UPDATE SET on_hand = EXCLUDED.on_hand,"
        " on_order = EXCLUDED.on_order",
        [(r["part_no"], r["on_hand"], r["on_order"] or 0) for r in everywhere])
    if everywhere:
        sites = [r[0] for r in cur.execute("SELECT site_id FROM site ORDER BY site_id")]
        explicit = {(r["part_no"], r["site_id"]) for r in specific}
        cur.executemany(sql, [(r["part_no"], s, r["on_hand"], r["on_order"] or 0)
                              for r in everywhere for s in sites
                              if (r["part_no"], s) not in explicit])
    cur.executemany(sql, [(r["part_no"], r["site_id"], r["on_hand"], r["on_order"] or 0)
                          for r in specific])
    count["stock"] = len(stock)
