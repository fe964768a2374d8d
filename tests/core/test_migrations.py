"""Schema migrations against the real TimescaleDB."""

from __future__ import annotations

import psycopg

from assetwatch.core.migrate import available, migrate, timescale_license
from assetwatch.core.settings import Settings


def test_migrate_is_idempotent(settings: Settings) -> None:
    assert migrate(settings) == []


def test_every_shipped_migration_is_recorded(settings: Settings, db: psycopg.Connection) -> None:
    license_name = timescale_license(db)
    shipped = {m.version for m in available(license_name)}
    recorded = {r[0] for r in db.execute("SELECT version FROM schema_migrations")}
    assert shipped == recorded


def test_telemetry_is_a_hypertable(db: psycopg.Connection) -> None:
    names = {r[0] for r in db.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables")}
    assert {"telemetry", "anomaly_score"} <= names


def test_read_model_views_exist(db: psycopg.Connection) -> None:
    views = {r[0] for r in db.execute(
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'")}
    for view in ("v_asset", "v_telemetry", "v_anomaly_score", "v_failure_risk",
                 "v_parts_demand", "v_service_ticket", "v_ingest_batch", "v_dead_letter",
                 "v_device_completeness"):
        assert view in views


def test_one_open_ticket_per_asset_and_failure_mode(db: psycopg.Connection) -> None:
    db.execute("INSERT INTO site (site_id, name) VALUES ('mig-site', 'Migration site')")
    db.execute("INSERT INTO asset_model (model_id, kind) VALUES ('mig-model', 'pump')")
    asset_id = db.execute(
        "INSERT INTO asset (asset_tag, site_id, model_id) VALUES ('mig-asset', 'mig-site',"
        " 'mig-model') RETURNING asset_id").fetchone()[0]
    insert = ("INSERT INTO service_ticket (asset_id, failure_mode, priority, risk)"
              " VALUES (%s, 'bearing_wear', 2, 0.5)")
    db.execute(insert, (asset_id,))
    try:
        db.execute(insert, (asset_id,))
    except psycopg.errors.UniqueViolation:
        pass
    else:
        raise AssertionError("a second open ticket for the same failure mode was accepted")
