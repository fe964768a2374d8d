"""Shared fixtures: a fresh TimescaleDB database and a unique topic prefix per test session.

Integration tests talk to the real project-local PostgreSQL/TimescaleDB and Mosquitto that
``assetwatch stack up`` starts (``make test`` does it first). Each pytest session gets its own
database (``assetwatch_test_<id>``, dropped at the end) and its own MQTT topic prefix, so test
runs never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import tempfile

# scikit-learn's OpenMP threads fight the servers under test for the same cores (a boosting fit
# ran 20x slower with two threads than with one on a loaded 2-core machine): one thread each.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator

import psycopg
import pytest
from seeded_fleet import seeded_at, seeded_settings  # noqa: F401 (fixtures)
from session_databases import SessionDatabases

from assetwatch.core.settings import Settings, load_settings
from assetwatch.stack.mosquitto import LocalMosquitto, private_broker

# Prefect's temporary API server logs its shutdown from an exit hook, after pytest has closed
# the captured streams; don't print "--- Logging error ---" blocks for that.
logging.raiseExceptions = False


def pytest_configure(config: pytest.Config) -> None:
    """Prefect's settings for this test process, set before any test module imports Prefect
    (it reads them once, on import): a temporary Prefect database of the process's own (two
    pytest-xdist workers migrating one SQLite file block each other), and time for a temporary
    API server to come up on a machine busy with the servers under test."""
    home = tempfile.mkdtemp(prefix="assetwatch-prefect-")
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    os.environ["PREFECT_HOME"] = home
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    """The settings of the local stack, as ``make test`` started it."""
    return load_settings()


@pytest.fixture(scope="session")
def session_databases(base_settings: Settings) -> Iterator[SessionDatabases]:
    """Every database this session makes, dropped together at its end."""
    databases = SessionDatabases(base_settings)
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def make_database(session_databases: SessionDatabases) -> Callable[[], Settings]:
    """A factory of fresh, migrated databases; each returns settings pointing at it (a copy of
    one migrated once per session)."""
    return session_databases.migrated


@pytest.fixture
def empty_settings(session_databases: SessionDatabases) -> Settings:
    """Settings for a database of this test's own with no schema at all (for migration tests)."""
    return session_databases.empty()


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
