"""Scratch databases beside the configured one, for the demo and the benchmarks.

A scratch database is ``<configured name>_<suffix>`` on the same server: recreated (dropped,
created, migrated) by :func:`fresh_database`, removed by :func:`drop_database`.

A process that recreates a scratch database claims it until it exits (or drops it): a
session advisory lock on a connection to the configured database, which the server releases
when the process ends however it ends. A second process asking for the same scratch database
meanwhile gets :class:`ScratchInUse` instead of dropping the database under the first one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from assetwatch.core.migrate import migrate
from assetwatch.core.settings import Settings
from assetwatch.errors import AssetwatchError, ServiceUnavailable

__all__ = ["ScratchInUse", "drop_database", "fresh_database"]

#: scratch database name -> the connection holding its claim, for this process
_CLAIMS: dict[str, psycopg.Connection] = {}


class ScratchInUse(AssetwatchError):
    """Another process is using the scratch database (another run of the same command)."""


def _claim(settings: Settings, name: str) -> None:
    if name in _CLAIMS and not _CLAIMS[name].closed:
        return
    conn = psycopg.connect(settings.db_url, autocommit=True)
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                       (f"assetwatch scratch {name}",)).fetchone()
    if not (row and row[0]):
        conn.close()
        raise ScratchInUse(
            f"the scratch database {name!r} is in use by another process (another run of "
            "this command?); wait for it to end or stop it, then run again")
    _CLAIMS[name] = conn


def _release(name: str) -> None:
    conn = _CLAIMS.pop(name, None)
    if conn is not None:
        if not conn.closed:     # unlock first: a closed session's locks go only when its
            conn.execute("SELECT pg_advisory_unlock_all()")   # backend has exited
        conn.close()


def fresh_database(settings: Settings, suffix: str, **updates: Any) -> Settings:
    """Recreate and migrate ``<name>_<suffix>``; return settings pointing at it.

    ``updates`` are further settings to change in the returned copy (e.g. ``topic_prefix``).
    """
    parts = urlsplit(settings.db_url)
    name = f"{parts.path.lstrip('/') or 'assetwatch'}_{suffix}"
    try:
        _claim(settings, name)
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
    _release(name)
