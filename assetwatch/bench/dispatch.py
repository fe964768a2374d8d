"""``assetwatch bench dispatch``: plan a generated workload against the baseline dispatcher.

A seeded workload (:mod:`assetwatch.bench.dispatch_world`; default 1,000 open work items,
30 technicians, 5 days) is written into a scratch database and planned twice through
:func:`~assetwatch.service.field.plan.plan_dispatch`, the product's own path (views, jobs,
solver, storing the visits): with the default solver (OR-Tools routing, work at one site in
one window merged), and with the baseline dispatcher (due-date order, nearest free
technician, every work item its own visit). Printed per planner: wall time of the whole
planning call, work items planned, the share of due work started by its deadline, the SLA
attainment of breakdown tickets (response deadline), travel share (driving / (driving + time
on site)) and utilisation (driving + time on site / working time).

The solver's costs and time limit were chosen on seed 1; the default seed is 2.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from assetwatch.core.settings import Settings

__all__ = ["register", "run_dispatch_bench"]


def register(benches: argparse._SubParsersAction) -> None:
    parser = benches.add_parser("dispatch", help="visit planning against a baseline dispatcher")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--technicians", type=int, default=30)
    parser.add_argument("--days", type=float, default=5.0)
    parser.add_argument("--time-limit", type=float, default=None,
                        help="solver seconds (default: the dispatch_time_limit_s setting)")
    parser.set_defaults(func=_run)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    rows = run_dispatch_bench(settings, seed=args.seed, items=args.items,
                              technicians=args.technicians, days=args.days,
                              time_limit_s=args.time_limit or settings.dispatch_time_limit_s)
    table = Table(title=f"bench dispatch: {args.items} work items, {args.technicians} "
                        f"technicians, {args.days:g} days, seed {args.seed}")
    for column in ("planner", "seconds", "visits", "planned", "due work on time",
                   "breakdown SLA", "travel share", "utilisation"):
        table.add_column(column, justify="left" if column == "planner" else "right")
    for row in rows:
        table.add_row(row["planner"], f"{row['seconds']:.1f}", str(row["visits"]),
                      f"{row['planned']}/{row['items']}",
                      f"{row['on_time']}/{row['due']} ({row['on_time_share']:.1%})",
                      f"{row['sla_met']}/{row['sla']} ({row['sla_share']:.1%})",
                      f"{row['travel_share']:.1%}", f"{row['utilisation']:.1%}")
    Console(width=max(Console().width, 130)).print(table)
    base, ours = rows[1], rows[0]
    print(f"travel share {ours['travel_share']:.1%} against the baseline's "
          f"{base['travel_share']:.1%}: "
          f"{1 - ours['travel_share'] / base['travel_share']:.1%} lower")
    return 0


def run_dispatch_bench(settings: Settings, *, seed: int = 2, items: int = 1000,
                       technicians: int = 30, days: float = 5.0,
                       time_limit_s: float = 30.0) -> list[dict[str, object]]:
    """Plan the workload of ``seed`` with the default solver, then the baseline."""
    from assetwatch.bench.dispatch_load import load_workload
    from assetwatch.bench.dispatch_world import generate_workload
    from assetwatch.core.db import connect
    from assetwatch.core.scratch import drop_database, fresh_database
    from assetwatch.service.field.greedy import BaselineDispatcher
    from assetwatch.service.field.plan import DispatchPolicy, make_solver, plan_dispatch

    world = generate_workload(seed, items=items, technicians=technicians)
    scratch = fresh_database(settings, "bench_dispatch")
    rows = []
    try:
        with connect(scratch, autocommit=True) as conn:
            load_workload(conn, world)
            for solver, window in ((make_solver(time_limit_s=time_limit_s), 48.0),
                                   (BaselineDispatcher(), 0.0)):
                policy = DispatchPolicy(horizon_days=days, merge_window_hours=window,
                                        speed_kmh=settings.dispatch_speed_kmh,
                                        road_factor=settings.dispatch_road_factor)
                began = time.perf_counter()
                summary = plan_dispatch(conn, as_of=world.start, policy=policy, solver=solver)
                seconds = time.perf_counter() - began
                sla_met, sla = conn.execute(
                    "SELECT count(*) FILTER (WHERE w.starts_at <= t.respond_by), count(*)"
                    " FROM v_ticket_sla t JOIN v_service_ticket s USING (ticket_id)"
                    " LEFT JOIN v_visit_work w ON w.ticket_id = t.ticket_id"
                    " WHERE s.opened_by = 'bench-breakdown' AND t.respond_by < %s",
                    (world.start + timedelta(days=days),)).fetchone()
                m = summary.metrics
                rows.append({"planner": solver.name,
                             "seconds": seconds, "visits": summary.visits,
                             "planned": m.planned_items, "items": m.work_items,
                             "on_time": m.sla_met, "due": m.sla_items,
                             "on_time_share": m.sla_attainment, "sla_met": sla_met, "sla": sla,
                             "sla_share": sla_met / sla if sla else 1.0,
                             "travel_share": m.travel_share, "utilisation": m.utilisation})
    finally:
        drop_database(settings, scratch)
    return rows
