"""``assetwatch dashboards build|push|reader-login``.

Cheap to import: the SDK, grafana-client and the database driver load inside the handlers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from assetwatch.core.settings import Settings

__all__ = ["register"]

_PASSWORD_ENV = "ASSETWATCH_READER_PASSWORD"


def register(commands: argparse._SubParsersAction) -> None:
    dashboards = commands.add_parser("dashboards", help="Grafana dashboards as code")
    actions = dashboards.add_subparsers(dest="action", required=True)

    build = actions.add_parser(
        "build", help="write the dashboards JSON and Grafana provisioning files")
    build.add_argument("--out", type=Path, default=None,
                       help="folder to write (default <data_dir>/out/dashboards; "
                            "deploy/grafana for docker-compose)")
    _datasource_arguments(build)
    build.set_defaults(func=build_dashboards)

    push = actions.add_parser(
        "push", help="create or update folder, datasource and dashboards in a running Grafana")
    push.add_argument("--url", required=True, help="Grafana base URL, e.g. http://localhost:3000")
    push.add_argument("--token", default=os.environ.get("GRAFANA_TOKEN"),
                      help="service-account token (default: $GRAFANA_TOKEN)")
    _datasource_arguments(push)
    push.set_defaults(func=push_dashboards)

    login = actions.add_parser(
        "reader-login", help=f"let the read-only role log in with the password in ${_PASSWORD_ENV}")
    login.set_defaults(func=reader_login)


def _datasource_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db-host", default="timescaledb:5432",
                        help="host:port of TimescaleDB as Grafana reaches it")
    parser.add_argument("--db-name", default="assetwatch", help="database name")


def build_dashboards(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.dashboards.provisioning import DatasourceOptions, write_dashboards

    out = args.out or settings.output_dir / "dashboards"
    paths = write_dashboards(out, DatasourceOptions(host=args.db_host, database=args.db_name))
    boards = sum(1 for p in paths if p.suffix == ".json")
    print(f"wrote {boards} dashboards and {len(paths) - boards} provisioning files to {out}")
    return 0


def push_dashboards(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.dashboards.errors import DashboardError
    from assetwatch.dashboards.provisioning import DatasourceOptions
    from assetwatch.dashboards.push import push_dashboards as push

    if not args.token:
        raise DashboardError("no Grafana token: pass --token or set GRAFANA_TOKEN")
    options = DatasourceOptions(host=args.db_host, database=args.db_name,
                                password=os.environ.get(_PASSWORD_ENV, ""))
    result = push(args.url, args.token, options)
    print(f"folder {result.folder}, datasource {result.datasource}, "
          f"{len(result.dashboards)} dashboards saved to {args.url}")
    return 0


def reader_login(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.dashboards.errors import DashboardError
    from assetwatch.dashboards.reader import enable_reader_login

    password = os.environ.get(_PASSWORD_ENV, "")
    if not password:
        raise DashboardError(f"set {_PASSWORD_ENV} to the password Grafana will use")
    enable_reader_login(settings, password)
    print("role assetwatch_reader may log in (SELECT on the v_* views only)")
    return 0

