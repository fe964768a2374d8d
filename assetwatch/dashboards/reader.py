"""The read-only database role Grafana uses (created by migration 0051)."""

from __future__ import annotations

from psycopg import sql

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings

__all__ = ["READER_ROLE", "enable_reader_login", "grant_reader"]

READER_ROLE = "assetwatch_reader"


def enable_reader_login(settings: Settings, password: str) -> None:
    """Let the role log in with ``password`` and grant it every current ``v_*`` view."""
    with connect(settings, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
            sql.Identifier(READER_ROLE), sql.Literal(password)))
        conn.execute("SELECT assetwatch_grant_reader()")


def grant_reader(settings: Settings) -> int:
    """Grant SELECT on every ``v_*`` view (for servers where no event trigger does it)."""
    with connect(settings, autocommit=True) as conn:
        row = conn.execute("SELECT assetwatch_grant_reader()").fetchone()
    return int(row[0]) if row else 0
