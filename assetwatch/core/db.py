"""Database access: connections and pools with clear errors.

All SQL in assetwatch is written with parameters and :mod:`psycopg.sql` identifiers; nothing
is formatted into a query string.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from assetwatch.core.settings import Settings
from assetwatch.errors import ServiceUnavailable

__all__ = ["connect", "open_pool", "session"]


def connect(settings: Settings, *, autocommit: bool = False) -> psycopg.Connection:
    """Open one connection, or raise :class:`ServiceUnavailable` naming the setting."""
    try:
        return psycopg.connect(
            settings.db_url,
            autocommit=autocommit,
            connect_timeout=max(1, int(settings.db_connect_timeout_s)),
            application_name="assetwatch",
        )
    except psycopg.OperationalError as e:
        raise _unavailable(settings, e) from None


@contextmanager
def session(settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection for one unit of work: committed on success, rolled back on error."""
    conn = connect(settings)
    try:
        with conn:
            yield conn
    finally:
        conn.close()


def open_pool(settings: Settings, *, min_size: int = 1, max_size: int | None = None,
              name: str = "assetwatch") -> ConnectionPool:
    """Open a pool and wait until it holds a connection, so a bad URL fails fast."""
    pool = ConnectionPool(
        settings.db_url,
        min_size=min_size,
        max_size=max_size or settings.db_pool_size,
        open=False,
        name=name,
        check=ConnectionPool.check_connection,
        kwargs={"application_name": f"assetwatch-{name}"},
    )
    try:
        pool.open(wait=True, timeout=settings.db_connect_timeout_s)
    except Exception as e:  # PoolTimeout hides the libpq reason; try once to get it
        pool.close()
        try:
            psycopg.connect(settings.db_url, connect_timeout=2).close()
        except psycopg.OperationalError as oe:
            raise _unavailable(settings, oe) from None
        raise ServiceUnavailable(
            f"cannot open a database pool to {settings.db_endpoint}: {e}"
        ) from None
    return pool


def _unavailable(settings: Settings, error: psycopg.OperationalError) -> ServiceUnavailable:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    reason = lines[0].rpartition(" failed: ")[2] if lines else type(error).__name__
    return ServiceUnavailable(
        f"cannot connect to PostgreSQL at {settings.db_endpoint} ({reason}); "
        "start it with 'assetwatch stack up' or set ASSETWATCH_DB_URL"
    )
