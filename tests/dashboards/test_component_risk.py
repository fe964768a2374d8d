"""One risk everywhere: fleet health, the report's ordering and the risk dashboard read the
highest probability over the horizons (v_component_risk), so a component that will very
probably fail within 30 days is never shown as low risk because its 7-day probability is small.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from session_databases import install_migrations

from assetwatch.core.migrate import available, migrate
from assetwatch.core.settings import Settings
from assetwatch.report.queries import _FLEET

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _seed(conn: psycopg.Connection) -> dict[str, int]:
    conn.execute("INSERT INTO site (site_id, name, customer) VALUES ('S1', 'North', 'Acme')")
    conn.execute("INSERT INTO asset_model (model_id, kind) VALUES ('CP', 'pump')")
    for component in ("seal", "bearing"):
        conn.execute("INSERT INTO component_type (component_type) VALUES (%s)", (component,))
    ids = {tag: conn.execute("INSERT INTO asset (asset_tag, site_id, model_id) VALUES"
                             " (%s, 'S1', 'CP') RETURNING asset_id", (tag,)).fetchone()[0]
           for tag in ("P1", "P2")}
    version = conn.execute(
        "INSERT INTO model_version (model_name, component_type, version, params, features,"
        " metrics, artifact, is_current) VALUES ('failure_risk', 'seal', 1, '{}', '{}', '{}',"
        " ''::bytea, true) RETURNING model_version_id").fetchone()[0]
    rows = [  # P1's seal: 4 % in 7 days, 98 % in 30; P2's bearing: 30 % / 35 %
        (ids["P1"], "seal", 7, 0.04), (ids["P1"], "seal", 30, 0.98),
        (ids["P1"], "bearing", 7, 0.01), (ids["P1"], "bearing", 30, 0.02),
        (ids["P2"], "bearing", 7, 0.30), (ids["P2"], "bearing", 30, 0.35)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
            " horizon_days, failure_probability, model_version_id) VALUES (%s, %s, %s, %s, %s,"
            " %s)", [(AT, a, c, h, p, version) for a, c, h, p in rows])
    return ids


@pytest.mark.integration
def test_fleet_health_report_and_dashboard_rank_by_the_same_risk(
        make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        _seed(conn)
        risk = {(r[0], r[1]): r[2:] for r in conn.execute(
            "SELECT asset_tag, component_type, risk, risk_horizon_days, short_horizon_days,"
            " short_horizon_probability FROM v_component_risk")}
        assert risk["P1", "seal"] == pytest.approx((0.98, 30, 7, 0.04))
        assert risk["P2", "bearing"] == pytest.approx((0.35, 30, 7, 0.30))
        health = {r[0]: r[1:] for r in conn.execute(
            "SELECT asset_tag, predicted_risk, risk_horizon_days, riskiest_component"
            " FROM v_fleet_health")}
        assert health["P1"] == pytest.approx((0.98, 30, "seal"))
        assert health["P2"] == pytest.approx((0.35, 30, "bearing"))
        # the report's fleet table lists P1 first (same health: no data for either)
        order = [r[2] for r in conn.execute(_FLEET)]
        assert order == ["P1", "P2"]
        from assetwatch.dashboards.risk import dashboard

        top = next(p for p in dashboard().panels if p.title == "Top assets by risk")
        rows = conn.execute(top.sql).fetchall()
        assert [(r[0], r[2]) for r in rows] == [("P1", "seal"), ("P2", "bearing")]


def _fleet_health_view(settings: Settings) -> str:
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        return conn.execute("SELECT pg_get_viewdef('v_fleet_health')").fetchone()[0]


@pytest.mark.integration
def test_an_installed_database_gets_the_same_fleet_health(
        make_database: Callable[[], Settings], empty_settings: Settings) -> None:
    """A database installed before 0030 (its v_fleet_health from 0052, ranking by the shortest
    horizon) is upgraded by 0030 and 0140, applied late, to the very view a new database gets."""
    install_migrations(empty_settings, lambda m: m.version not in {30, 140})
    installed = _fleet_health_view(empty_settings)
    assert "v_component_risk" not in installed
    assert [(m.version, m.name) for m in migrate(empty_settings)] == [
        (30, "component_risk"), (140, "fleet_health_component_risk")]
    new = _fleet_health_view(make_database())
    assert "v_component_risk" in new
    assert _fleet_health_view(empty_settings) == new


def test_the_upgrade_in_0030_writes_the_view_of_0140() -> None:
    """0030 re-defines v_fleet_health where it exists already with the text of 0140, so an
    installed database never shows a third definition between the two."""
    by_version = {m.version: m.sql for m in available("apache")}
    upgrade = by_version[30][by_version[30].index("DO $migration$"):]
    embedded = upgrade.split("$view$")[1]
    final = by_version[140][by_version[140].index("CREATE OR REPLACE VIEW v_fleet_health"):]
    assert " ".join(embedded.split()) == " ".join(final.split()).rstrip(";")
