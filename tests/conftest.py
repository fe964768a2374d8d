"""Shared fixtures: a fresh TimescaleDB database and a unique topic prefix per test session.

Integration tests talk to the real project-local PostgreSQL/TimescaleDB and Mosquitto that
``assetwatch stack up`` starts (``make test`` does it first). Each pytest session gets its own
database (``assetwatch_test_<id>``, dropped at the end) and its own MQTT topic prefix, so test
runs never see each other's data.
"""

from __future__ import annotations

import os

# scikit-learn's OpenMP threads fight the servers under test for the same cores (a boosting fit
# ran 20x slower with two threads than with one on a loaded 2-core machine): one thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from seeded_fleet import seeded_at, seeded_settings  # noqa: F401 (fixtures)

from assetwatch.core.migrate import migrate
from assetwatch.core.settings import Settings, load_settings
from assetwatch.stack.mosquitto import LocalMosquitto, private_broker

# Prefect's temporary API server logs its shutdown from an exit hook, after pytest has closed
# the captured streams; don't print "--- Logging error ---" blocks for that.
logging.raiseExceptions = False

# Connections that drop a session's databases at its end (the server allows 100 or more).
_DROPPING_AT_ONCE = 16


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The settings of the local stack, as ``make test`` started it."""
    return load_settings()


@pytest.fixture(scope="session")
def make_database(base_settings: Settings) -> Iterator[Callable[[], Settings]]:
    """A factory of fresh, migrated databases; each returns settings pointing at it.

    The schema is migrated once per session, into a template database; every fresh database is
    a copy of it (``CREATE DATABASE ... TEMPLATE``), a fraction of the cost of migrating anew.
    """
    created: list[str] = []
    template: list[str] = []

    def make() -> Settings:
        if not template:
            template.append(_migrated_template(base_settings, created))
        name = _create_database(base_settings, created, template=template[0])
        return _settings_for(base_settings, name)

    yield make
    _drop_databases(base_settings, created)


@pytest.fixture
def empty_settings(base_settings: Settings) -> Iterator[Settings]:
    """Settings for a database of this test's own with no schema at all (for migration tests)."""
    created: list[str] = []
    yield _settings_for(base_settings, _create_database(base_settings, created))
    _drop_databases(base_settings, created)


def _settings_for(base_settings: Settings, database: str) -> Settings:
    return base_settings.model_copy(update={
        "db_url": _with_database(base_settings.db_url, database),
        "topic_prefix": f"awt{secrets.token_hex(4)}",
    })


def _create_database(base_settings: Settings, created: list[str], *,
                     template: str | None = None) -> str:
    name = f"assetwatch_test_{secrets.token_hex(4)}"
    create = psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
    if template is not None:
        create += psycopg.sql.SQL(" TEMPLATE {}").format(psycopg.sql.Identifier(template))
    with psycopg.connect(base_settings.db_url, autocommit=True) as conn:
        conn.execute(create)
        created.append(name)
        if template is not None:  # database privileges are not copied from the template
            conn.execute(psycopg.sql.SQL(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname ="
                " 'assetwatch_reader') THEN GRANT CONNECT ON DATABASE {} TO assetwatch_reader;"
                " END IF; END $$").format(psycopg.sql.Identifier(name)))
    return name


def _migrated_template(base_settings: Settings, created: list[str]) -> str:
    """A database migrated to the newest schema that nothing connects to, to copy from.

    It refuses connections, so TimescaleDB's job scheduler leaves it (a copy needs the source
    database idle); the scheduler started while migrating is ended here.
    """
    name = _create_database(base_settings, created)
    migrate(_settings_for(base_settings, name))
    with psycopg.connect(base_settings.db_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
            psycopg.sql.Identifier(name)))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    return name


def _drop_databases(base_settings: Settings, names: list[str]) -> None:
    """Drop ``names`` together: each DROP DATABASE waits for a checkpoint (seconds on a busy
    server), and checkpoints asked for at once are served by one."""

    def drop(name: str) -> None:
        with psycopg.connect(base_settings.db_url, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                psycopg.sql.Identifier(name)))

    with ThreadPoolExecutor(max_workers=_DROPPING_AT_ONCE) as pool:
        list(pool.map(drop, names))


@pytest.fixture(scope="session")
def settings(make_database: Callable[[], Settings]) -> Settings:
    """Settings for this session's own database and topic prefix (shared by its tests)."""
    return make_database()


@pytest.fixture
def fresh_settings(make_database: Callable[[], Settings]) -> Settings:
    """Settings for a database of this test's own, for tests that count whole tables."""
    return make_database()


@pytest.fixture
def db(settings: Settings) -> Iterator[psycopg.Connection]:
    """A connection to the session database (autocommit)."""
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def private_mosquitto(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[Callable[..., LocalMosquitto]]:
    """A factory of brokers of the test's own: a temporary data directory, a free port, the
    stack's broker binary, configuration and rules, a topic prefix of their own; started by
    the factory (``supervise=False`` unless asked), stopped at the end of the test.

    ``broker.settings`` points at it; ``broker.kill()`` / ``broker.start()`` make an outage.
    """
    made: list[LocalMosquitto] = []

    def make(devices: Iterable[tuple[str, str]] = (), *, supervise: bool = False
             ) -> LocalMosquitto:
        data_dir = tmp_path_factory.mktemp("broker")
        data_dir.chmod(0o755)
        own = base_settings.model_copy(update={"topic_prefix": f"awb{secrets.token_hex(4)}"})
        broker = private_broker(own, data_dir)
        made.append(broker)
        broker.up(devices, supervise=supervise)
        return broker

    yield make
    for broker in made:
        broker.down()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``--dist loadgroup``) tests that share a costly set-up run in one
    worker, so it is made once: the Prefect test harness, and a module's module-scoped
    fixtures (a private cluster, a demo run, a seeded pipeline)."""
    for item in items:
        group = _shared_setup(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def _shared_setup(item: pytest.Item) -> str | None:
    if "prefect_harness" in getattr(item, "fixturenames", ()):
        return "prefect"
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for definitions in info.name2fixturedefs.values():
        if definitions and definitions[-1].scope == "module":
            return item.nodeid.split("::")[0]
    return None
