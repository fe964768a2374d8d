"""The figures of ``bench service``, computed from each row's run, and how they are shown.

Every figure comes from what the row's run recorded (tickets in the database judged against
the truth, visits, simulated stock, the demand forecasts), never from the truth alone:

* ``ticketed_24h``: share of true failures with a ticket for their asset and failure mode
  opened at least 24 h before the failure and still open at it; split into failures with and
  without a precursor in the telemetry; ``median_warning_days`` over the failures ticketed
  before they happened. The world responds to the row's repairs: a failure a repair visit
  averted (the worn part replaced before it failed) is a true failure of the window counted
  as ticketed, at the time the part would have failed (``failures_prevented``);
* ``tickets_per_failure``: automatic tickets opened in the window (less those still open at
  the end for a failure after it) per true failure; ``false_tickets``: tickets with no
  failure of their asset and mode while open or within the ticket horizon after opening;
* ``first_time_fix``: visits whose kit held the parts of the true failure mode and, in the
  product's stock, had them at hand at the visit: reserved for the ticket when it opened or
  since (a delivery before the visit), or free on the site's shelf (a breakdown nobody
  ticketed is diagnosed on site and fixed at once only from the shelf); ``second_trips`` are
  the others;
* ``fill_rate``, ``stockouts``, ``stock_value``: the product's stock of the row
  (:mod:`assetwatch.bench.service_parts`: replenished by the policy computed from the row's
  own demand; the ``calendar`` row's rules are the naive policy's levels), against the naive
  policy simulated on the same uses;
* ``demand_mase``: mean absolute error of the monthly parts demand forecast (per part) over
  that of the seasonal-naive forecast (the same part's consumption one season earlier);
* the product's own parts operations on the row's database
  (:mod:`assetwatch.bench.service_parts`): kits reserved in full at ticket open, part lines
  short when used and those covered by transfers, units bought against the naive policy's,
  repairable parts used met by repaired units.
* ``visits_per_failure``: repair visits plus second trips per true failure;
* ``sla_*`` / ``field_*``: the row's field service (:mod:`assetwatch.bench.service_dispatch`:
  daily plans stored, their visits executed): ``sla_response`` is the share of the tickets
  opened after the warm-up whose response clock (the product's ``respond_by``) is met rather
  than breached at the end (``sla_response_all`` over every ticket), with the breaches and
  near-breaches the product recorded, the visits made and the tickets closed on site without
  a fault;
* ``dispatch_*`` / ``baseline_*``: the daily plans of the product's dispatcher and of the
  baseline on the same work and crew: work due in the horizon planned to start by its
  deadline (work overdue when planned counted apart), driving over driving and time on site,
  and busy over working time; ``dispatch_travel_vs_baseline`` is the dispatcher's travel
  share over the baseline's.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from assetwatch.bench.service_run import ServiceBenchResult

__all__ = ["FIGURES", "TARGETS", "figures", "print_figures", "write_json"]

#: (key, label, format) in the order printed
FIGURES = (
    ("failures", "true failures in the window", "{:.0f}"),
    ("failures_with_precursor", "  with a precursor in the telemetry", "{:.0f}"),
    ("failures_prevented", "  averted by a repair visit (counted as ticketed)", "{:.0f}"),
    ("ticketed_24h", "failures ticketed >= 24 h ahead", "{:.1%}"),
    ("ticketed_24h_precursor", "  of failures with a precursor", "{:.1%}"),
    ("ticketed_24h_no_precursor", "  of failures without a precursor", "{:.1%}"),
    ("median_warning_days", "median warning (ticket -> failure), days", "{:.1f}"),
    ("tickets", "automatic tickets opened", "{:.0f}"),
    ("tickets_per_failure", "tickets per failure", "{:.2f}"),
    ("false_tickets", "false tickets (no failure within horizon)", "{:.0f}"),
    ("false_ticket_share", "  share of tickets", "{:.1%}"),
    ("visits", "repair visits", "{:.0f}"),
    ("first_time_fix", "first-time fix", "{:.1%}"),
    ("second_trips", "visits needing a second trip", "{:.0f}"),
    ("second_trips_kit", "  the kit lacked the failure mode's parts", "{:.0f}"),
    ("second_trips_stock", "  the parts were not at hand", "{:.0f}"),
    ("breakdown_visits", "  visits to unticketed breakdowns", "{:.0f}"),
    ("fill_rate", "fill rate (product stock)", "{:.1%}"),
    ("naive_fill_rate", "  naive policy", "{:.1%}"),
    ("stockouts", "part lines short at use (product stock)", "{:.0f}"),
    ("naive_stockouts", "  naive policy", "{:.0f}"),
    ("stock_value", "average stock value (product stock)", "{:,.0f}"),
    ("stock_value_vs_naive", "  relative to the naive policy", "{:.1%}"),
    ("demand_mase", "monthly demand MASE (vs seasonal naive)", "{:.2f}"),
    ("parts_available_at_open", "kit reserved in full at ticket open (product stock)", "{:.1%}"),
    ("shortages_at_use", "part lines short when used (product stock)", "{:.0f}"),
    ("shortages_by_transfer", "  covered by a transfer (stock-outs avoided)", "{:.0f}"),
    ("units_bought", "units bought by the product's replenishment", "{:.0f}"),
    ("naive_units_bought", "  by the naive policy", "{:.0f}"),
    ("repairable_from_repair", "repairable parts used met by repaired units", "{:.1%}"),
    ("visits_per_failure", "visits per failure (repairs + second trips)", "{:.2f}"),
    ("sla_response", "SLA: tickets responded to by the contract's deadline", "{:.1%}"),
    ("sla_response_breached", "  response clocks breached", "{:.0f}"),
    ("sla_response_all", "  over every ticket (the first week's backlog too)", "{:.1%}"),
    ("sla_near_breaches", "  near-breaches recorded", "{:.0f}"),
    ("sla_restore", "SLA: tickets restored by the contract's deadline", "{:.1%}"),
    ("field_visits", "field visits made (dispatched, executed)", "{:.0f}"),
    ("field_response_visits", "  response visits (kit not there by the deadline)", "{:.0f}"),
    ("field_no_fault_found", "  tickets closed on site: no fault found", "{:.0f}"),
    ("preventive_done", "  preventive work orders done", "{:.0f}"),
    ("preventive_renewed", "    component lives they renewed", "{:.0f}"),
    ("dispatch_on_time", "dispatch plans: work due in the horizon planned on time", "{:.1%}"),
    ("baseline_on_time", "  baseline dispatcher", "{:.1%}"),
    ("dispatch_overdue", "  work items overdue when planned (per plan)", "{:.1f}"),
    ("dispatch_travel_share", "dispatch: travel share", "{:.1%}"),
    ("baseline_travel_share", "  baseline dispatcher", "{:.1%}"),
    ("dispatch_travel_vs_baseline", "  dispatch's relative to the baseline's", "{:.1%}"),
    ("dispatch_utilisation", "dispatch: technician utilisation", "{:.1%}"),
    ("baseline_utilisation", "  baseline dispatcher", "{:.1%}"),
    ("seconds", "run time, s", "{:.0f}"),
)

#: key -> (comparison, threshold, text) for the pipeline row
TARGETS: dict[str, tuple[str, float, str]] = {
    "ticketed_24h_precursor": (">=", 0.85, ">= 85 %"),
    "tickets_per_failure": ("<=", 1.3, "<= 1.3"),
    "first_time_fix": (">=", 0.90, ">= 90 %"),
    "stock_value_vs_naive": ("<=", 0.80, "<= 80 % (fill >= naive)"),
    "demand_mase": ("<", 1.0, "< 1"),
    "sla_response": (">=", 0.95, ">= 95 %"),
    "dispatch_travel_vs_baseline": ("<=", 0.85, "<= 85 %"),
}


def _share(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def figures(result: ServiceBenchResult, *, season_days: int) -> dict[str, Any]:
    """The figures of one row (None where a figure has no denominator)."""
    failures = result.failures
    precursor = [i for i, f in enumerate(failures) if f.precursor]
    silent = [i for i, f in enumerate(failures) if not f.precursor]
    ahead = {i for i, days in result.warning_days.items() if days >= 1.0}
    counted = [t for t in result.tickets if not t.pending]
    false = [t for t in result.tickets if not t.true]
    visits = result.visits
    fixed = sum(v.first_time_fix for v in visits)
    own, naive = result.policies
    out: dict[str, Any] = {
        "failures": len(failures),
        "failures_with_precursor": len(precursor),
        "failures_prevented": len(result.prevented),
        "ticketed_24h": _share(len(ahead), len(failures)),
        "ticketed_24h_precursor": _share(len(ahead & set(precursor)), len(precursor)),
        "ticketed_24h_no_precursor": _share(len(ahead & set(silent)), len(silent)),
        "median_warning_days": statistics.median(result.warning_days.values())
        if result.warning_days else None,
        "tickets": len(result.tickets),
        "tickets_per_failure": _share(len(counted), len(failures)),
        "false_tickets": len(false),
        "false_ticket_share": _share(len(false), len(result.tickets)),
        "visits": len(visits),
        "first_time_fix": _share(fixed, len(visits)),
        "second_trips": len(visits) - fixed,
        "second_trips_kit": sum(not v.kit_ok for v in visits),
        "second_trips_stock": sum(v.kit_ok and not v.in_stock for v in visits),
        "breakdown_visits": sum(v.ticket_id is None for v in visits),
        "fill_rate": own.fill_rate,
        "naive_fill_rate": naive.fill_rate,
        "stockouts": own.stockouts,
        "naive_stockouts": naive.stockouts,
        "stock_value": own.inventory_value,
        "stock_value_vs_naive": _share(own.inventory_value, naive.inventory_value),
        "demand_mase": demand_mase(result, season_days=season_days),
        "visits_per_failure": _share(2 * len(visits) - fixed, len(failures)),
        **_sla(result),
        "dispatch_on_time": result.dispatch.on_time_share,
        "baseline_on_time": result.dispatch_baseline.on_time_share,
        "dispatch_overdue": _share(result.dispatch.overdue, result.dispatch.plans),
        "dispatch_travel_share": result.dispatch.travel_share,
        "baseline_travel_share": result.dispatch_baseline.travel_share,
        "dispatch_travel_vs_baseline": _share(result.dispatch.travel_share or 0.0,
                                              result.dispatch_baseline.travel_share or 0.0)
        if result.dispatch.travel_share is not None else None,
        "dispatch_utilisation": result.dispatch.utilisation,
        "baseline_utilisation": result.dispatch_baseline.utilisation,
        "preventive_done": result.preventive_done,
        "preventive_renewed": result.preventive_renewed,
        "seconds": result.seconds,
        **result.parts,
    }
    return out


def _sla(result: ServiceBenchResult) -> dict[str, Any]:
    """The executed field service's SLA figures (None without dispatch)."""
    sla = result.sla
    if sla is None:
        return {k: None for k in ("sla_response", "sla_response_met", "sla_response_breached",
                                  "sla_response_all",
                                  "sla_response_running", "sla_restore", "sla_breaches",
                                  "sla_near_breaches", "field_visits", "field_response_visits",
                                  "field_no_fault_found")}
    every = result.sla_all
    return {"sla_response": sla.response_attainment, "sla_response_met": sla.response_met,
            "sla_response_all": every.response_attainment if every else None,
            "sla_response_breached": sla.response_breached,
            "sla_response_running": sla.response_running,
            "sla_restore": sla.restore_attainment, "sla_breaches": sla.breach_events,
            "sla_near_breaches": sla.near_breach_events, "field_visits": sla.visits,
            "field_response_visits": sla.response_visits,
            "field_no_fault_found": sla.no_fault_found}


def demand_mase(result: ServiceBenchResult, *, season_days: int) -> float | None:
    """Sum of |forecast - actual| over (part, period) cells over the same sum for the
    seasonal-naive forecast: the part's consumption in the period ``season_days`` earlier."""
    by_part: dict[str, list[tuple[Any, int]]] = defaultdict(list)
    for at, (part_no, _), qty in result.consumption:
        by_part[part_no].append((at, qty))
    model_error = naive_error = 0.0
    for row in result.forecast:
        start = row["period_start"] - timedelta(days=season_days)
        end = start + _period(result)
        naive = sum(q for at, q in by_part.get(row["part_no"], []) if start <= at < end)
        model_error += abs(row["forecast"] - row["actual"])
        naive_error += abs(naive - row["actual"])
    return model_error / naive_error if naive_error else None


def _period(result: ServiceBenchResult) -> timedelta:
    return timedelta(days=result.period_days)


def _meets(value: float | None, target: tuple[str, float, str],
           row: dict[str, Any]) -> bool | None:
    if value is None:
        return None
    op, threshold, _ = target
    ok = value >= threshold if op == ">=" else value <= threshold if op == "<=" else \
        value < threshold
    if target is TARGETS["stock_value_vs_naive"]:
        ok = ok and row["fill_rate"] >= row["naive_fill_rate"]
    return ok


def print_figures(rows: dict[str, dict[str, Any]], title: str, *, console: Any = None) -> None:
    """The rows side by side (calendar, pipeline, oracle), the pipeline's gap to the oracle
    and the targets."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=max(Console().width, 130))
    table = Table(title=title)
    table.add_column("figure")
    names = [m for m in ("calendar", "pipeline", "oracle") if m in rows]
    for name in names:
        label = {"calendar": "calendar (lower bound)", "pipeline": "pipeline",
                 "oracle": "oracle (upper bound)"}[name]
        table.add_column(label, justify="right")
    table.add_column("gap to oracle", justify="right")
    table.add_column("target (pipeline)", justify="right")
    pipeline, oracle = rows.get("pipeline"), rows.get("oracle")
    for key, label, fmt in FIGURES:
        cells = [_fmt(rows[n].get(key), fmt) for n in names]
        gap = ""
        if pipeline and oracle and key != "seconds" and isinstance(pipeline.get(key), float) \
                and isinstance(oracle.get(key), float):
            gap = _fmt(pipeline[key] - oracle[key], fmt.replace("{:", "{:+"))
        target = ""
        if key in TARGETS and pipeline:
            met = _meets(pipeline.get(key), TARGETS[key], pipeline)
            target = TARGETS[key][2] + ("" if met is None else " ok" if met else " MISSED")
        table.add_row(label, *cells, gap, target)
    console.print(table)


def _fmt(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    return fmt.format(value)


def write_json(path: Path, rows: dict[str, dict[str, Any]], meta: dict[str, Any]) -> None:
    """All rows' figures, the targets and the run's parameters as one JSON document."""
    doc = {"parameters": meta, "rows": rows,
           "targets": {k: {"comparison": v[0], "threshold": v[1]} for k, v in TARGETS.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
