"""The thin thread end to end: a small simulated fleet through every stage, on real servers.

Edge agent -> Mosquitto -> ingest -> TimescaleDB -> detectors -> Prefect flows (train, score,
demand, tickets) -> dashboards and report; the summary is read back from the database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from session_databases import SessionDatabases

from assetwatch.core.settings import Settings
from assetwatch.demo.options import DemoOptions
from assetwatch.demo.pipeline import SILENT_HOURS, run_demo
from assetwatch.errors import ConfigError
from assetwatch.sim.fleet import build_fleet
from assetwatch.sim.truth import dropped_readings, fleet_truth


@pytest.fixture(scope="module")
def demo_run(settings: Settings, session_databases: SessionDatabases,
             tmp_path_factory: pytest.TempPathFactory):
    """One small demo run in ``<session database>_demo``, dropped with the session's."""
    out = tmp_path_factory.mktemp("demo")
    options = DemoOptions(sites=1, assets_per_site=3, days=45, sample_interval_s=1800,
                          seed=11, ingest_workers=2, out_dir=out)
    session_databases.drop_later(urlsplit(settings.db_url).path.lstrip("/") + "_demo")
    return run_demo(settings, options), out


def test_every_stage_leaves_rows_in_the_database(demo_run) -> None:
    summary, _ = demo_run
    counts = summary.counts
    for stage in ("assets registered", "readings ingested", "batches ingested (exactly once)",
                  "asset events (maintenance, replacements, failures, errors)",
                  "configuration records (installed components)", "anomaly scores",
                  "model versions registered", "failure predictions", "parts demand rows",
                  "inventory policy rows"):
        assert counts[stage] > 0, stage
    assert counts["dead letters"] == 3   # the faulty device's messages, kept with a reason
    # 3 assets x 8 sensors x 45 days x 48 samples a day, each reading exactly once, but the
    # silent asset's last 3 hours (6 samples) that never left the site and the readings
    # the world's sensor dropouts removed before the cut (counted by the ground truth)
    assert counts["readings ingested"] == 3 * 8 * 45 * 48 - 8 * 6 - _dropped(45, 1800, 11)


def _dropped(days: int, interval_s: int, seed: int) -> int:
    """Readings the simulated sensors' dropouts remove from the demo's run (they fall at the
    same offsets from the start whatever the start is)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    truth = fleet_truth(build_fleet(1, 3, seed, start), start + timedelta(days=days))
    silent = truth.fleet.assets[-1].asset_tag
    cut = int((start + timedelta(days=days, hours=-SILENT_HOURS)).timestamp() * 1000)
    dropped = dropped_readings(truth.timelines, interval_s, {silent: cut})
    assert dropped > 0, "the demo's world has no sensor dropout: the count proves nothing"
    return dropped


def test_the_loop_is_closed(demo_run) -> None:
    summary, _ = demo_run
    counts = summary.counts
    assert counts["hourly rollup rows (housekeeping)"] > 0
    assert [c.outcome for c in summary.configs] == ["pushed", "refused"]
    assert "warp_core_temperature" in summary.configs[1].detail
    assert counts["configurations in force as pushed (no drift)"] == 1
    assert len(summary.dead_letters) == 3 and all(summary.dead_letters)
    # every ticket closed with a labelled resolution (by the technician, the parts story or
    # the field close-out) is one training label
    with psycopg.connect(summary.database_url) as conn:
        labelled = conn.execute(
            "SELECT count(*) FROM service_ticket WHERE resolution_code IN"
            " ('confirmed_failure', 'no_fault_found', 'preventive_replacement')").fetchone()[0]
    assert counts["tickets closed with a resolution (training labels)"] == labelled >= len(
        summary.closed_tickets) + summary.parts_tickets_closed
    tag, minutes, ticket, notified = summary.silent
    assert tag == "S01-P003" and 180 <= minutes < 240
    assert ticket is not None and notified == 1
    assert counts["connectivity tickets open"] == 1
    assert summary.notifications_received == counts["notifications delivered"] >= 1


def test_outputs_are_written(demo_run) -> None:
    summary, out = demo_run
    assert summary.report_path is not None and summary.report_path.exists()
    assert "<svg" in summary.report_path.read_text()
    boards = list(Path(summary.dashboards_dir).rglob("*.json"))
    assert boards, "no dashboard JSON written"
    for board in boards:
        assert json.loads(board.read_text())["uid"]
    assert (out / "ground_truth.jsonl").exists(), "the simulator wrote no ground truth"


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ConfigError):
        DemoOptions(sites=0)


def test_the_parts_story_happens_on_the_fleet(demo_run) -> None:
    summary, _ = demo_run
    parts = summary.parts
    assert " short: " in parts["shortage"], parts
    assert "approved, received" in parts["replenishment order"], parts
    assert "card released" in parts["two-bin card"] and "0 card" not in parts["two-bin card"]
    assert " to " in parts["return to supplier"] and "credited" in parts["return to supplier"]
    assert parts["warranty claim"].startswith("WC-") and "accepted" in parts["warranty claim"]
    assert "back in stock" in parts["repair loop"], parts
    assert "tested fine" in parts["no fault found"], parts
    counts = summary.counts
    assert counts["replenishment orders received"] >= 1
    assert counts["warranty claims"] >= 1
    assert counts["removed parts returned (RMA, repair, scrap, NFF)"] >= 3
    assert counts["stock movements (ledger)"] > 0
