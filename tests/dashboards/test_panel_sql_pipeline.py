"""The dashboards on data from the real pipeline: a short simulated run of ``assetwatch demo``.

The demo streams a small simulated fleet through the edge agent, Mosquitto and ingest into
TimescaleDB, scores it, trains and runs the failure models, and computes demand and tickets.
Every panel query, expanded as Grafana expands it, then runs as the read-only role on that
database: it must succeed and return its panel's columns, and the panels the pipeline feeds
must return rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from session_databases import SessionDatabases

from assetwatch.core.settings import Settings
from assetwatch.dashboards.board import dashboard_json
from assetwatch.dashboards.catalog import dashboards
from assetwatch.dashboards.macros import render_sql

from .test_panel_sql import _query, _time_range, _variables

pytestmark = pytest.mark.integration

# Panels whose data a short run without faults, flow hooks or closed tickets does not produce.
MAY_BE_EMPTY = {
    ("aw-pipeline-health", "Dead letters by reason"), ("aw-pipeline-health", "Dead letters"),
    ("aw-pipeline-health", "Flow runs by state"), ("aw-pipeline-health", "Flow runs"),
    ("aw-pipeline-health", "Ingest workers"),  # the demo runs its workers in-process
    ("aw-service-tickets", "Resolutions"), ("aw-service-tickets", "Repeat repairs"),
    ("aw-service-tickets", "Held back by the daily cap"),
    ("aw-service-tickets", "Tickets opened and closed"),
    ("aw-service-tickets", "Open tickets by priority and age"),
    ("aw-asset-detail", "Service tickets"), ("aw-asset-detail", "Anomaly events"),
    ("aw-asset-detail", "Maintenance and failure events"),
    ("aw-parts-demand", "Projected stock-outs"), ("aw-parts-demand", "Warranty-claims forecast"),
    ("aw-parts-demand", "Tickets short of parts"),  # shortages may all be covered by the end
    # one plan, one close-out: no visit again within 30 days, maybe no breach yet, and a
    # demo run shortly before midnight plans its first visits for tomorrow
    ("aw-field-service", "Repeat visits"), ("aw-field-service", "SLA breaches and near-breaches"),
    ("aw-field-service", "Today's visits"),
}


@pytest.fixture(scope="module")
def pipeline_db(make_database: Callable[[], Settings], session_databases: SessionDatabases,
                tmp_path_factory: pytest.TempPathFactory) -> str:
    settings = make_database()
    env = dict(os.environ, ASSETWATCH_DB_URL=settings.db_url,
               ASSETWATCH_TOPIC_PREFIX=settings.topic_prefix)
    out = tmp_path_factory.mktemp("demo")
    parts = urlsplit(settings.db_url)
    demo_db = parts.path.lstrip("/") + "_demo"
    session_databases.drop_later(demo_db)
    done = subprocess.run(
        [sys.executable, "-m", "assetwatch.cli", "demo", "--sites", "1", "--assets-per-site",
         "3", "--days", "20", "--sample-interval", "900", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (out / "report" / "index.html").is_file()
    return urlunsplit(parts._replace(path=f"/{demo_db}"))


def test_every_panel_query_runs_on_pipeline_data(pipeline_db: str) -> None:
    now = datetime.now(UTC) + timedelta(minutes=1)
    empty = []
    with psycopg.connect(pipeline_db) as conn:
        for spec in dashboards():
            document = dashboard_json(spec)
            time_from, time_to = _time_range(spec, now)
            variables, quoted = _variables(conn, document, spec)
            for panel, panel_spec in zip(document["panels"], spec.panels, strict=True):
                rendered = render_sql(panel["targets"][0]["rawSql"], time_from, time_to,
                                      variables, multi=quoted)
                columns, rows = _query(conn, rendered)
                assert tuple(columns) == panel_spec.columns, (spec.uid, panel["title"])
                if not rows and (spec.uid, panel["title"]) not in MAY_BE_EMPTY:
                    empty.append((spec.uid, panel["title"]))
    assert empty == []


def test_report_of_the_pipeline_run_is_written(pipeline_db: str, tmp_path: Path) -> None:
    from assetwatch.core.settings import load_settings
    from assetwatch.report import write_report

    text = write_report(load_settings(db_url=pipeline_db), tmp_path).read_text()
    assert text.count("<svg") >= 1 + 3 * 2 and "Parts demand" in text
