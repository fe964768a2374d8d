"""Versioned schema migrations, applied in order and exactly once.

Migrations are SQL files in ``migrations/`` named ``NNNN_name.sql``. A version may instead come
in two variants, ``NNNN_name.apache.sql`` and ``NNNN_name.timescale.sql``: the one matching the
server's ``timescaledb.license`` is applied, so Timescale-licensed features (continuous
aggregates, compression, background policies) are used only where the licence allows.
Applying is idempotent and serialised by an advisory lock, so concurrent starters are safe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.errors import AssetwatchError

__all__ = [
    "Migration",
    "MigrationError",
    "applied_versions",
    "migrate",
    "pending",
    "timescale_license",
]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+?)(?:\.(apache|timescale))?\.sql$")
_LOCK_ID = 0x61737365  # "asse"


class MigrationError(AssetwatchError):
    """A migration failed; the message names the file."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def timescale_license(conn: psycopg.Connection) -> str:
    """``'apache'`` or ``'timescale'`` (the edition of the installed TimescaleDB)."""
    row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
    return (row[0] if row and row[0] else "apache").lower()


def available(license_name: str) -> list[Migration]:
    """Every migration shipped with the package, the variant for ``license_name`` chosen."""
    by_version: dict[int, Migration] = {}
    for entry in resources.files("assetwatch.core.migrations").iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        version, name, variant = int(match[1]), match[2], match[3]
        if variant is not None and variant != _variant(license_name):
            continue
        by_version[version] = Migration(version, name, entry.read_text())
    return [by_version[v] for v in sorted(by_version)]


def _variant(license_name: str) -> str:
    return "timescale" if license_name == "timescale" else "apache"


def applied_versions(conn: psycopg.Connection) -> set[int]:
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def pending(conn: psycopg.Connection) -> list[Migration]:
    done = applied_versions(conn)
    return [m for m in available(timescale_license(conn)) if m.version not in done]


def migrate(settings: Settings) -> list[Migration]:
    """Apply pending migrations; return the ones applied (empty when up to date)."""
    with connect(settings, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except psycopg.Error as e:
            raise MigrationError(
                f"TimescaleDB is not available on {settings.db_endpoint}: {e.diag.message_primary}"
                " (install it, and add timescaledb to shared_preload_libraries)"
            ) from None
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            todo = pending(conn)
            for migration in todo:
                _apply(conn, migration)
            return todo
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql.encode())  # type: ignore[call-overload]
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
    except psycopg.Error as e:
        raise MigrationError(
            f"migration {migration.version:04d}_{migration.name} failed: "
            f"{e.diag.message_primary or e}"
        ) from None
