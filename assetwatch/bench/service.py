"""``assetwatch bench service``: parts demand, inventory policy and tickets against ground truth.

The simulated fleet (:mod:`assetwatch.sim.fleet`, lifecycle of every component) runs
for ``--history-days`` (consumption history for the naive policy) and then ``--days`` of
evaluation, one step per simulated day, in a database of its own (``<database>_bench_service``,
created for the run and dropped after it unless ``--keep-database``). Each day:

1. ground-truth events up to that day happen: planned maintenance and component failures
   consume parts at their site (in both simulated stocks); a replacement closes the open
   ticket of that (asset, failure mode) with ``confirmed_failure`` through the real lifecycle
   code (maintenance event, installed-base change, training label), or is recorded as an
   unticketed repair;
2. failure predictions for every component are stored (a stand-in predictor with what a
   monitoring system knows; see :mod:`assetwatch.bench.service_predictors`);
3. ``update_tickets`` and ``compute_inventory_policy`` run as the flows would; every
   ``--period-days`` ``compute_demand`` forecasts the next period;
4. both stocking policies review and order (:mod:`assetwatch.bench.inventory_sim`).

It prints the demand forecast error per part (and writes it per part and period as CSV), fill
rate, stock-outs and average inventory of the computed policy against the naive policy,
tickets per true failure, the share of failures with a ticket opened before the failure and
the first-time-fix rate. ``--scale`` instead times the demand computation on 10,000 assets x
50 part numbers.
"""

from __future__ import annotations

import argparse
import csv
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assetwatch.core.settings import Settings

if TYPE_CHECKING:
    from assetwatch.bench.service_run import ServiceBenchResult

__all__ = ["register", "run_scale", "run_service_bench"]

log = logging.getLogger(__name__)

START = datetime(2025, 1, 1, tzinfo=UTC)


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("service", help="demand forecast, inventory policy and tickets"
                                " against the simulated fleet's ground truth")
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--assets-per-site", type=int, default=25)
    parser.add_argument("--days", type=int, default=365, help="evaluated simulated days")
    parser.add_argument("--history-days", type=int, default=180,
                        help="simulated days before the evaluation (history for the naive policy)")
    parser.add_argument("--period-days", type=int, default=30)
    parser.add_argument("--service-level", type=float, default=0.95)
    parser.add_argument("--predictor", choices=("condition", "weibull", "models"),
                        default="condition",
                        help="condition/weibull: stand-ins on the simulator's lifecycle; models:"
                             " the project's failure models trained and scored on simulated"
                             " telemetry (slower)")
    parser.add_argument("--score-every-days", type=int, default=1,
                        help="with --predictor models: days between scoring runs")
    parser.add_argument("--retrain-days", type=int, default=90,
                        help="with --predictor models: days between training runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep-database", action="store_true",
                        help="keep the benchmark's database for inspection")
    parser.add_argument("--scale", action="store_true",
                        help="only time the demand computation on a large installed base")
    parser.add_argument("--scale-assets", type=int, default=10_000)
    parser.add_argument("--scale-parts", type=int, default=50)
    parser.set_defaults(func=bench_service)


def bench_service(settings: Settings, args: argparse.Namespace) -> int:
    logging.getLogger("assetwatch.service").setLevel(logging.WARNING)
    if args.scale:
        figures = run_scale(settings, assets=args.scale_assets, part_numbers=args.scale_parts,
                            keep_database=args.keep_database)
        _print_scale(figures)
        return 0
    result = run_service_bench(settings, sites=args.sites, assets_per_site=args.assets_per_site,
                               days=args.days, history_days=args.history_days,
                               period_days=args.period_days, service_level=args.service_level,
                               predictor=args.predictor, seed=args.seed,
                               score_every_days=args.score_every_days,
                               retrain_days=args.retrain_days,
                               keep_database=args.keep_database)
    _print_result(result, settings, args)
    return 0


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


def run_service_bench(settings: Settings, *, sites: int, assets_per_site: int, days: int,
                      history_days: int, period_days: int, service_level: float,
                      predictor: str, seed: int, score_every_days: int = 1,
                      retrain_days: int = 90, keep_database: bool = False
                      ) -> ServiceBenchResult:
    """Run the fleet through history and evaluation; return the figures."""
    from assetwatch.bench.service_run import ServiceRun
    from assetwatch.core.scratch import drop_database, fresh_database

    started = time.perf_counter()
    bench = fresh_database(settings, "bench_service")
    run = ServiceRun(bench, sites=sites, assets_per_site=assets_per_site, start=START,
                     history_days=history_days, days=days, period_days=period_days,
                     service_level=service_level, predictor=predictor, seed=seed,
                     score_every_days=score_every_days, retrain_days=retrain_days)
    try:
        result = run.execute()
    finally:
        if not keep_database:
            drop_database(settings, bench)
    result.seconds = time.perf_counter() - started
    return result


def _print_result(result: ServiceBenchResult, settings: Settings,
                  args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    console.print(f"[bold]bench service[/]: {result.assets} assets, {result.days} simulated days"
                  f" after {args.history_days} days of history, predictor {args.predictor!r},"
                  f" {result.seconds:.0f} s")
    by_part: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in result.forecast:
        by_part[row["part_no"]].append(row)
    table = Table(title=f"demand forecast per part and {args.period_days}-day period "
                        "(all sites; actual = parts consumed)")
    for name in ("part", "periods", "actual", "forecast", "MAE/period", "bias/period",
                 "actual <= upper q"):
        table.add_column(name, justify="right" if name != "part" else "left")
    total_abs = total_actual = 0.0
    for part_no in sorted(by_part):
        rows = by_part[part_no]
        actual = sum(r["actual"] for r in rows)
        forecast = sum(r["forecast"] for r in rows)
        mae = sum(abs(r["forecast"] - r["actual"]) for r in rows) / len(rows)
        covered = sum(r["site_actual_le_upper"] for r in rows)
        cells = sum(r["site_cells"] for r in rows)
        total_abs += sum(abs(r["forecast"] - r["actual"]) for r in rows)
        total_actual += actual
        table.add_row(part_no, str(len(rows)), f"{actual:.0f}", f"{forecast:.1f}", f"{mae:.2f}",
                      f"{(forecast - actual) / len(rows):+.2f}",
                      f"{covered / cells:.0%}" if cells else "-")
    console.print(table)
    if total_actual:
        console.print(f"weighted absolute error over all parts and periods: "
                      f"{total_abs / total_actual:.1%} of actual consumption")
    out = settings.output_dir / "bench_service_forecast.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        fields = ["period_start", "part_no", "forecast", "upper_sum", "actual",
                  "site_cells", "site_actual_le_upper"]
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.forecast)
    console.print(f"per part and period: {out}")
    inv = Table(title=f"stocking policies (service level {args.service_level:.0%})")
    for name in ("policy", "fill rate", "stock-outs", "parts demanded", "orders",
                 "avg units on hand", "avg value on hand"):
        inv.add_column(name, justify="right" if name != "policy" else "left")
    for p in result.policies:
        inv.add_row(p.name, f"{p.fill_rate:.1%}", str(p.stockouts), str(p.demanded),
                    str(p.orders), f"{p.inventory_units:.1f}", f"{p.inventory_value:,.0f}")
    console.print(inv)
    tickets = Table(title="service tickets against true failures")
    tickets.add_column("figure")
    tickets.add_column("value", justify="right")
    tickets.add_column("target", justify="right")
    tickets.add_row("true failures", str(result.failures), "")
    tickets.add_row("tickets opened automatically", str(result.auto_tickets), "")
    tickets.add_row("  of which open at the end for a failure after the window",
                    str(result.tickets_pending_true), "")
    tickets.add_row("tickets per true failure", f"{result.tickets_per_failure:.2f}", "<= 1.5")
    tickets.add_row("failures with a ticket opened before", f"{result.ticketed_share:.1%}",
                    ">= 80 %")
    if result.lead_days:
        ordered = sorted(result.lead_days)
        tickets.add_row("median warning (ticket -> failure)",
                        f"{ordered[len(ordered) // 2]:.1f} d", "")
    tickets.add_row("first-time-fix rate (kit had the part)",
                    f"{result.first_time_fix_rate:.1%}", "")
    console.print(tickets)
