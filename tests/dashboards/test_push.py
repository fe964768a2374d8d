"""``assetwatch dashboards push`` against a loopback server that checks Grafana's HTTP API."""

from __future__ import annotations

import pytest

from assetwatch.dashboards.catalog import FOLDER_UID, dashboards
from assetwatch.dashboards.errors import DashboardError
from assetwatch.dashboards.provisioning import DatasourceOptions
from assetwatch.dashboards.push import push_dashboards
from assetwatch.dashboards.sql_query import DATASOURCE_UID

from .fake_grafana import FakeGrafana

TOKEN = "glsa_test_token"
UIDS = [spec.uid for spec in dashboards()]


def test_push_creates_folder_datasource_and_dashboards() -> None:
    with FakeGrafana(TOKEN) as grafana:
        result = push_dashboards(grafana.url, TOKEN, DatasourceOptions(password="s3cret"))
    assert grafana.violations == []
    assert result.folder == "created" and result.datasource == "created"
    assert result.dashboards == dict.fromkeys(UIDS, "success")
    assert list(grafana.folders) == [FOLDER_UID]
    (source,) = grafana.datasources.values()
    assert source["uid"] == DATASOURCE_UID and source["user"] == "assetwatch_reader"
    assert source["secureJsonFields"] == {"password": True}
    assert sorted(grafana.dashboards) == sorted(UIDS)
    assert {d["folderUid"] for d in grafana.dashboards.values()} == {FOLDER_UID}
    saves = [body for method, path, _, body in grafana.requests
             if (method, path) == ("POST", "/api/dashboards/db")]
    assert len(saves) == len(UIDS)
    assert all(body["overwrite"] is True and "id" not in body["dashboard"] for body in saves)


def test_push_twice_is_idempotent() -> None:
    with FakeGrafana(TOKEN) as grafana:
        push_dashboards(grafana.url, TOKEN, DatasourceOptions(password="s3cret"))
        first = {uid: d["dashboard"]["id"] for uid, d in grafana.dashboards.items()}
        grafana.requests.clear()
        again = push_dashboards(grafana.url, TOKEN, DatasourceOptions(password=""))
    assert grafana.violations == []
    assert again.folder == "unchanged" and again.datasource == "updated"
    assert len(grafana.folders) == 1 and len(grafana.datasources) == 1
    assert {uid: d["dashboard"]["id"] for uid, d in grafana.dashboards.items()} == first
    assert {d["dashboard"]["version"] for d in grafana.dashboards.values()} == {2}
    (source,) = grafana.datasources.values()
    assert source["secureJsonFields"] == {"password": True}  # kept: no password sent again
    calls = [(method, path) for method, path, _, _ in grafana.requests]
    assert ("POST", "/api/folders") not in calls and ("POST", "/api/datasources") not in calls
    assert ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}") in calls


def test_push_renames_a_folder_someone_retitled() -> None:
    with FakeGrafana(TOKEN) as grafana:
        push_dashboards(grafana.url, TOKEN)
        grafana.folders[FOLDER_UID]["title"] = "renamed by hand"
        result = push_dashboards(grafana.url, TOKEN)
    assert result.folder == "updated"
    assert grafana.folders[FOLDER_UID]["title"] == "assetwatch"
    assert grafana.violations == []


def test_wrong_token_is_one_clear_error() -> None:
    with FakeGrafana(TOKEN) as grafana, pytest.raises(DashboardError, match="refused"):
        push_dashboards(grafana.url, "wrong")


def test_unreachable_grafana_is_one_clear_error() -> None:
    with pytest.raises(DashboardError, match="cannot reach Grafana"):
        push_dashboards("http://127.0.0.1:9", TOKEN, timeout_s=2)
