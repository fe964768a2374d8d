"""Small inline-SVG charts for the static report: time series with shaded spans, stacked bars.

Plain SVG text, no plotting library: the report stays one self-contained HTML file that any
browser renders, text in the charts stays searchable, and the server needs no matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

__all__ = ["PALETTE", "Series", "Span", "stacked_bars", "time_chart"]

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f")
_TICK_STEPS = tuple(timedelta(hours=h) for h in (1, 2, 3, 6, 12, 24, 48, 96, 168, 336, 720))


@dataclass(frozen=True)
class Series:
    """One line: a name for the legend and (time, value) points in time order."""

    name: str
    points: Sequence[tuple[datetime, float]]
    color: str = PALETTE[0]


@dataclass(frozen=True)
class Span:
    """A shaded time interval (an anomaly event); ``end`` None means still open."""

    start: datetime
    end: datetime | None
    label: str = ""


def time_chart(series: Sequence[Series], *, title: str, unit: str = "",
               spans: Sequence[Span] = (), y_range: tuple[float, float] | None = None,
               thresholds: Sequence[tuple[float, str]] = (), width: int = 620,
               height: int = 170) -> str:
    """An SVG line chart over time; spans are shaded red, thresholds drawn dashed."""
    left, right, top, bottom = 52, 12, 24, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    times = [t for s in series for t, _ in s.points]
    values = [v for s in series for _, v in s.points if v is not None and math.isfinite(v)]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="{left}" y="15" class="chart-title">{escape(title)}'
             f'{escape(f" ({unit})" if unit else "")}</text>']
    if not times or not values:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                     'class="muted">no data</text></svg>')
        return "".join(parts)
    t0, t1 = min(times), max(times)
    if t1 <= t0:
        t1 = t0 + timedelta(minutes=1)
    lo, hi = y_range if y_range else _padded(min(values), max(values))

    def x(t: datetime) -> float:
        return left + (t - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (min(max(v, lo), hi) - lo) / (hi - lo) * plot_h

    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
                 'class="plot-area"/>')
    for span in spans:
        start, end = max(span.start, t0), min(span.end or t1, t1)
        if end > start:
            parts.append(f'<rect x="{x(start):.1f}" y="{top}" width="{x(end) - x(start):.1f}" '
                         f'height="{plot_h}" class="span"><title>{escape(span.label)}</title>'
                         '</rect>')
    for value in _nice_ticks(lo, hi):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" class="grid"/>'
                     f'<text x="{left - 4}" y="{y(value) + 3:.1f}" text-anchor="end" '
                     f'class="tick">{_fmt(value)}</text>')
    for tick in _time_ticks(t0, t1):
        label = tick.strftime("%b %d" if (t1 - t0) > timedelta(days=2) else "%d %H:%M")
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 8}" text-anchor="middle" '
                     f'class="tick">{label}</text>')
    for value, color in thresholds:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="{color}" class="threshold"/>')
    for s in series:
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s.points
                          if v is not None and math.isfinite(v))
        parts.append(f'<polyline points="{points}" stroke="{s.color}" class="line">'
                     f'<title>{escape(s.name)}</title></polyline>')
    if len(series) > 1:
        lx = left + 8
        for s in series:
            parts.append(f'<rect x="{lx}" y="{top + 4}" width="10" height="3" fill="{s.color}"/>'
                         f'<text x="{lx + 14}" y="{top + 9}" class="legend">{escape(s.name)}'
                         '</text>')
            lx += 24 + 6 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)


def stacked_bars(categories: Sequence[str], stacks: Sequence[tuple[str, Sequence[float], str]],
                 *, title: str, width: int = 620, bar_height: int = 22) -> str:
    """Horizontal stacked bars: one bar per category, one coloured segment per stack."""
    left, right, top = 110, 12, 40
    height = top + bar_height * len(categories) + 10
    totals = [sum(values[i] for _, values, _ in stacks) for i in range(len(categories))]
    scale = (width - left - right) / max(max(totals, default=0), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}">',
             f'<text x="{left}" y="15" class="chart-title">{escape(title)}</text>']
    lx = left
    for name, _, color in stacks:
        parts.append(f'<rect x="{lx}" y="22" width="10" height="10" fill="{color}"/>'
                     f'<text x="{lx + 14}" y="31" class="legend">{escape(name)}</text>')
        lx += 30 + 7 * len(name)
    for i, category in enumerate(categories):
        y0 = top + i * bar_height
        parts.append(f'<text x="{left - 6}" y="{y0 + bar_height * 0.65:.1f}" '
                     f'text-anchor="end" class="tick">{escape(category)}</text>')
        x0 = float(left)
        for name, values, color in stacks:
            w = values[i] * scale
            if w > 0:
                parts.append(f'<rect x="{x0:.1f}" y="{y0 + 3}" width="{w:.1f}" '
                             f'height="{bar_height - 6}" fill="{color}"><title>{escape(name)}: '
                             f'{_fmt(values[i])}</title></rect>')
                if w > 14:
                    parts.append(f'<text x="{x0 + w / 2:.1f}" y="{y0 + bar_height * 0.65:.1f}" '
                                 f'text-anchor="middle" class="bar-label">{_fmt(values[i])}'
                                 '</text>')
            x0 += w
    parts.append("</svg>")
    return "".join(parts)


def _padded(lo: float, hi: float) -> tuple[float, float]:
    if hi - lo < 1e-9:
        pad = abs(hi) * 0.05 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.08
    return lo - pad, hi + pad


def _nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(count + 2) if first + i * step <= hi + 1e-9]


def _time_ticks(t0: datetime, t1: datetime, count: int = 6) -> list[datetime]:
    step = next((s for s in _TICK_STEPS if (t1 - t0) / s <= count), _TICK_STEPS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=t0.tzinfo)
    first = epoch + math.ceil((t0 - epoch) / step) * step
    ticks = []
    while first <= t1:
        ticks.append(first)
        first += step
    return ticks


def _fmt(value: float) -> str:
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
