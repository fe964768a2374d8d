"""The alerts flow: a silent asset gets its connectivity ticket and its stale alert."""

from __future__ import annotations

import psycopg
import pytest

from assetwatch.core.asset_registry import AssetSpec, register_fleet
from assetwatch.core.settings import Settings
from assetwatch.flows.alerts import alerts_flow


def test_alerts_flow_opens_a_connectivity_ticket_for_a_silent_asset(
        fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSETWATCH_DB_URL", fresh_settings.db_url)
    for name in ("ALERT_WEBHOOK_URL", "ALERT_EMAIL_TO"):
        monkeypatch.delenv(f"ASSETWATCH_{name}", raising=False)
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        register_fleet(conn, [("site-01", "One", None, 24)], [("CP-200", "pump", None)],
                       [AssetSpec("p1", "site-01", "CP-200")])
        conn.execute(
            "INSERT INTO ingest_batch (asset_id, seq, readings, first_reading_at,"
            " last_reading_at, received_at)"
            " SELECT 1, k, 8, now() - make_interval(hours => 5, mins => k + 1),"
            " now() - make_interval(hours => 5, mins => k), now() - make_interval(hours => 5)"
            " FROM generate_series(1, 20) AS k")
        counts = alerts_flow()
        tickets = conn.execute("SELECT kind, status FROM v_service_ticket").fetchall()
        stale = conn.execute("SELECT subject FROM v_alert WHERE rule_uid = 'aw-asset-stale'"
                             " AND is_open").fetchall()
    assert counts["connectivity_tickets"] == {"opened": 1, "closed": 0, "open": 1}
    assert tickets == [("connectivity", "open")]
    assert stale == [("p1",)]
