"""The generated dashboards: valid against the SDK's dashboard schema, stable, provisionable."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from assetwatch.dashboards.board import dashboard_json
from assetwatch.dashboards.catalog import dashboards
from assetwatch.dashboards.errors import DashboardError
from assetwatch.dashboards.provisioning import write_dashboards
from assetwatch.dashboards.schema import validate_dashboard

SPECS = dashboards()


@pytest.mark.parametrize("spec", SPECS, ids=[s.uid for s in SPECS])
def test_dashboard_validates_against_the_schema(spec) -> None:
    validate_dashboard(dashboard_json(spec))


@pytest.mark.parametrize("mutate", [
    lambda d: d["panels"][0]["gridPos"].__setitem__("w", "12"),
    lambda d: d["panels"][0]["options"].__setitem__("notAnOption", 1),
    lambda d: d["panels"][0].__setitem__("type", "no-such-panel"),
    lambda d: d["panels"][0]["targets"][0].__setitem__("rawSQL", "SELECT 1"),
    lambda d: d.__setitem__("graphTooltip", 7),
    lambda d: d["panels"][1]["gridPos"].__setitem__("x", 0),
    lambda d: d["panels"][0]["targets"][0]["datasource"].__setitem__("uid", "other"),
    lambda d: d.__setitem__("uid", "has spaces"),
], ids=["type", "unknown-option", "panel-type", "target-field", "enum", "overlap",
        "datasource", "uid"])
def test_validation_rejects_what_grafana_would_not_accept(mutate) -> None:
    document = dashboard_json(SPECS[0])
    broken = copy.deepcopy(document)
    mutate(broken)
    with pytest.raises(DashboardError):
        validate_dashboard(broken)


def test_uids_are_stable_and_unique() -> None:
    uids = [s.uid for s in SPECS]
    assert uids == ["aw-fleet-overview", "aw-asset-detail", "aw-failure-risk",
                    "aw-parts-demand", "aw-service-tickets", "aw-field-service",
                    "aw-pipeline-health"]
    titles = {s.title for s in SPECS}
    assert len(titles) == len(SPECS)


def test_written_files_are_sorted_and_byte_identical_on_rebuild(tmp_path: Path) -> None:
    first = {p: p.read_bytes() for p in write_dashboards(tmp_path)}
    second = {p: p.read_bytes() for p in write_dashboards(tmp_path)}
    assert first == second
    for path, content in first.items():
        if path.suffix == ".json":
            document = json.loads(content)
            assert content.decode() == json.dumps(document, sort_keys=True, indent=2) + "\n"
            assert path.stem == document["uid"]


def test_provisioning_files_point_grafana_at_the_dashboards_and_reader(tmp_path: Path) -> None:
    write_dashboards(tmp_path)
    provider = yaml.safe_load((tmp_path / "provisioning/dashboards/assetwatch.yaml").read_text())
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["folderUid"] == "assetwatch"
    sources = yaml.safe_load((tmp_path / "provisioning/datasources/assetwatch.yaml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "grafana-postgresql-datasource"
    assert source["uid"] == "assetwatch-timescaledb"
    assert source["user"] == "assetwatch_reader"
    assert source["jsonData"]["timescaledb"] is True
    assert source["secureJsonData"]["password"].startswith("$")  # from Grafana's environment


def test_every_panel_uses_grafana_time_macros_where_it_reads_time_series() -> None:
    for spec in SPECS:
        for panel in spec.panels:
            if panel.kind == "timeseries":
                assert "$__timeFilter(" in panel.sql, (spec.uid, panel.title)


def test_asset_links_point_at_the_asset_detail_dashboard_and_its_variable() -> None:
    from assetwatch.dashboards.board import ASSET_DETAIL_URL

    detail = next(s for s in SPECS if s.uid == "aw-asset-detail")
    assert ASSET_DETAIL_URL.startswith(f"/d/{detail.uid}/")
    assert f"var-{detail.variables[0].name}=" in ASSET_DETAIL_URL
    linked = [p for s in SPECS for p in s.panels if p.asset_link]
    assert len(linked) >= 4
    assert all(p.asset_link in p.columns for p in linked)
