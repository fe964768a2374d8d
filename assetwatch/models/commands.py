"""``assetwatch detect ...``: the anomaly detection service and offline scoring.

* ``detect run [--worker K --workers N] [--detector NAME] [--poll S]``: score new telemetry
  continuously (worker K of N owns the assets with ``asset_id % N == K``);
* ``detect once``: score everything pending once, print a summary, exit;
* ``detect ack EVENT [--note TEXT]``: acknowledge an alarm event;
* ``detect status``: per detector, assets warm or still learning, how far behind, open events;
* ``detect score-csv --input FILE --output FILE [--detector NAME]``: score a CSV of readings
  offline with the same detector objects, writing ``timestamp,score,event_start`` rows.

This module imports nothing heavy; handlers import what they need.
"""

from __future__ import annotations

import argparse

__all__ = ["register"]

_DETECTORS = ("baseline", "ensemble", "robust_z", "hst")
#: the service's and score-csv's default (kept equal to ``models.detectors.DEFAULT_DETECTOR``,
#: which this module does not import: it imports nothing heavy)
_DEFAULT = "ensemble"


def register(commands: argparse._SubParsersAction) -> None:
    detect = commands.add_parser("detect", help="streaming anomaly detection")
    sub = detect.add_subparsers(dest="detect_command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="score new telemetry continuously")
    _service_options(run)
    run.add_argument("--poll", type=float, default=1.0, metavar="S",
                     help="seconds to wait when nothing is pending (default: %(default)s)")
    run.add_argument("--min-round", type=float, default=1.0, metavar="S",
                     help="start busy rounds at most every S seconds, so each checkpoint is "
                          "written once for several samples (default: %(default)s)")
    run.set_defaults(func=_run)

    once = sub.add_parser("once", help="score everything pending once and exit")
    _service_options(once)
    once.set_defaults(func=_once)

    ack = sub.add_parser("ack", help="acknowledge an alarm event, with a note")
    ack.add_argument("event", type=int, metavar="EVENT", help="anomaly event id")
    ack.add_argument("--note", default=None, help="what is known or done about it")
    ack.set_defaults(func=_ack)

    status = sub.add_parser("status", help="per detector: assets warm, learning, behind")
    status.set_defaults(func=_status)

    csv = sub.add_parser("score-csv", help="score a CSV of timestamped readings offline")
    csv.add_argument("--input", required=True, metavar="FILE",
                     help="CSV with a 'timestamp' column and numeric sensor columns")
    csv.add_argument("--output", required=True, metavar="FILE",
                     help="where to write 'timestamp,score' rows")
    csv.add_argument("--detector", default=_DEFAULT, choices=_DETECTORS,
                     help="default: %(default)s, as the service (baseline + robust_z: level "
                          "shifts and spikes)")
    csv.add_argument("--warmup", type=int, default=None, metavar="N",
                     help="rows learned before scoring starts (default: 400, or a third of "
                          "the rows of a shorter file, at least 30)")
    csv.add_argument("--timestamp-column", default=None, metavar="NAME",
                     help="name of the timestamp column (default: timestamp, else datetime, "
                          "time, date or ts)")
    csv.add_argument("--exclude", action="append", default=[], metavar="COLUMN",
                     help="a column not to use as a sensor (repeatable)")
    csv.set_defaults(func=_score_csv, edge_only=True)


def _service_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--worker", type=int, default=0, metavar="K",
                        help="this worker's index, 0..N-1 (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="number of workers splitting the fleet (default: %(default)s)")
    parser.add_argument("--detector", default=_DEFAULT, choices=_DETECTORS,
                        help="default: %(default)s, as score-csv")
    parser.add_argument("--settle-time", type=float, default=1800.0, metavar="S",
                        help="seconds a start, a stop or a change of load regime takes to "
                             "settle; not learned, not alarmed on (default: %(default)s)")
    parser.add_argument("--slow-settle-time", type=float, default=3 * 3600.0, metavar="S",
                        help="seconds temperatures take to settle after a start or a change "
                             "of load; left out of scoring until then (default: %(default)s)")
    parser.add_argument("--rearm", type=float, default=60.0, metavar="S",
                        help="an alarm that clears and returns within S seconds is the same "
                             "event (default: %(default)s)")
    parser.add_argument("--no-operating-states", action="store_true",
                        help="learn and score every sample, whatever the operating state")


def _options(args: argparse.Namespace) -> dict[str, object]:
    return {"transient_s": args.settle_time, "slow_settle_s": args.slow_settle_time,
            "rearm_s": args.rearm,
            "operating_states": not args.no_operating_states}


def _run(settings: object, args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from assetwatch.models.monitoring.worker import run_detection

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.getLogger(__name__).info(
        "detector %s, worker %d of %d", args.detector, args.worker, args.workers)
    try:
        run_detection(settings, detector=args.detector, worker=args.worker,  # type: ignore[arg-type]
                      workers=args.workers, poll_s=args.poll, min_round_s=args.min_round,
                      stop=stop, **_options(args))
    except KeyboardInterrupt:
        stop.set()
    return 0


def _once(settings: object, args: argparse.Namespace) -> int:
    from assetwatch.models.monitoring.worker import score_pending

    summary = score_pending(settings, detector=args.detector,  # type: ignore[arg-type]
                            worker=args.worker, workers=args.workers, **_options(args))
    print(f"scored {summary.samples} samples of {summary.assets} assets: "
          f"{summary.scores} scores, {summary.events_opened} anomaly events opened, "
          f"{summary.stale_opened} stale, {summary.assets_locked_elsewhere} assets busy")
    return 0


def _ack(settings: object, args: argparse.Namespace) -> int:
    from assetwatch.models.monitoring.acknowledge import acknowledge_event

    done = acknowledge_event(settings, args.event, args.note)  # type: ignore[arg-type]
    still = "still open: no new alarm until the deviation changes" if done.is_open else "ended"
    print(f"event {done.event_id} of {done.asset_tag} acknowledged at "
          f"{done.acknowledged_at:%Y-%m-%d %H:%M:%S %Z} ({still})")
    return 0


def _status(settings: object, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from assetwatch.core.db import connect

    with connect(settings) as conn:  # type: ignore[arg-type]
        rows = conn.execute(
            "SELECT s.detector, count(*), count(*) FILTER (WHERE s.warm),"
            " max(s.scored_until), round(max(s.behind_s)::numeric, 1),"
            " (SELECT count(*) FROM v_anomaly_event e WHERE e.detector = s.detector"
            "  AND e.is_open AND e.kind = 'anomaly'),"
            " (SELECT count(*) FROM v_anomaly_event e WHERE e.detector = s.detector"
            "  AND e.is_open AND e.kind = 'stale')"
            " FROM v_detector_status s GROUP BY s.detector ORDER BY s.detector"
        ).fetchall()
    table = Table(title="anomaly detection")
    for column in ("detector", "assets", "warm", "learning", "scored until", "max behind s",
                   "open anomalies", "stale assets"):
        table.add_column(column, justify="left" if column == "detector" else "right")
    for detector, assets, warm, newest, behind, anomalies, stale in rows:
        table.add_row(detector, str(assets), str(warm), str(assets - warm),
                      f"{newest:%Y-%m-%d %H:%M:%S}" if newest else "-", str(behind),
                      str(anomalies), str(stale))
    Console().print(table if rows else "no detector has scored yet")
    return 0


def _score_csv(settings: object, args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from assetwatch.models.monitoring.offline import score_csv

    params: dict[str, object] = {}
    if args.warmup is not None:
        params["warmup"] = args.warmup
    summary = score_csv(Path(args.input), Path(args.output), detector=args.detector,
                        timestamp_column=args.timestamp_column, exclude=tuple(args.exclude),
                        **params)
    print(f"{args.output}: {summary.rows} rows scored ({summary.warmup_rows} warm-up rows "
          f"score 0) from sensors {', '.join(summary.sensors)}", file=sys.stderr)
    return 0
