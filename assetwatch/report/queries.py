"""Read what the report shows from the ``v_*`` views (the same read model as the dashboards)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from assetwatch.report.day_sheet import DaySheet, load_day_sheets

__all__ = ["AssetDetail", "ReportData", "load_report_data"]

_FLEET = """
SELECT site_id, site_name, asset_tag, asset_kind, health, health_rank, anomaly_score,
       open_tickets, predicted_risk, risk_horizon_days, riskiest_component, min_rul_days,
       data_state, last_reading_at, asset_id
FROM v_fleet_health
ORDER BY health_rank DESC, predicted_risk DESC NULLS LAST, anomaly_score DESC NULLS LAST,
         site_id, asset_tag"""

_RISKIEST = """
SELECT asset_id FROM v_fleet_health WHERE last_reading_at IS NOT NULL
ORDER BY health_rank DESC, predicted_risk DESC NULLS LAST, anomaly_score DESC NULLS LAST,
         asset_tag
LIMIT %s"""

_TELEMETRY = """
SELECT time_bucket(%(bucket)s, time) AS t, sensor, unit, avg(value) AS value
FROM v_telemetry WHERE asset_id = %(asset_id)s AND time BETWEEN %(start)s AND %(end)s
GROUP BY 1, 2, 3 ORDER BY 2, 1"""

_SCORES = """
SELECT time_bucket(%(bucket)s, time) AS t, detector, max(score) AS score
FROM v_anomaly_score WHERE asset_id = %(asset_id)s AND time BETWEEN %(start)s AND %(end)s
GROUP BY 1, 2 ORDER BY 2, 1"""

_EVENTS = """
SELECT started_at, ended_at, detector, kind, peak_score, sensors
FROM v_anomaly_event
WHERE asset_id = %(asset_id)s AND started_at <= %(end)s
  AND coalesce(ended_at, now()) >= %(start)s
ORDER BY started_at"""

_RISKS = """
SELECT component_type, horizon_days, failure_probability, rul_days, rul_low_days,
       rul_high_days, model_version
FROM v_failure_risk WHERE asset_id = %(asset_id)s
ORDER BY failure_probability DESC, component_type, horizon_days"""

_DEMAND = """
SELECT d.part_no, min(d.description) AS description, d.site_id,
       min(d.period_start) AS first_period, max(d.period_end) AS last_period,
       count(*) AS periods, sum(d.expected_qty) AS expected_qty, sum(d.upper_qty) AS upper_qty,
       max(d.quantile) AS quantile, sum(d.planned_qty) AS planned_qty,
       max(ip.on_hand) AS on_hand, max(ip.reorder_point) AS reorder_point,
       max(ip.safety_stock) AS safety_stock, max(ip.kanban_bin_qty) AS kanban_bin_qty,
       max(ip.kanban_cards) AS kanban_cards, bool_or(ip.stockout_risk) AS stockout_risk
FROM v_parts_demand d
LEFT JOIN v_inventory_policy ip USING (part_no, site_id)
GROUP BY d.part_no, d.site_id
ORDER BY sum(d.upper_qty) DESC, d.part_no, d.site_id
LIMIT %s"""


@dataclass
class AssetDetail:
    """One of the riskiest assets: its health row, sensor series, scores, events and risks."""

    health: dict[str, Any]
    sensors: dict[str, tuple[str, list[tuple[datetime, float]]]] = field(default_factory=dict)
    scores: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    risks: list[dict[str, Any]] = field(default_factory=list)
    window: tuple[datetime, datetime] | None = None


@dataclass
class ReportData:
    """Everything on the page, read at ``generated_at``."""

    generated_at: datetime
    fleet: list[dict[str, Any]]
    riskiest: list[AssetDetail]
    demand: list[dict[str, Any]]
    day_sheets: list[DaySheet] = field(default_factory=list)


def load_report_data(conn: psycopg.Connection, *, riskiest: int = 3,
                     window: timedelta = timedelta(days=7), points: int = 240,
                     demand_rows: int = 40) -> ReportData:
    """Read the fleet, the ``riskiest`` assets' last ``window`` of data and the demand table."""
    cur = conn.cursor(row_factory=dict_row)
    now_row = cur.execute("SELECT now() AS now").fetchone()
    assert now_row is not None
    generated_at = now_row["now"]
    fleet = cur.execute(_FLEET).fetchall()
    by_id = {row["asset_id"]: row for row in fleet}
    details = []
    for (asset_id,) in conn.execute(_RISKIEST, (riskiest,)).fetchall():
        health = by_id[asset_id]
        end = health["last_reading_at"]
        args = {"asset_id": asset_id, "start": end - window, "end": end,
                "bucket": max(window / points, timedelta(seconds=1))}
        detail = AssetDetail(health=health, window=(args["start"], end))
        for row in cur.execute(_TELEMETRY, args):
            detail.sensors.setdefault(row["sensor"], (row["unit"] or "", []))[1].append(
                (row["t"], row["value"]))
        for row in cur.execute(_SCORES, args):
            detail.scores.setdefault(row["detector"], []).append((row["t"], row["score"]))
        detail.events = cur.execute(_EVENTS, args).fetchall()
        detail.risks = cur.execute(_RISKS, args).fetchall()
        details.append(detail)
    demand = cur.execute(_DEMAND, (demand_rows,)).fetchall()
    return ReportData(generated_at=generated_at, fleet=fleet, riskiest=details, demand=demand,
                      day_sheets=load_day_sheets(conn, generated_at))
