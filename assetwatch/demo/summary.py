"""The demo's closing summary, read back from the database (not from what stages returned)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings

__all__ = ["DemoSummary", "print_summary", "read_silent_asset", "read_summary"]

_COUNTS = {
    "assets registered": "SELECT count(*) FROM asset",
    "assets that announced themselves (birth message)":
        "SELECT count(*) FROM asset WHERE status_changed_at IS NOT NULL",
    "readings ingested": "SELECT count(*) FROM telemetry",
    "batches ingested (exactly once)": "SELECT count(*) FROM ingest_batch",
    "dead letters": "SELECT count(*) FROM dead_letter",
    "asset events (maintenance, replacements, failures, errors)":
        "SELECT count(*) FROM asset_event",
    "component failures reported": "SELECT count(*) FROM asset_event WHERE kind = 'failure'",
    "configuration records (installed components)": "SELECT count(*) FROM installed_component",
    "anomaly scores": "SELECT count(*) FROM anomaly_score",
    "anomaly events": "SELECT count(*) FROM anomaly_event WHERE kind = 'anomaly'",
    "model versions registered": "SELECT count(*) FROM model_version",
    "failure predictions": "SELECT count(*) FROM failure_prediction",
    "predicted failures (p >= 0.5 within 30 days)":
        "SELECT count(*) FROM v_failure_risk WHERE horizon_days = 30"
        " AND failure_probability >= 0.5",
    "parts demand rows": "SELECT count(*) FROM v_parts_demand",
    "inventory policy rows": "SELECT count(*) FROM v_inventory_policy",
    "service tickets opened": "SELECT count(*) FROM service_ticket",
    "hourly rollup rows (housekeeping)": "SELECT count(*) FROM v_telemetry_hourly",
    "tickets closed with a resolution (training labels)": "SELECT count(*) FROM failure_label",
    "connectivity tickets open": "SELECT count(*) FROM service_ticket"
                                 " WHERE kind = 'connectivity' AND status <> 'closed'",
    "open alerts": "SELECT count(*) FROM alert WHERE resolved_at IS NULL",
    "notifications delivered": "SELECT count(*) FROM notification_delivery"
                               " WHERE state = 'delivered'",
    "configurations in force as pushed (no drift)":
        "SELECT count(*) FROM v_asset_config WHERE desired_hash = active_hash",
    "stock movements (ledger)": "SELECT count(*) FROM stock_movement",
    "kit lines reserved by open tickets": "SELECT count(*) FROM stock_reservation"
                                          " WHERE state = 'active'",
    "replenishment orders raised": "SELECT count(*) FROM replenishment_order",
    "replenishment orders received": "SELECT count(*) FROM replenishment_order"
                                     " WHERE state = 'received'",
    "removed parts returned (RMA, repair, scrap, NFF)": "SELECT count(*) FROM part_return",
    "warranty claims": "SELECT count(*) FROM warranty_claim",
}

_DEAD_LETTERS = "SELECT reason FROM v_dead_letter ORDER BY received_at LIMIT 10"

_SILENT = """
SELECT s.asset_tag, round((s.silent_s / 60)::numeric) AS silent_minutes,
       (SELECT t.ticket_id FROM service_ticket t WHERE t.asset_id = s.asset_id
         AND t.kind = 'connectivity' AND t.status <> 'closed') AS ticket,
       (SELECT count(*) FROM notification_delivery d JOIN alert al USING (alert_id)
         WHERE al.asset_id = s.asset_id AND al.rule_uid = 'aw-asset-stale'
           AND d.state = 'delivered') AS notified
FROM v_asset_staleness s WHERE s.asset_tag = %s
"""

_DEMAND = """
SELECT part_no, site_id, round(sum(expected_qty)::numeric, 2), round(sum(upper_qty)::numeric, 0)
FROM v_parts_demand
GROUP BY part_no, site_id
HAVING sum(expected_qty) > 0
ORDER BY sum(expected_qty) DESC
LIMIT 12
"""

_TICKETS = """
SELECT asset_tag, failure_mode, status, priority, round(risk::numeric, 2),
       due_at::date, jsonb_array_length(kit)
FROM v_service_ticket
ORDER BY priority, risk DESC
LIMIT 10
"""


@dataclass
class DemoSummary:
    """What each stage left in the database, and where the outputs went."""

    counts: dict[str, int] = field(default_factory=dict)
    demand: list[tuple] = field(default_factory=list)
    tickets: list[tuple] = field(default_factory=list)
    dashboards_dir: Path | None = None
    report_path: Path | None = None
    ground_truth_path: Path | None = None
    database_url: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    dead_letters: list[str] = field(default_factory=list)
    configs: list[Any] = field(default_factory=list)          # demo.loop.ConfigOutcome
    closed_tickets: list[tuple] = field(default_factory=list)
    silent_asset: str | None = None
    silent: tuple | None = None   # (asset, silent minutes, connectivity ticket, notified)
    notifications_received: int = 0
    parts: dict[str, str] = field(default_factory=dict)   # demo.parts.PartsStory.steps
    parts_tickets_closed: int = 0
    dispatch: dict[str, object] = field(default_factory=dict)   # the dispatch flow's result
    closeout: str | None = None


def read_summary(settings: Settings) -> DemoSummary:
    """Count what every stage produced."""
    summary = DemoSummary()
    with connect(settings, autocommit=True) as conn:
        for label, query in _COUNTS.items():
            row = conn.execute(query).fetchone()
            summary.counts[label] = int(row[0]) if row else 0
        summary.demand = list(conn.execute(_DEMAND))
        summary.tickets = list(conn.execute(_TICKETS))
        summary.dead_letters = [r[0] for r in conn.execute(_DEAD_LETTERS)]
    return summary


def read_silent_asset(settings: Settings, summary: DemoSummary) -> None:
    """What became of the silent asset: how long silent, its ticket, its notifications."""
    if summary.silent_asset is None:
        return
    with connect(settings, autocommit=True) as conn:
        summary.silent = conn.execute(_SILENT, (summary.silent_asset,)).fetchone()


def print_summary(summary: DemoSummary, console: Console | None = None) -> None:
    """Print the summary as tables a person can read."""
    console = console or Console()
    counts = Table(title="assetwatch demo: what reached the database", show_header=False)
    counts.add_column("stage")
    counts.add_column("count", justify="right")
    for label, value in summary.counts.items():
        counts.add_row(label, f"{value:,}")
    console.print(counts)

    demand = Table(title="Predicted parts demand over the planning horizon (top parts)")
    for column in ("part", "site", "expected", "upper (95 %)"):
        demand.add_column(column, justify="left" if column in ("part", "site") else "right")
    for part_no, site_id, expected, upper in summary.demand:
        demand.add_row(part_no, site_id, str(expected), str(upper))
    console.print(demand)

    tickets = Table(title="Service tickets (most urgent first)")
    for column in ("asset", "failure mode", "status", "priority", "risk", "due", "kit lines"):
        tickets.add_column(column)
    for row in summary.tickets:
        tickets.add_row(*(str(v) for v in row))
    console.print(tickets)

    _print_loop(summary, console)
    if summary.parts:
        parts = Table(title="Spare parts: shortage, replenishment, returns, repairs, warranty",
                      show_header=False)
        parts.add_column("step")
        parts.add_column("outcome")
        for step, outcome in summary.parts.items():
            parts.add_row(step, outcome)
        console.print(parts)
    if summary.stage_seconds:
        total = sum(summary.stage_seconds.values())
        console.print(f"stages took {total:.0f} s in all")
    if summary.dashboards_dir:
        console.print(f"Grafana dashboards (provisioning folder): {summary.dashboards_dir}")
    if summary.report_path:
        console.print(f"HTML report: {summary.report_path}")
    if summary.ground_truth_path:
        console.print(f"simulator ground truth: {summary.ground_truth_path}")
    if summary.database_url:
        console.print(f"explore the data: ASSETWATCH_DB_URL={summary.database_url} "
                      "(views v_*), or psql that URL")


def _print_loop(summary: DemoSummary, console: Console) -> None:
    loop = Table(title="Closing the loop", show_header=False)
    loop.add_column("what")
    loop.add_column("outcome")
    for config in summary.configs:
        loop.add_row(f"configuration {config.outcome}: {config.asset_tag}",
                     f"{config.document} ({config.detail})")
    for reason in summary.dead_letters:
        loop.add_row("dead letter (kept with its reason)", reason)
    for ticket_id, asset_tag, mode, code in summary.closed_tickets:
        loop.add_row(f"ticket {ticket_id} closed: {asset_tag} {mode}", code)
    if summary.silent is not None:
        tag, minutes, ticket, notified = summary.silent
        loop.add_row(f"silent asset {tag}", f"silent {minutes} min; connectivity ticket "
                     f"{ticket or 'none'}; {notified} stale-asset notification(s)")
    loop.add_row("webhook receiver", f"{summary.notifications_received} notification(s) "
                                     "received")
    plan = summary.dispatch.get("plan") if summary.dispatch else None
    if isinstance(plan, dict):
        loop.add_row("dispatch plan", f"{plan['visits']} visits covering "
                     f"{plan['planned_items']} of {plan['work_items']} work items; "
                     f"{plan['on_time']}/{plan['due']} due on time; travel share "
                     f"{plan['travel_share']:.0%}")
    if summary.closeout:
        loop.add_row("technician's close-out", summary.closeout)
    console.print(loop)
