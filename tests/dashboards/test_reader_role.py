"""Grafana's database role reads the v_* views and nothing else."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from assetwatch.core.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def as_reader(seeded_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(seeded_settings.db_url) as conn:
        conn.execute("SET ROLE assetwatch_reader")
        yield conn
        conn.rollback()


def _denied(conn: psycopg.Connection, sql: str) -> bool:
    try:
        with conn.transaction():
            conn.execute(sql)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_reader_reads_every_view(as_reader: psycopg.Connection) -> None:
    views = [r[0] for r in as_reader.execute(
        "SELECT viewname FROM pg_views WHERE schemaname = 'public' AND viewname LIKE 'v\\_%'"
        " ORDER BY 1")]
    assert "v_fleet_health" in views and "v_telemetry" in views
    for view in views:
        with as_reader.transaction():
            as_reader.execute(psycopg.sql.SQL("SELECT * FROM {} LIMIT 1").format(
                psycopg.sql.Identifier(view)))
    assert as_reader.execute("SELECT count(*) FROM v_telemetry").fetchone()[0] > 0


@pytest.mark.parametrize("table", ["telemetry", "asset", "service_ticket", "dead_letter",
                                   "model_version", "detector_checkpoint", "flow_run_state",
                                   "schema_migrations"])
def test_reader_cannot_read_tables(as_reader: psycopg.Connection, table: str) -> None:
    assert _denied(as_reader, f"SELECT * FROM {table} LIMIT 1")


@pytest.mark.parametrize("statement", [
    "INSERT INTO telemetry VALUES (now(), 1, 1, 1.0)",
    "UPDATE v_dead_letter SET reason = 'x'",
    "DELETE FROM v_dead_letter",
    "INSERT INTO v_flow_run (flow_run_id, flow_name, state) VALUES ('x', 'y', 'z')",
    "CREATE TABLE reader_was_here (x int)",
    "CREATE VIEW v_reader_was_here AS SELECT 1",
    "DROP VIEW v_asset",
    "TRUNCATE telemetry",
    "SELECT assetwatch_grant_reader()",
])
def test_reader_cannot_write(as_reader: psycopg.Connection, statement: str) -> None:
    assert _denied(as_reader, statement)


def test_role_has_no_administrative_rights(
        seeded_settings: Settings) -> None:
    with psycopg.connect(seeded_settings.db_url) as conn:
        row = conn.execute("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb"
                           " FROM pg_roles WHERE rolname = 'assetwatch_reader'").fetchone()
    assert row is not None and not any(row[1:])


def test_migration_is_safe_when_the_role_exists(make_database) -> None:
    # The role is cluster-wide and already exists here: another database migrates cleanly.
    settings = make_database()
    with psycopg.connect(settings.db_url) as conn:
        assert conn.execute("SELECT has_table_privilege('assetwatch_reader', 'v_fleet_health',"
                            " 'SELECT')").fetchone()[0]


def test_reader_login_lets_grafana_connect_and_read_views(seeded_settings: Settings) -> None:
    from urllib.parse import urlsplit, urlunsplit

    from assetwatch.dashboards.reader import enable_reader_login

    parts = urlsplit(seeded_settings.db_url)
    reader_url = urlunsplit(parts._replace(
        netloc=f"assetwatch_reader:pw-test@{parts.hostname}:{parts.port}"))
    enable_reader_login(seeded_settings, "pw-test")
    try:
        with psycopg.connect(reader_url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("assetwatch_reader",)
            assert conn.execute("SELECT count(*) FROM v_fleet_health").fetchone()[0] == 3
            assert _denied(conn, "SELECT count(*) FROM telemetry")
    finally:
        with psycopg.connect(seeded_settings.db_url, autocommit=True) as conn:
            conn.execute("ALTER ROLE assetwatch_reader NOLOGIN PASSWORD NULL")
