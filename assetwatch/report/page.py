"""Render :class:`~assetwatch.report.queries.ReportData` as one self-contained HTML page."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from assetwatch.report import write_report
from assetwatch.report.day_sheet import render_day_sheet
from assetwatch.report.queries import AssetDetail, ReportData
from assetwatch.report.svg import PALETTE, Series, Span, stacked_bars, time_chart

__all__ = ["CSS", "render_report", "write_report"]

_HEALTH_COLOURS = {"ok": "#2ca02c", "warning": "#f0a30a", "critical": "#d62728",
                   "no data": "#9e9e9e"}

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px 32px;
       color: #222; background: #fafafa; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 10px;
border-bottom: 2px solid #ddd; padding-bottom: 4px; } h3 { font-size: 16px; margin: 18px 0 6px; }
.muted { color: #777; fill: #777; font-size: 12px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 14px 0; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 10px 16px;
        min-width: 110px; } .card b { display: block; font-size: 26px; }
table { border-collapse: collapse; background: #fff; font-size: 13px; margin: 6px 0 10px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
         font-size: 12px; }
.asset { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 16px;
         margin: 14px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 6px 14px; }
.chart { background: #fff; } .chart-title { font-size: 12px; font-weight: bold; fill: #333; }
.plot-area { fill: #fcfcfc; stroke: #ccc; } .grid { stroke: #e6e6e6; }
.tick { font-size: 10px; fill: #666; } .legend { font-size: 10px; fill: #333; }
.line { fill: none; stroke-width: 1.4; } .span { fill: #d62728; fill-opacity: 0.16; }
.threshold { stroke-dasharray: 4 3; stroke-width: 1; } .bar-label { font-size: 10px; fill: #fff; }
.risk { font-weight: bold; color: #d62728; }
.daysheet { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 16px;
            margin: 14px 0; }
@media print { body { background: #fff; margin: 0; } .daysheet { break-before: page;
               border: none; } }
"""


def render_report(data: ReportData) -> str:
    """The whole page: fleet health, the riskiest assets with plots, the parts-demand table."""
    body = [
        "<h1>assetwatch fleet report</h1>",
        f'<div class="muted">Generated {_when(data.generated_at)} from the v_* views '
        "(the same read model as the Grafana dashboards).</div>",
        _fleet_section(data.fleet),
        "<h2>Riskiest assets</h2>",
        '<p class="muted">Sensor means over each asset\'s last seven days of data; red bands '
        "are anomaly events, dashed lines the warning (0.7) and critical (0.9) scores.</p>",
    ]
    body += [_asset_section(detail) for detail in data.riskiest] or [
        '<p class="muted">No asset has data yet.</p>']
    body.append(_demand_section(data.demand))
    body.append(_day_sheet_section(data))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>assetwatch fleet report</title>"
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")


def _fleet_section(fleet: list[dict[str, Any]]) -> str:
    health = Counter(row["health"] for row in fleet)
    flowing = sum(row["data_state"] == "flowing" for row in fleet)
    cards = [("assets", len(fleet)), ("data flowing", flowing),
             ("stale / no data", len(fleet) - flowing), ("ok", health["ok"]),
             ("warning", health["warning"]), ("critical", health["critical"]),
             ("open tickets", sum(row["open_tickets"] for row in fleet))]
    sites = sorted({row["site_id"] for row in fleet})
    stacks = [(state, [sum(r["site_id"] == s and r["health"] == state for r in fleet)
                       for s in sites], _HEALTH_COLOURS[state])
              for state in ("ok", "warning", "critical", "no data")]
    rows = [[escape(r["site_id"]), f"<b>{escape(r['asset_tag'])}</b>", escape(r["asset_kind"]),
             _badge(r["health"]), _num(r["anomaly_score"], ".2f"), _num(r["open_tickets"]),
             _risk(r["predicted_risk"]),
             escape(f"{r['riskiest_component'] or ''}"
                    + (f" ({r['risk_horizon_days']} d)" if r["risk_horizon_days"] else "")),
             _num(r["min_rul_days"], ".0f"), escape(r["data_state"]),
             _when(r["last_reading_at"])] for r in fleet]
    return ("<h2>Fleet health</h2>"
            + '<div class="cards">' + "".join(f'<div class="card"><b>{v}</b>{escape(k)}</div>'
                                              for k, v in cards) + "</div>"
            + (stacked_bars(sites, stacks, title="Assets by site and health") if sites else "")
            + _table(["site", "asset", "kind", "health", "anomaly score", "open tickets",
                      "failure risk", "riskiest component", "min. remaining life (d)", "data",
                      "last reading"], rows, numeric={4, 5, 6, 8}))


def _asset_section(detail: AssetDetail) -> str:
    health = detail.health
    spans = [Span(e["started_at"], e["ended_at"],
                  f"{e['detector']} {e['kind']}, peak {e['peak_score'] or 0:.2f}")
             for e in detail.events]
    charts = [time_chart([Series(name, points, PALETTE[0])], title=name, unit=unit,
                         spans=spans, width=405, height=150)
              for name, (unit, points) in sorted(detail.sensors.items())]
    charts.insert(0, time_chart(
        [Series(d, pts, PALETTE[(i + 1) % len(PALETTE)])
         for i, (d, pts) in enumerate(sorted(detail.scores.items()))],
        title="anomaly score", spans=spans, y_range=(0, 1),
        thresholds=((0.7, "#f0a30a"), (0.9, "#d62728")), width=405, height=150))
    risks = [[escape(r["component_type"]), _num(r["horizon_days"]),
              _risk(r["failure_probability"]), _num(r["rul_days"], ".0f"),
              f"{_num(r['rul_low_days'], '.0f')} &ndash; {_num(r['rul_high_days'], '.0f')}",
              _num(r["model_version"])] for r in detail.risks]
    events = [[_when(e["started_at"]), _when(e["ended_at"]) if e["ended_at"] else "open",
               escape(e["detector"]), _num(e["peak_score"], ".2f"),
               escape(", ".join(e["sensors"] or []))] for e in detail.events]
    return (f'<div class="asset"><h3>{escape(health["asset_tag"])} '
            f'<span class="muted">{escape(health["asset_kind"])} at '
            f'{escape(health["site_name"])}</span> {_badge(health["health"])}</h3>'
            f'<div class="charts">{"".join(charts)}</div>'
            + (_table(["component", "horizon (d)", "failure probability",
                       "remaining life (d)", "interval (d)", "model version"], risks,
                      numeric={1, 2, 3, 4, 5}) if risks else "")
            + (_table(["anomaly from", "to", "detector", "peak score", "sensors"], events,
                      numeric={3}) if events else "")
            + "</div>")


def _demand_section(demand: list[dict[str, Any]]) -> str:
    if not demand:
        return '<h2>Parts demand</h2><p class="muted">No demand forecast yet.</p>'
    rows = [[f"<b>{escape(d['part_no'])}</b>", escape(d["description"] or ""),
             escape(d["site_id"]), f"{_when(d['first_period'])} &ndash; {_when(d['last_period'])}",
             _num(d["expected_qty"], ".1f"), _num(d["upper_qty"], ".1f"),
             _num(d["planned_qty"], ".1f"), _num(d["on_hand"]), _num(d["reorder_point"], ".1f"),
             _num(d["safety_stock"], ".1f"),
             f"{_num(d['kanban_cards'])} &times; {_num(d['kanban_bin_qty'])}"
             if d["kanban_cards"] is not None else "",
             '<span class="risk">stock-out risk</span>' if d["stockout_risk"] else ""]
            for d in demand]
    quantile = max((d["quantile"] or 0) for d in demand)
    return ("<h2>Parts demand</h2>"
            f'<p class="muted">Predicted demand of the newest run, summed over its periods; '
            f"upper = {quantile:.0%} quantile. Reorder point, safety stock and Kanban "
            "cards &times; bin size from the newest inventory policy.</p>"
            + _table(["part", "description", "site", "periods", "expected", "upper",
                      "planned", "on hand", "reorder point", "safety stock", "Kanban",
                      ""], rows, numeric={4, 5, 6, 7, 8, 9}))


def _day_sheet_section(data: ReportData) -> str:
    if not data.day_sheets:
        return '<h2>Day sheets</h2><p class="muted">No visits planned.</p>'
    return ("<h2>Day sheets</h2>"
            '<p class="muted">Each technician\'s planned visits on the next day with work '
            "(from the newest dispatch plan); printed, each sheet is a page of its own.</p>"
            + "".join(render_day_sheet(sheet) for sheet in data.day_sheets))


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric
                                    else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _badge(health: str) -> str:
    return (f'<span class="badge" style="background:{_HEALTH_COLOURS.get(health, "#777")}">'
            f"{escape(health)}</span>")


def _risk(probability: float | None) -> str:
    if probability is None:
        return ""
    text = f"{probability:.0%}"
    return f'<span class="risk">{text}</span>' if probability >= 0.5 else text


def _num(value: Any, spec: str = "") -> str:
    return "" if value is None else escape(format(value, spec))


def _when(moment: datetime | date | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        return escape(moment.strftime("%Y-%m-%d %H:%M UTC"))
    return escape(moment.isoformat())
