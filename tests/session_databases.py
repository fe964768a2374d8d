"""The databases of one test session: made fast from a migrated template, dropped together.

Migrating a new database costs about a second, copying one migrated already a fifth of that
(``CREATE DATABASE ... TEMPLATE``), so the schema is migrated once per session. Every DROP
DATABASE waits for a checkpoint (seconds on a busy server) and checkpoints asked for at once
are served by one, so the session's databases are dropped together at its end.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from assetwatch.core.migrate import Migration, _apply, available, migrate, timescale_license
from assetwatch.core.settings import Settings

__all__ = ["SessionDatabases", "install_migrations"]

# Connections that drop a session's databases at its end (the server allows 100 or more).
_DROPPING_AT_ONCE = 16


class SessionDatabases:
    """Creates databases on the stack's server and drops every one of them in :meth:`close`."""

    def __init__(self, base: Settings) -> None:
        self.base = base
        self._names: list[str] = []
        self._template: str | None = None

    def migrated(self) -> Settings:
        """Settings for a new database with the newest schema, and a topic prefix of its own."""
        if self._template is None:
            self._template = self._migrated_template()
        return self.settings_for(self._create(template=self._template))

    def empty(self) -> Settings:
        """Settings for a new database without any schema (for tests of migrating itself)."""
        return self.settings_for(self._create())

    def drop_later(self, name: str) -> None:
        """Drop database ``name`` (made by the code under test) with the session's own."""
        self._names.append(name)

    def settings_for(self, database: str) -> Settings:
        parts = urlsplit(self.base.db_url)
        return self.base.model_copy(update={
            "db_url": urlunsplit(parts._replace(path=f"/{database}")),
            "topic_prefix": f"awt{secrets.token_hex(4)}",
        })

    def close(self) -> None:
        def drop(name: str) -> None:
            with psycopg.connect(self.base.db_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))

        with ThreadPoolExecutor(max_workers=_DROPPING_AT_ONCE) as pool:
            list(pool.map(drop, self._names))
        self._names.clear()

    def _create(self, *, template: str | None = None) -> str:
        name = f"assetwatch_test_{secrets.token_hex(4)}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.base.db_url, autocommit=True) as conn:
            conn.execute(create)
            self._names.append(name)
            if template is not None:  # database privileges are not copied from the template
                conn.execute(sql.SQL(
                    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
                    " 'assetwatch_reader') THEN GRANT CONNECT ON DATABASE {} TO"
                    " assetwatch_reader; END IF; END $$").format(sql.Identifier(name)))
        return name

    def _migrated_template(self) -> str:
        """A database migrated to the newest schema that nothing connects to, to copy from.

        It refuses connections, so TimescaleDB's job scheduler leaves it (a copy needs the
        source database idle); the scheduler started while migrating is ended here.
        """
        name = self._create()
        migrate(self.settings_for(name))
        with psycopg.connect(self.base.db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                sql.Identifier(name)))
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        return name


def install_migrations(settings: Settings, wanted: Callable[[Migration], bool]) -> None:
    """Apply the shipped migrations ``wanted`` chooses to an empty database, recorded as
    :func:`~assetwatch.core.migrate.migrate` records them: the schema of a database installed
    before the others were written."""
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                     " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        for migration in available(timescale_license(conn)):
            if wanted(migration):
                _apply(conn, migration)
