"""Scratch databases: recreated on demand, never under another process that uses one."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from assetwatch.core.scratch import ScratchInUse, drop_database, fresh_database
from assetwatch.core.settings import Settings


def _url(settings: Settings, name: str) -> str:
    return urlunsplit(urlsplit(settings.db_url)._replace(path=f"/{name}"))


def test_a_scratch_database_in_use_elsewhere_is_left_alone(
        make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    name = f"{urlsplit(settings.db_url).path.lstrip('/')}_s1"
    with psycopg.connect(settings.db_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_url(settings, name), autocommit=True) as conn:
        conn.execute("CREATE TABLE marker (x int)")
    # another process holds the claim (the key fresh_database uses)
    other = psycopg.connect(settings.db_url, autocommit=True)
    other.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"assetwatch scratch {name}",))
    with pytest.raises(ScratchInUse, match=f"{name}.+in use by another process"):
        fresh_database(settings, "s1")
    with psycopg.connect(_url(settings, name)) as conn:
        assert conn.execute("SELECT to_regclass('marker') IS NOT NULL").fetchone() == (True,)
    other.close()                           # the other process ends: its claim goes with it

    scratch = fresh_database(settings, "s1")
    with psycopg.connect(scratch.db_url) as conn:   # recreated and migrated
        assert conn.execute("SELECT to_regclass('marker') IS NULL").fetchone() == (True,)
        assert conn.execute("SELECT to_regclass('telemetry') IS NOT NULL").fetchone() == (True,)
    assert fresh_database(settings, "s1").db_url == scratch.db_url   # ours: again is fine
    with psycopg.connect(settings.db_url, autocommit=True) as probe:
        taken = probe.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                              (f"assetwatch scratch {name}",)).fetchone()
        assert taken == (False,)
        drop_database(settings, scratch)    # dropping releases the claim
        taken = probe.execute("SELECT pg_try_advisory_lock(hashtext(%s))",
                              (f"assetwatch scratch {name}",)).fetchone()
        assert taken == (True,)
