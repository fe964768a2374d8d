"""``assetwatch stack up|down|status`` and ``assetwatch db migrate``."""

from __future__ import annotations

import argparse

from assetwatch.core.settings import Settings

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    stack = commands.add_parser("stack", help="start, stop or inspect the project-local services")
    actions = stack.add_subparsers(dest="action", required=True)
    actions.add_parser("up", help="install what is missing, start PostgreSQL+TimescaleDB and "
                                  "Mosquitto, apply migrations").set_defaults(func=stack_up)
    actions.add_parser("down", help="stop the local services (and the broker's "
                                    "supervisor)").set_defaults(func=stack_down)
    actions.add_parser("status", help="show the local services").set_defaults(func=stack_status)

    db = commands.add_parser("db", help="database schema")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_actions.add_parser("migrate", help="apply pending migrations (idempotent)").set_defaults(
        func=db_migrate)


def stack_up(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.asset_registry import registered_devices
    from assetwatch.core.migrate import migrate
    from assetwatch.stack.mosquitto import LocalMosquitto
    from assetwatch.stack.postgres import LocalPostgres

    if settings.manage_services:
        LocalPostgres(settings).up()
    applied = migrate(settings)
    broker = "up"
    if settings.manage_services:
        mosquitto = LocalMosquitto(settings)
        mosquitto.up(registered_devices(settings))
        broker = f"{mosquitto.build.name}, {mosquitto.status()}"
    print(f"PostgreSQL+TimescaleDB at {settings.db_endpoint}: up "
          f"({len(applied)} migration(s) applied)")
    print(f"Mosquitto at {settings.mqtt_host}:{settings.mqtt_port}: {broker}")
    print(f"data directory: {settings.data_dir.resolve()}")
    return 0


def stack_down(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.stack.mosquitto import LocalMosquitto
    from assetwatch.stack.postgres import LocalPostgres

    LocalMosquitto(settings).down()
    LocalPostgres(settings).down()
    print("local services stopped")
    return 0


def stack_status(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.probe import check_broker, check_database
    from assetwatch.errors import AssetwatchError
    from assetwatch.stack.mosquitto import LocalMosquitto
    from assetwatch.stack.postgres import LocalPostgres

    healthy = True
    checks = (("database", settings.db_endpoint, check_database),
              ("broker", f"{settings.mqtt_host}:{settings.mqtt_port}", check_broker))
    for name, where, check in checks:
        try:
            detail = check(settings) or "reachable, credentials accepted"
        except AssetwatchError as e:
            detail, healthy = f"NOT OK: {e}", False
        print(f"{name:9} {where:22} {detail}")
    if settings.manage_services:
        print(f"local postgres cluster: {LocalPostgres(settings).status()}")
        print(f"local mosquitto: {LocalMosquitto(settings).status()}")
        print(f"data in {settings.data_dir.resolve()}")
    return 0 if healthy else 1


def db_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.core.migrate import migrate

    applied = migrate(settings)
    for m in applied:
        print(f"applied {m.version:04d}_{m.name}")
    if not applied:
        print("schema is up to date")
    return 0
