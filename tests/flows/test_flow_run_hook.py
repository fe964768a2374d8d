"""Flow run states recorded for the pipeline-health dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.flows.hooks import flow_run_hook, record_flow_run

pytestmark = pytest.mark.integration


def _state(kind: str, final: bool, message: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(type=SimpleNamespace(value=kind), name=kind.title(), message=message,
                           timestamp=datetime.now(UTC), is_final=lambda: final)


def test_hook_upserts_one_row_per_run(fresh_settings: Settings) -> None:
    flow = SimpleNamespace(name="score")
    run = SimpleNamespace(id="hook-7b0c", deployment_id=None, start_time=None, end_time=None)
    flow_run_hook(flow, run, _state("RUNNING", False), settings=fresh_settings)
    flow_run_hook(flow, run, _state("FAILED", True, "database unavailable"),
                  settings=fresh_settings)
    with psycopg.connect(fresh_settings.db_url) as conn:
        rows = conn.execute("SELECT flow_name, state, state_name, started_at IS NOT NULL,"
                            " ended_at IS NOT NULL, message FROM v_flow_run"
                            " WHERE flow_run_id = 'hook-7b0c'").fetchall()
    assert rows == [("score", "FAILED", "Failed", True, True, "database unavailable")]


def test_hook_never_raises(fresh_settings: Settings) -> None:
    broken = fresh_settings.model_copy(update={"db_url": "postgresql://nobody@127.0.0.1:9/x"})
    flow_run_hook(SimpleNamespace(name="x"), SimpleNamespace(id="1"), _state("RUNNING", False),
                  settings=broken)


def test_record_keeps_the_start_time(fresh_settings: Settings) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    record_flow_run(fresh_settings, "keep-1", "demand", "running", started_at=start)
    record_flow_run(fresh_settings, "keep-1", "demand", "completed", ended_at=start)
    with psycopg.connect(fresh_settings.db_url) as conn:
        row = conn.execute("SELECT state, started_at, duration_s FROM v_flow_run"
                           " WHERE flow_run_id = 'keep-1'").fetchone()
    assert row == ("COMPLETED", start, 0)
