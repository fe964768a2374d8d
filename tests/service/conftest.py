"""Fixtures for service management: a migrated database with a small fleet and master data."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.service.masterdata_load import load_sample_masterdata

MODELS = [("CP-200", "centrifugal_pump", "pump"), ("SC-75", "screw_compressor", "compressor")]


def register_small_fleet(conn: psycopg.Connection, *, sites: int = 2,
                         per_site: int = 3) -> dict[str, int]:
    """``sites`` sites with ``per_site`` assets each, alternating CP-200 and SC-75."""
    site_rows = [(f"site-{i:02d}", f"Site {i}", "ACME", 24 if i == 1 else 72)
                 for i in range(1, sites + 1)]
    assets = [AssetSpec(f"a{i:02d}-{j:02d}", f"site-{i:02d}", MODELS[j % 2][0],
                        criticality=1 if j == 0 else 2)
              for i in range(1, sites + 1) for j in range(per_site)]
    return register_fleet(conn, site_rows, MODELS, assets)


@pytest.fixture
def fleet_db(fresh_settings: Settings) -> Iterator[tuple[psycopg.Connection, dict[str, int]]]:
    """A fresh database with 2 sites x 3 assets and the sample master data, autocommit."""
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        ids = register_small_fleet(conn)
        load_sample_masterdata(conn)
        yield conn, ids


@pytest.fixture
def empty_db(fresh_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def model_version() -> Callable[[psycopg.Connection], int]:
    """A function that registers a failure-risk model version and returns its id."""
    return _make_model_version


def _make_model_version(conn: psycopg.Connection, version: int = 1) -> int:
    row = conn.execute(
        "INSERT INTO model_version (model_name, version) VALUES ('failure-risk', %s)"
        " ON CONFLICT (model_name, component_type, version) DO NOTHING RETURNING model_version_id",
        (version,)).fetchone()
    if row is None:
        row = conn.execute("SELECT model_version_id FROM model_version WHERE version = %s",
                           (version,)).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def predict() -> Callable[..., None]:
    """A function that stores predictions ``{(asset_id, component_type): {horizon: p}}``."""
    return _predict


def _predict(conn: psycopg.Connection, at: object, risks: dict[tuple[int, str], dict[int, float]],
             *, rul: tuple[float, float, float] | None = None, version: int = 1) -> None:
    mv = _make_model_version(conn, version)
    rows = [(at, asset_id, component, horizon, p, *(rul or (None, None, None)), mv)
            for (asset_id, component), by_horizon in risks.items()
            for horizon, p in by_horizon.items()]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
            " horizon_days, failure_probability, rul_days, rul_low_days, rul_high_days,"
            " model_version_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
