"""``assetwatch bench service``: the monitoring pipeline's service figures on a simulated fleet.

The simulated fleet (:mod:`assetwatch.sim`) runs for ``--history-days`` (consumption history
for the naive policy and the seasonal-naive forecast; its last ``--telemetry-days`` also
stream telemetry, the failure models' training window and the detectors' warm-up) and then
``--days`` of evaluation, one step per simulated day (see :mod:`.service_run`). Each row runs
in a database of its own (``<database>_bench_service_<row>_<world>``, dropped after it unless
``--keep-database``), up to ``--jobs`` rows at a time:

``pipeline`` (the product)
    telemetry through the ingest writer, the detector worker, the failure models trained
    weekly and scored daily, tickets, demand and policy (:mod:`.service_pipeline`);
``oracle`` (upper bound) and ``calendar`` (lower bound)
    reference rows that replace the monitoring (:mod:`.service_reference`).

It prints the rows side by side with the pipeline's gap to the oracle and its targets
(:mod:`.service_figures`) and writes them to ``bench_service.json`` and
``bench_service.txt`` in the output directory. ``--quick`` is a small world for tests and a
first look; ``--scale`` instead times the demand computation on 10,000 assets x 50 parts;
``--tune-tickets`` chooses the ticket policy on a tuning world (:mod:`.service_tuning`).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assetwatch.core.settings import Settings
from assetwatch.errors import ConfigError

if TYPE_CHECKING:
    from assetwatch.bench.service_run import RunOptions, ServiceBenchResult
    from assetwatch.service.service_levels import ServiceLevels

__all__ = ["MODES", "options_from_args", "register", "report", "run_rows", "run_scale",
           "run_service_bench", "season_days"]

log = logging.getLogger(__name__)

START = datetime(2025, 1, 1, tzinfo=UTC)
#: the rows, as in :data:`assetwatch.bench.service_run.MODES` (kept here: cheap to import)
MODES = ("pipeline", "oracle", "calendar")


QUICK = {"sites": 1, "assets_per_site": 8, "days": 60, "history_days": 120,
         "telemetry_days": 60, "period_days": 30}


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("service", help="tickets, first-time fix, stock and demand of"
                                " the monitoring pipeline on a simulated fleet, between an"
                                " oracle and a calendar reference")
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--assets-per-site", type=int, default=25)
    parser.add_argument("--days", type=int, default=365, help="evaluated simulated days")
    parser.add_argument("--history-days", type=int, default=365,
                        help="simulated days before the evaluation")
    parser.add_argument("--telemetry-days", type=int, default=180,
                        help="days of the history that stream telemetry")
    parser.add_argument("--period-days", type=int, default=30)
    parser.add_argument("--service-level", default=None,
                        help="the inventory policy's service level: one (0.95) or per ABC"
                             " class A/B/C (0.95/0.98/0.995); default: the benchmark's,"
                             " chosen by --tune-service-level")
    parser.add_argument("--rows", default=",".join(MODES),
                        help="comma-separated rows to run (pipeline, oracle, calendar)")
    parser.add_argument("--train-every-days", type=int, default=91,
                        help="days between training runs of the failure models (the train"
                             " flow's own schedule is weekly: 7)")
    parser.add_argument("--score-every-days", type=int, default=1,
                        help="days between scoring runs (the score flow runs hourly)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dispatch-every-days", type=int, default=1,
                        help="days between dispatch plans of the open work (their visits are"
                             " executed; the baseline dispatcher plans the same work; 0: no"
                             " field service)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="rows run at the same time, each in a process of its own")
    parser.add_argument("--quick", action="store_true",
                        help="a small world: 1 site x 8 assets, 60 evaluated days")
    parser.add_argument("--keep-database", action="store_true",
                        help="keep the benchmark's databases for inspection")
    parser.add_argument("--out-name", default="bench_service",
                        help="base name of the JSON and text files in the output directory")
    parser.add_argument("--tune-tickets", action="store_true",
                        help="choose the ticket policy on this (tuning) world: the pipeline"
                             " row once, then the ticket logic replayed over its signals for"
                             " every candidate (never on the reported seed 7)")
    parser.add_argument("--tune-service-level", action="store_true",
                        help="choose the inventory policy's service level on this (tuning)"
                             " world: the pipeline row once, then the day loop replayed over"
                             " its signals for every candidate level (never on seed 7)")
    parser.add_argument("--tune-levels", default=None,
                        help="with --tune-service-level: comma-separated candidates, each"
                             " one level or A/B/C levels (default: the grid in"
                             " service_stock_tuning.py)")
    parser.add_argument("--tune-reuse", action="store_true",
                        help="with --tune-tickets or --tune-service-level: replay over the"
                             " pipeline row an earlier run kept (--keep-database), without"
                             " running it again")
    parser.add_argument("--scale", action="store_true",
                        help="only time the demand computation on a large installed base")
    parser.add_argument("--scale-assets", type=int, default=10_000)
    parser.add_argument("--scale-parts", type=int, default=50)
    parser.set_defaults(func=bench_service)


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """The run options the command line asks for (``--quick`` overrides the world's size)."""
    values = {"sites": args.sites, "assets_per_site": args.assets_per_site, "days": args.days,
              "history_days": args.history_days, "telemetry_days": args.telemetry_days,
              "period_days": args.period_days}
    if args.quick:
        values.update(QUICK)
    from assetwatch.bench.service_run import RunOptions

    if args.service_level is not None:
        values["service_level"] = _service_levels(args.service_level, "--service-level")
    return RunOptions(**values, seed=args.seed,
                      train_every_days=args.train_every_days,
                      score_every_days=args.score_every_days,
                      dispatch_every_days=args.dispatch_every_days)


def bench_service(settings: Settings, args: argparse.Namespace) -> int:
    logging.getLogger("assetwatch.service").setLevel(logging.WARNING)
    logging.getLogger("assetwatch.models").setLevel(logging.WARNING)
    if args.scale:
        figures = run_scale(settings, assets=args.scale_assets, part_numbers=args.scale_parts,
                            keep_database=args.keep_database)
        _print_scale(figures)
        return 0
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in MODES]
    if unknown:
        raise ConfigError(f"--rows: unknown row(s) {', '.join(unknown)}; use "
                         f"{', '.join(MODES)}")
    options = options_from_args(args)
    if args.tune_tickets:
        _tune_tickets(settings, options, reuse=args.tune_reuse, name=args.out_name)
        return 0
    if args.tune_service_level:
        _tune_service_level(settings, options, reuse=args.tune_reuse, name=args.out_name,
                            levels=_levels(args.tune_levels))
        return 0
    results = run_rows(settings, rows, options, jobs=args.jobs,
                       keep_database=args.keep_database)
    report(settings, options, results, name=args.out_name)
    return 0


def run_rows(settings: Settings, rows: list[str], options: RunOptions, *, jobs: int,
             keep_database: bool = False) -> dict[str, ServiceBenchResult]:
    """Run ``rows``, up to ``jobs`` at a time in processes of their own (each row has its
    own database and world copy, so they share nothing); results in the order asked."""
    if jobs <= 1 or len(rows) <= 1:
        return {mode: run_service_bench(settings, mode, options, keep_database=keep_database)
                for mode in rows}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(rows)), mp_context=context) as pool:
        futures = {mode: pool.submit(_run_row, settings, mode, options, keep_database)
                   for mode in rows}
        return {mode: future.result() for mode, future in futures.items()}


#: Priority of the reference rows' processes beside the pipeline row: the pipeline row is the
#: longest, so with more rows than cores it gets the CPU first and the reference rows the rest.
REFERENCE_ROW_NICENESS = 5


def _run_row(settings: Settings, mode: str, options: RunOptions,
             keep_database: bool) -> ServiceBenchResult:
    """One row in a process of its own (the reference rows at a lower priority)."""
    if mode != "pipeline":
        os.nice(REFERENCE_ROW_NICENESS)
    return run_service_bench(settings, mode, options, keep_database=keep_database)


def report(settings: Settings, options: RunOptions, results: dict[str, ServiceBenchResult],
           *, name: str = "bench_service") -> dict[str, dict[str, Any]]:
    """Print the rows and the pipeline's stage times; write the JSON and text table."""
    from rich.console import Console

    from assetwatch.bench.service_figures import figures, print_figures, write_json

    season = season_days(options)
    rows = {mode: figures(result, season_days=season) for mode, result in results.items()}
    console = Console(record=True, width=130)
    title = (f"bench service: {options.sites * options.assets_per_site} assets,"
             f" {options.days} evaluated days after {options.history_days} days of history"
             f" (telemetry {options.telemetry_days} d), seed {options.seed}, service level"
             f" {_label(options.service_level)}")
    print_figures(rows, title, console=console)
    if "pipeline" in results:
        stages = results["pipeline"].stage_seconds
        console.print("pipeline row, seconds per stage: " + ", ".join(
            f"{name} {secs:.0f}" for name, secs in sorted(stages.items(), key=lambda kv: -kv[1])))
        for training in _trainings(results["pipeline"]):
            console.print(training)
    out = settings.output_dir
    write_json(out / f"{name}.json", rows, {
        **{k: getattr(options, k) for k in ("sites", "assets_per_site", "days", "history_days",
                                             "telemetry_days", "period_days", "seed",
                                             "sample_interval_s", "train_every_days",
                                             "score_every_days")},
        "service_level": _label(options.service_level),
        "season_days": season,
        "stage_seconds": {m: r.stage_seconds for m, r in results.items()},
        "trainings": [{"as_of": t.as_of.isoformat(), "component_type": t.component_type,
                       "kind": t.kind, "failures": t.failures, "promoted": t.promoted,
                       "seconds": round(t.seconds, 1)}
                      for r in results.values() for t in r.trainings]})
    (out / f"{name}.txt").write_text(console.export_text())
    console.print(f"written: {out / f'{name}.json'}, {out / f'{name}.txt'}")
    return rows


def _tune_tickets(settings: Settings, options: RunOptions, *, reuse: bool, name: str) -> None:
    """``--tune-tickets``: run :func:`~assetwatch.bench.service_tuning.tune_tickets`, print
    every candidate and write ``<name>_tuning.json``."""
    import json

    from rich.console import Console

    from assetwatch.bench.service_tuning import tune_tickets

    try:
        out = tune_tickets(settings, options, start=START, reuse=reuse)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    console = Console()

    def line(label: str, score: dict[str, Any]) -> str:
        policy = score["policy"]
        return (f"{label}: open {policy['open_threshold']}, close {policy['close_threshold']},"
                f" anomaly weight {policy['anomaly_weight']}: precursor failures ticketed"
                f" >= 24 h {_pct(score['precursor_ticketed'])}, tickets per failure"
                f" {_num(score['tickets_per_failure'])}, false {_pct(score['false_ticket_share'])},"
                f" stock value vs naive {_pct(score['stock_value_vs_naive'])}")

    if out["run"]:
        console.print(f"pipeline run (seed {options.seed}): {out['run']}")
    console.print(line("replayed with the run's policy", out["replayed_run_policy"]))
    for score in out["candidates"]:
        console.print(line("candidate", score))
    console.print(line("chosen", out["chosen"]))
    path = settings.output_dir / f"{name}_tuning.json"
    path.write_text(json.dumps({"world": {k: getattr(options, k) for k in (
        "sites", "assets_per_site", "days", "history_days", "telemetry_days", "seed",
        "train_every_days")}, **out}, indent=2, default=str))
    console.print(f"written: {path}")


def _service_levels(text: str, option: str) -> ServiceLevels:
    from assetwatch.service.service_levels import ServiceLevels

    try:
        return ServiceLevels.parse(text)
    except ValueError as e:
        raise ConfigError(f"{option}: {e}") from None


def _levels(text: str | None) -> tuple[ServiceLevels, ...]:
    """``--tune-levels``: the candidates, comma-separated (default: the module's grid)."""
    from assetwatch.bench.service_stock_tuning import LEVEL_GRID

    if text is None:
        return LEVEL_GRID
    levels = tuple(_service_levels(v, "--tune-levels") for v in text.split(",") if v.strip())
    if not levels:
        raise ConfigError("--tune-levels: no candidate given")
    return levels


def _tune_service_level(settings: Settings, options: RunOptions, *, reuse: bool, name: str,
                        levels: tuple[ServiceLevels, ...]) -> None:
    """``--tune-service-level``: run
    :func:`~assetwatch.bench.service_stock_tuning.tune_service_level`, print every candidate
    and write ``<name>_service_level.json``."""
    import json

    from rich.console import Console

    from assetwatch.bench.service_stock_tuning import tune_service_level

    try:
        out = tune_service_level(settings, options, start=START, levels=levels, reuse=reuse)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    console = Console()

    def line(label: str, score: dict[str, Any]) -> str:
        return (f"{label}: service level {score['service_level']}: fill"
                f" {_pct(score['fill_rate'])} (naive {_pct(score['naive_fill_rate'])}),"
                f" stock value vs naive {_pct(score['stock_value_vs_naive'])}, stock-outs"
                f" {score['stockouts']}, first-time fix {_pct(score['first_time_fix'])}"
                f" ({score['second_trips_stock']} second trips for parts not at hand)")

    if out["run"]:
        console.print(f"pipeline run (seed {options.seed}): {out['run']}")
    for score in out["candidates"]:
        console.print(line("candidate", score))
    console.print(line("chosen", out["chosen"]))
    path = settings.output_dir / f"{name}_service_level.json"
    path.write_text(json.dumps({"world": {k: getattr(options, k) for k in (
        "sites", "assets_per_site", "days", "history_days", "telemetry_days", "seed",
        "train_every_days", "dispatch_every_days")}, **out}, indent=2, default=str))
    console.print(f"written: {path}")


def _label(level: float | ServiceLevels) -> str:
    from assetwatch.service.service_levels import ServiceLevels

    return ServiceLevels.coerce(level).label()


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _trainings(result: ServiceBenchResult) -> list[str]:
    """One line per training of the pipeline row: per component type, the model registered
    and the failures its features saw."""
    by_day: dict[tuple[datetime, float], list[str]] = {}
    for t in result.trainings:
        by_day.setdefault((t.as_of, t.seconds), []).append(
            f"{t.component_type} {t.kind} ({t.failures} failures"
            f"{', promoted' if t.promoted else ''})")
    return [f"pipeline row, training at {day.date()} ({seconds:.0f} s): " + ", ".join(parts)
            for (day, seconds), parts in by_day.items()]


def season_days(options: RunOptions) -> int:
    """The seasonal-naive forecast's lag: a year (12 periods) when the history holds one,
    else one period (the naive forecast)."""
    year = 12 * options.period_days
    return year if options.history_days >= year else options.period_days


def run_scale(settings: Settings, *, assets: int, part_numbers: int,
              keep_database: bool = False) -> dict[str, float]:
    """Seconds to compute demand, policy and tickets for ``assets`` assets."""
    import psycopg

    from assetwatch.bench.service_scale import seed_scale
    from assetwatch.core.scratch import drop_database, fresh_database
    from assetwatch.service.demand import compute_demand
    from assetwatch.service.policy import compute_inventory_policy
    from assetwatch.service.tickets import update_tickets

    bench = fresh_database(settings, "bench_service_scale")
    as_of = START
    figures: dict[str, float] = {"assets": assets}
    with psycopg.connect(bench.db_url, autocommit=True) as conn:
        t0 = time.perf_counter()
        figures["part_numbers"] = seed_scale(conn, assets=assets, sites=20,
                                             part_numbers=part_numbers, as_of=as_of)
        figures["seed_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        figures["demand_rows"] = compute_demand(conn, as_of=as_of)
        figures["demand_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        figures["policy_rows"] = compute_inventory_policy(conn, as_of=as_of)
        figures["policy_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        update_tickets(conn, as_of=as_of)
        figures["tickets_s"] = time.perf_counter() - t0
    figures["flow_s"] = _time_demand_flow(bench, as_of)
    if not keep_database:
        drop_database(settings, bench)
    return figures


def _time_demand_flow(bench: Settings, as_of: datetime) -> float:
    """Seconds of one ``demand`` flow run (Prefect, the flow reads settings from the
    environment), including the flow's start-up."""
    import os

    from assetwatch.flows.commands import prefect_environment

    prefect_environment(bench)     # Prefect's home under the data directory, start-up timeout
    from assetwatch.flows.demand import demand_flow

    previous = os.environ.get("ASSETWATCH_DB_URL")
    os.environ["ASSETWATCH_DB_URL"] = bench.db_url
    try:
        t0 = time.perf_counter()
        demand_flow(as_of=as_of)
        return time.perf_counter() - t0
    finally:
        if previous is None:
            del os.environ["ASSETWATCH_DB_URL"]
        else:
            os.environ["ASSETWATCH_DB_URL"] = previous


def _print_scale(figures: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"demand flow at scale: {int(figures['assets'])} assets x "
                        f"{int(figures['part_numbers'])} part numbers (20 sites)")
    table.add_column("step")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_row("seed (COPY)", "", f"{figures['seed_s']:.1f}")
    table.add_row("compute_demand (3 periods, exact/approx. quantiles)",
                  str(int(figures["demand_rows"])), f"{figures['demand_s']:.1f}")
    table.add_row("compute_inventory_policy", str(int(figures["policy_rows"])),
                  f"{figures['policy_s']:.1f}")
    table.add_row("update_tickets", "", f"{figures['tickets_s']:.1f}")
    table.add_row("demand + policy (functions)", "",
                  f"{figures['demand_s'] + figures['policy_s']:.1f}")
    table.add_row("demand flow (Prefect: demand, policy, warranty; with start-up)", "",
                  f"{figures['flow_s']:.1f}  (target < 60)")
    Console().print(table)


def run_service_bench(settings: Settings, mode: str, options: RunOptions, *,
                      keep_database: bool = False) -> ServiceBenchResult:
    """Run one row in a database of its own; return what it recorded."""
    from threadpoolctl import threadpool_limits

    from assetwatch.bench.service_run import ServiceRun
    from assetwatch.core.scratch import drop_database, fresh_database

    world = f"{options.sites}x{options.assets_per_site}_{options.days}d_s{options.seed}"
    bench = fresh_database(settings, f"bench_service_{mode}_{world}")
    try:
        # one OpenMP thread per fit: on a shared 2-core machine scikit-learn's histogram
        # boosting with two threads ran 20x slower (spinning threads), measured
        with threadpool_limits(limits=1, user_api="openmp"):
            return ServiceRun(bench, mode, options, start=START).execute()
    finally:
        if not keep_database:
            drop_database(settings, bench)
