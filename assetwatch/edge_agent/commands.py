"""``assetwatch edge simulate``, ``edge run`` and ``edge status`` (cheap to import).

Both run without server settings (``edge_only``): the broker, topic prefix and passwords come
from options, the agent configuration file or ``ASSETWATCH_MQTT_HOST`` / ``_PORT`` /
``ASSETWATCH_TOPIC_PREFIX`` and the local stack's device key.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC
from pathlib import Path

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    edge = commands.add_parser("edge", help="the edge agent: run it, or simulate a fleet")
    sub = edge.add_subparsers(dest="edge_command", required=True, metavar="EDGE_COMMAND")
    edge.edge_commands = sub  # type: ignore[attr-defined]  # server-side commands join here

    sim = sub.add_parser("simulate", help="stream a simulated fleet through the edge agent")
    sim.add_argument("--sites", type=int, default=2)
    sim.add_argument("--assets-per-site", type=int, default=5)
    sim.add_argument("--days", type=float, default=30.0, help="simulated days (default 30)")
    sim.add_argument("--sample-interval", type=float, default=600.0,
                     help="simulated seconds between samples of an asset (default 600)")
    sim.add_argument("--seed", type=int, default=7)
    sim.add_argument("--start", default=None,
                     help="ISO time the simulation starts (default: where the unfinished run "
                          "in the spool started, else DAYS before now)")
    sim.add_argument("--speed", type=float, default=None,
                     help="simulated seconds per second (default: as fast as possible)")
    sim.add_argument("--ground-truth", type=Path, default=Path("ground_truth.jsonl"),
                     help="where the failures' ground truth goes (JSON lines)")
    sim.add_argument("--spool", type=Path, default=None,
                     help="spool file (default: <data dir>/edge/<prefix>-simulate-spool.db)")
    sim.add_argument("--host", default=os.environ.get("ASSETWATCH_MQTT_HOST", "127.0.0.1"))
    sim.add_argument("--port", default=os.environ.get("ASSETWATCH_MQTT_PORT", "51883"),
                     help="broker port (default: $ASSETWATCH_MQTT_PORT or 51883)")
    sim.add_argument("--prefix", default=os.environ.get("ASSETWATCH_TOPIC_PREFIX", "assetwatch"))
    sim.add_argument("--password-file", type=Path, default=None,
                     help="asset_tag:password lines (default: derive from the local device key)")
    sim.add_argument("--tls-ca", default=None)
    sim.set_defaults(edge_only=True, func=_simulate)

    status = sub.add_parser("status", help="what a spool holds: backlog per asset, seq, drops")
    status.add_argument("spool", type=Path)
    status.set_defaults(edge_only=True, func=_status)

    run = sub.add_parser("run", help="run the edge agent from a JSON configuration file")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--no-drain", action="store_true",
                     help="return when the source ends without waiting for acknowledgements")
    run.set_defaults(edge_only=True, func=_run)


def _simulate(settings: object, args: argparse.Namespace) -> int:
    import logging
    from datetime import datetime, timedelta

    from assetwatch.edge_agent.config_file import SIMULATOR
    from assetwatch.edge_agent.credentials import derived_passwords, read_password_file
    from assetwatch.edge_agent.errors import AgentConfigError
    from assetwatch.edge_agent.link import MqttEndpoint
    from assetwatch.edge_agent.plugin import load_plugin
    from assetwatch.edge_agent.simulate import run_simulation, unfinished_start

    data_dir = Path(os.environ.get("ASSETWATCH_DATA_DIR", ".assetwatch"))
    spool = args.spool or data_dir / "edge" / f"{args.prefix}-simulate-spool.db"
    try:
        port = int(args.port)
    except ValueError:
        raise AgentConfigError(f"--port / ASSETWATCH_MQTT_PORT: {args.port!r} is not a port "
                               "number") from None
    if args.sites < 1 or args.assets_per_site < 1 or args.days <= 0 or args.sample_interval <= 0:
        raise AgentConfigError("--sites, --assets-per-site, --days and --sample-interval "
                               "must be positive")
    site = {"sites": args.sites, "assets_per_site": args.assets_per_site, "seed": args.seed,
            "days": args.days, "sample_interval_s": args.sample_interval, "speed": args.speed}
    tags = [a.asset_tag for a in load_plugin(SIMULATOR, {**site, "days": 1e-3}).assets()]
    if args.start:
        try:
            start = datetime.fromisoformat(args.start)
        except ValueError:
            raise AgentConfigError(f"--start: {args.start!r} is not an ISO time") from None
    else:
        resumed = unfinished_start(spool, args.seed, tags)
        if resumed is not None:
            logging.getLogger(__name__).info(
                "resuming the unfinished simulated run in %s (start %s)", spool,
                resumed.isoformat())
        start = resumed or datetime.now(UTC) - timedelta(days=args.days)
    passwords = (read_password_file(args.password_file) if args.password_file
                 else derived_passwords(tags))
    summary = run_simulation(
        {**site, "start": start.isoformat(), "ground_truth": str(args.ground_truth)},
        MqttEndpoint(args.host, port, tls_ca=args.tls_ca), passwords, args.prefix, spool)
    print(f"simulated {summary.assets} assets at {args.sites} sites for {args.days:g} days: "
          f"{summary.readings} "
          f"readings in {summary.batches} batches, {summary.events} events, "
          f"{summary.failures} failures (ground truth: {args.ground_truth}), "
          f"{summary.elapsed_s:.1f} s")
    return 0


def _run(settings: object, args: argparse.Namespace) -> int:
    from assetwatch.edge_agent.agent import EdgeAgent
    from assetwatch.edge_agent.config_file import load_agent_config

    setup = load_agent_config(args.config)
    agent = EdgeAgent(setup.source, setup.options)
    _stop_on_sigterm(agent)
    summary = agent.run(drain=not args.no_drain)
    print(f"edge agent: {summary.readings} readings in {summary.batches} batches, "
          f"{summary.events} events sampled; {summary.acked_readings} readings acknowledged; "
          f"{summary.dropped_readings} dropped; {summary.elapsed_s:.1f} s")
    return 0


def _stop_on_sigterm(agent: object) -> None:
    import signal

    def handler(signum: int, frame: object) -> None:
        agent.stop()  # type: ignore[attr-defined]

    signal.signal(signal.SIGTERM, handler)


def _status(settings: object, args: argparse.Namespace) -> int:
    from assetwatch.edge_agent.errors import AgentConfigError
    from assetwatch.edge_agent.publisher import DeliveryCounters
    from assetwatch.edge_agent.spool import Spool

    if not args.spool.is_file():
        raise AgentConfigError(f"{args.spool}: no such spool")
    spool = Spool(args.spool)
    try:
        print(f"spool {args.spool}: prefix {spool.get_meta('topic_prefix')!r}, "
              f"{spool.messages} messages ({spool.readings} readings, {spool.bytes} bytes) "
              f"waiting, {spool.journal_bytes} bytes of open readings, "
              f"{spool.get_meta('dropped_readings') or 0} readings dropped")
        delivery = DeliveryCounters.from_json(spool.get_meta("delivery"))
        refused = ", ".join(f"{n} {reason}" for reason, n in sorted(delivery.refused.items()))
        print(f"delivered {delivery.messages} messages ({delivery.readings} readings), "
              f"{delivery.resent} sent again, {delivery.dead_lettered} kept as dead letters by "
              f"the server; refused by the broker: {refused or 'none'}")
        print(f"{'asset':<20}{'messages':>10}{'readings':>12}{'next seq':>22}")
        for asset, messages, readings, next_seq in spool.per_asset():
            seq = "-" if next_seq is None else str(next_seq)
            print(f"{asset:<20}{messages:>10}{readings:>12}{seq:>22}")
    finally:
        spool.close()
    return 0
