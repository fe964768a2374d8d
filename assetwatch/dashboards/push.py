"""Create or update the assetwatch folder, datasource and dashboards in Grafana, idempotently.

Uses ``grafana-client`` against Grafana's HTTP API:

* folder: ``GET /api/folders/:uid``, then ``POST /api/folders`` (new) or
  ``PUT /api/folders/:uid`` with ``overwrite`` (title changed);
* datasource: ``GET /api/datasources/uid/:uid``, then ``POST /api/datasources`` (new) or
  ``PUT /api/datasources/uid/:uid``;
* dashboards: ``POST /api/dashboards/db`` with ``folderUid`` and ``overwrite: true`` (create
  or replace by uid);
* check: ``GET /api/search?type=dash-db&folderUIDs=...`` lists every pushed uid.

Pushing twice leaves one folder, one datasource and one dashboard per uid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assetwatch.dashboards.board import dashboard_json
from assetwatch.dashboards.catalog import FOLDER_TITLE, FOLDER_UID, dashboards
from assetwatch.dashboards.errors import DashboardError
from assetwatch.dashboards.provisioning import DatasourceOptions, datasource_definition
from assetwatch.dashboards.sql_query import DATASOURCE_UID

__all__ = ["PushResult", "push_dashboards"]


@dataclass
class PushResult:
    """What the push did: ``created``, ``updated`` or ``unchanged`` per object."""

    folder: str = ""
    datasource: str = ""
    dashboards: dict[str, str] = field(default_factory=dict)  # uid -> status from Grafana


def push_dashboards(url: str, token: str, datasource: DatasourceOptions | None = None, *,
                    timeout_s: float = 10.0) -> PushResult:
    """Push folder, datasource and every dashboard to the Grafana at ``url``.

    ``token`` is a service-account token (sent as ``Authorization: Bearer``). When
    ``datasource.password`` is empty the datasource is sent without a password, so Grafana
    keeps the one it has. Raises :class:`DashboardError` with Grafana's message on failure.
    """
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException
    from niquests.exceptions import RequestException

    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    result = PushResult()
    try:
        result.folder = _push_folder(api, GrafanaClientError)
        result.datasource = _push_datasource(api, datasource or DatasourceOptions(password=""),
                                             GrafanaClientError)
        for spec in dashboards():
            response = api.dashboard.update_dashboard({
                "dashboard": dashboard_json(spec),
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "assetwatch dashboards push",
            })
            result.dashboards[spec.uid] = str(response.get("status", "success"))
        found = api.search.search_dashboards(type_="dash-db", folder_uids=FOLDER_UID)
    except GrafanaException as e:
        raise DashboardError(f"Grafana at {url} refused the push: {e.message}") from None
    except RequestException as e:
        reason = str(e).rpartition(": ")[2].rstrip("'\")") or type(e).__name__
        raise DashboardError(f"cannot reach Grafana at {url}: {reason}") from None
    missing = {s.uid for s in dashboards()} - {item.get("uid") for item in found}
    if missing:
        raise DashboardError(f"Grafana at {url} does not list {sorted(missing)} after the push")
    return result


def _push_folder(api: Any, not_found: type[Exception]) -> str:
    try:
        folder = api.folder.get_folder(FOLDER_UID)
    except not_found as e:
        if getattr(e, "status_code", None) != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        return "created"
    if folder.get("title") == FOLDER_TITLE:
        return "unchanged"
    api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
    return "updated"


def _push_datasource(api: Any, options: DatasourceOptions, not_found: type[Exception]) -> str:
    definition = datasource_definition(options)
    if not options.password:
        definition.pop("secureJsonData")
    try:
        api.datasource.get_datasource_by_uid(DATASOURCE_UID)
    except not_found as e:
        if getattr(e, "status_code", None) != 404:
            raise
        api.datasource.create_datasource(definition)
        return "created"
    api.datasource.update_datasource_by_uid(DATASOURCE_UID, definition)
    return "updated"
