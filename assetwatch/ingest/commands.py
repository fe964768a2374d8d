"""``assetwatch ingest run | replay-dead-letters | housekeeping``."""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from assetwatch.core.settings import Settings

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    ingest = commands.add_parser("ingest", help="MQTT to TimescaleDB ingest service")
    actions = ingest.add_subparsers(dest="action", required=True)

    run = actions.add_parser("run", help="consume telemetry, status and events until SIGTERM")
    run.add_argument("--workers", type=int, default=1,
                     help="worker processes in the shared subscription group (default 1)")
    run.add_argument("--client-id", default=None,
                     help="MQTT client id (with --workers N: the prefix, '-<i>' is appended);"
                          " reuse it on restart to receive what the broker kept")
    run.add_argument("--leave-group", action="store_true",
                     help="on SIGTERM leave the shared group and end the session (to remove "
                          "workers for good; without it the broker keeps their share queued "
                          "until they return)")
    run.set_defaults(func=ingest_run)

    replay = actions.add_parser("replay-dead-letters",
                                help="re-validate dead letters and ingest the fixed ones, once")
    replay.add_argument("--since", type=datetime.fromisoformat, default=None,
                        help="only dead letters received at or after this ISO time")
    replay.add_argument("--limit", type=int, default=None, help="replay at most this many")
    replay.set_defaults(func=ingest_replay)

    house = actions.add_parser("housekeeping", help="refresh rollups, then apply retention")
    house.add_argument("--retention-days", type=float, default=None,
                       help="drop telemetry chunks older than this many days (default: keep)")
    house.set_defaults(func=ingest_housekeeping)


def ingest_run(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.ingest.launch import run_workers

    return run_workers(settings, workers=args.workers, client_id=args.client_id,
                       leave_group=args.leave_group)


def ingest_replay(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.ingest.replay import replay_dead_letters

    report = replay_dead_letters(settings, since=args.since, limit=args.limit)
    print(f"dead letters examined: {report.examined}, ingested: {report.ingested}, "
          f"already ingested: {report.duplicates}, still rejected: {report.still_rejected}")
    return 0


def ingest_housekeeping(settings: Settings, args: argparse.Namespace) -> int:
    from assetwatch.ingest.housekeeping import run_housekeeping

    retention = timedelta(days=args.retention_days) if args.retention_days else None
    report = run_housekeeping(settings, retention=retention)
    print(f"TimescaleDB licence: {report.licence}; hourly rollup buckets refreshed: "
          f"{report.buckets_refreshed}; telemetry chunks dropped: {report.chunks_dropped}; "
          f"ledger rows deleted: {report.ledger_rows_deleted}; replayed dead letters deleted: "
          f"{report.dead_letters_deleted}")
    return 0
