"""Write the dashboards and Grafana's file-provisioning configuration.

Layout of ``out_dir`` (what Grafana's provisioning reads; docker-compose mounts
``deploy/grafana``, which ``assetwatch dashboards build --out deploy/grafana`` writes)::

    dashboards/<uid>.json                      one sorted-key JSON file per dashboard
    provisioning/dashboards/assetwatch.yaml    the file provider: folder, path, uid-stable
    provisioning/datasources/assetwatch.yaml   the PostgreSQL datasource (read-only role)
    provisioning/alerting/assetwatch.yaml      the alert rules (:mod:`.alerts`)

The datasource file names its password as ``$ASSETWATCH_READER_PASSWORD``, which Grafana
expands from its environment at start-up, so no secret is written to disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from assetwatch.dashboards.alerts import alerting_provisioning
from assetwatch.dashboards.board import to_json_text
from assetwatch.dashboards.catalog import FOLDER_TITLE, FOLDER_UID, dashboards
from assetwatch.dashboards.sql_query import DATASOURCE_TYPE, DATASOURCE_UID

__all__ = [
    "DatasourceOptions",
    "datasource_definition",
    "write_dashboards",
    "write_provisioning",
]

#: Where Grafana's container finds the dashboards (docker-compose mounts out_dir/dashboards here).
GRAFANA_DASHBOARDS_PATH = "/var/lib/grafana/dashboards/assetwatch"


@dataclass(frozen=True)
class DatasourceOptions:
    """How Grafana reaches TimescaleDB: host:port, database, the read-only user."""

    host: str = "timescaledb:5432"
    database: str = "assetwatch"
    user: str = "assetwatch_reader"
    password: str = "$ASSETWATCH_READER_PASSWORD"
    ssl_mode: str = "disable"


def datasource_definition(options: DatasourceOptions) -> dict[str, Any]:
    """The datasource in the shape of Grafana's provisioning file and its HTTP API."""
    return {
        "name": "assetwatch TimescaleDB",
        "type": DATASOURCE_TYPE,
        "uid": DATASOURCE_UID,
        "access": "proxy",
        "url": options.host,
        "user": options.user,
        "isDefault": True,
        "editable": False,
        "jsonData": {
            "database": options.database,
            "sslmode": options.ssl_mode,
            "postgresVersion": 1500,
            "timescaledb": True,
            "maxOpenConns": 10,
            "maxIdleConns": 2,
            "connMaxLifetime": 14400,
        },
        "secureJsonData": {"password": options.password},
    }


def write_dashboards(out_dir: Path, options: DatasourceOptions | None = None) -> list[Path]:
    """Write every dashboard and the provisioning files under ``out_dir``; return the paths.

    Rewriting is idempotent: the same code writes byte-identical files.
    """
    board_dir = out_dir / "dashboards"
    board_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in dashboards():
        path = board_dir / f"{spec.uid}.json"
        path.write_text(to_json_text(spec))
        written.append(path)
    written += write_provisioning(out_dir, options or DatasourceOptions())
    return written


def write_provisioning(out_dir: Path, options: DatasourceOptions) -> list[Path]:
    """Write the dashboard provider, datasource and alert-rule provisioning files."""
    provider = {
        "apiVersion": 1,
        "providers": [{
            "name": "assetwatch",
            "orgId": 1,
            "folder": FOLDER_TITLE,
            "folderUid": FOLDER_UID,
            "type": "file",
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 60,
            "options": {"path": GRAFANA_DASHBOARDS_PATH, "foldersFromFilesStructure": False},
        }],
    }
    datasource = datasource_definition(options)
    datasource["orgId"] = 1
    datasources = {"apiVersion": 1, "datasources": [datasource]}
    paths = [out_dir / "provisioning" / "dashboards" / "assetwatch.yaml",
             out_dir / "provisioning" / "datasources" / "assetwatch.yaml",
             out_dir / "provisioning" / "alerting" / "assetwatch.yaml"]
    documents = (provider, datasources, alerting_provisioning())
    for path, document in zip(paths, documents, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Written by `assetwatch dashboards build`; do not edit.\n"
                        + yaml.safe_dump(document, sort_keys=True))
    return paths
