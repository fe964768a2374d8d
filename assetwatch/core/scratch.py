"""Scratch databases beside the configured one, for the demo and the benchmarks.

A scratch database is ``<configured name>_<suffix>`` on the same server: recreated (dropped,
created, migrated) by :func:`fresh_database`, removed by :func:`drop_database`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from assetwatch.core.migrate import migrate
from assetwatch.core.settings import Settings
from assetwatch.errors import ServiceUnavailable

__all__ = ["drop_database", "fresh_database"]


def fresh_database(settings: Settings, suffix: str, **updates: Any) -> Settings:
    """Recreate and migrate ``<name>_<suffix>``; return settings pointing at it.

    ``updates`` are further settings to change in the returned copy (e.g. ``topic_prefix``).
    """
    parts = urlsplit(settings.db_url)
    name = f"{parts.path.lstrip('/') or 'assetwatch'}_{suffix}"
    try:
        with psycopg.connect(settings.db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege:
        raise ServiceUnavailable(
            f"the database user may not create the scratch database {name!r}; grant CREATEDB "
            "or use the local stack") from None
    scratch = settings.model_copy(update={
        "db_url": urlunsplit(parts._replace(path=f"/{name}")), **updates})
    migrate(scratch)
    return scratch


def drop_database(settings: Settings, scratch: Settings) -> None:
    """Drop the scratch database that ``scratch`` points at (connecting as ``settings``)."""
    name = urlsplit(scratch.db_url).path.lstrip("/")
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
