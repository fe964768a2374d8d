"""Every panel's SQL, expanded as Grafana expands it, runs on TimescaleDB as the read-only role.

Each query (panels, template variables, annotations) of every generated dashboard JSON is
rendered with :func:`~assetwatch.dashboards.macros.render_sql` over the dashboard's default time
range and executed as ``assetwatch_reader`` on the seeded database: it must succeed, return
exactly the columns its panel declares, and return rows.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.dashboards.board import dashboard_json
from assetwatch.dashboards.catalog import dashboards
from assetwatch.dashboards.macros import parse_interval, render_sql
from assetwatch.dashboards.spec import DashboardSpec

SPECS = dashboards()


def _time_range(spec: DashboardSpec, now: datetime) -> tuple[datetime, datetime]:
    match = re.fullmatch(r"now-(\w+)", spec.time_from)
    assert match, spec.time_from
    return now - parse_interval(match[1]), now + timedelta(minutes=1)


def _query(conn: psycopg.Connection, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL ROLE assetwatch_reader")
        cur.execute(sql.encode())
        return [c.name for c in cur.description or []], cur.fetchall()


def _variables(conn: psycopg.Connection, document: dict[str, Any],
               spec: DashboardSpec) -> tuple[dict[str, Any], list[str]]:
    """Values as Grafana would pick them: every value for multi/All, else the first."""
    values: dict[str, Any] = {}
    quoted = []
    for variable in document.get("templating", {}).get("list", []):
        _, rows = _query(conn, variable["query"])
        assert rows, f"{spec.uid}: variable {variable['name']} has no values"
        options = [str(row[0]) for row in rows]
        if variable.get("multi") or variable.get("includeAll"):
            values[variable["name"]] = options
            quoted.append(variable["name"])
        else:
            values[variable["name"]] = options[0]
    return values, quoted


@pytest.fixture(scope="module")
def reader(seeded_settings: Settings) -> Any:
    with psycopg.connect(seeded_settings.db_url) as conn:
        yield conn


@pytest.mark.integration
@pytest.mark.parametrize("spec", SPECS, ids=[s.uid for s in SPECS])
def test_every_panel_query_returns_its_columns_and_rows(
        spec: DashboardSpec, reader: psycopg.Connection, seeded_at: datetime) -> None:
    document = dashboard_json(spec)
    time_from, time_to = _time_range(spec, seeded_at)
    variables, quoted = _variables(reader, document, spec)
    panels = document["panels"]
    assert len(panels) == len(spec.panels)
    for panel, panel_spec in zip(panels, spec.panels, strict=True):
        assert panel["title"] == panel_spec.title
        for target in panel["targets"]:
            sql = render_sql(target["rawSql"], time_from, time_to, variables, multi=quoted)
            assert "$" not in sql.replace("$$", ""), f"{panel['title']}: unexpanded {sql}"
            try:
                columns, rows = _query(reader, sql)
            except psycopg.Error as e:
                pytest.fail(f"{spec.uid} / {panel['title']}: {e}\n{sql}")
            assert tuple(columns) == panel_spec.columns, panel["title"]
            assert rows, f"{spec.uid} / {panel['title']} returned no rows:\n{sql}"
            if target["format"] == "time_series":
                assert columns[0] == "time", panel["title"]
                keys = [row[:2] if "metric" in columns else row[:1] for row in rows]
                if "LIMIT" not in sql:  # one point per series and time, as Grafana expects
                    assert len(set(keys)) == len(keys), f"{panel['title']}: duplicate points"
    annotations = document.get("annotations", {}).get("list", [])
    for annotation, annotation_spec in zip(annotations, spec.annotations, strict=True):
        sql = render_sql(annotation["target"]["rawSql"], time_from, time_to, variables,
                         multi=quoted)
        columns, rows = _query(reader, sql)
        assert tuple(columns) == annotation_spec.columns
        assert rows, f"{spec.uid}: annotation {annotation['name']} returned no rows"


def test_panels_read_only_views() -> None:
    relation = re.compile(r"(?<!epoch )\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)", re.IGNORECASE)
    for spec in SPECS:
        queries = [p.sql for p in spec.panels] + [v.sql for v in spec.variables] + [
            a.sql for a in spec.annotations]
        for sql in queries:
            for name in relation.findall(sql):
                assert name.startswith("v_") or name in ("jsonb_each",), (spec.uid, name)
