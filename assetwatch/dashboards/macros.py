"""Expand a panel's SQL the way Grafana does before it reaches PostgreSQL.

Grafana expands in two steps. The browser first replaces template variables (``$asset``,
``${asset}``, ``[[asset]]``) and the built-in ``$__interval`` / ``$__interval_ms``; a
single-valued variable is inserted as it is, a multi-value or "All" variable as a comma
separated list of quoted literals. The PostgreSQL datasource then expands its macros on the
server, with ``timescaledb`` enabled on the datasource:

=================================  ====================================================
``$__time(col)``                   ``col AS "time"``
``$__timeEpoch(col)``              ``extract(epoch from col) as "time"``
``$__timeFilter(col)``             ``col BETWEEN '<from RFC3339>' AND '<to RFC3339>'``
``$__timeFrom()``/``$__timeTo()``  ``'<RFC3339>'``
``$__timeGroup(col, 5m)``          ``time_bucket('300.000s',col)``
``$__timeGroupAlias(col, 5m)``     ``time_bucket('300.000s',col) AS "time"``
=================================  ====================================================

:func:`render_sql` does both, so the SQL a test or the static report runs is the SQL Grafana
would run. :func:`auto_interval` is Grafana's ``$__interval``: the time range divided by the
panel's data points, rounded to a "nice" interval.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from assetwatch.dashboards.errors import DashboardError

__all__ = ["auto_interval", "format_interval", "parse_interval", "render_sql"]

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^)]*)\)")
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                 "y": 31536000}

# Grafana's rangeutil.roundInterval: (upper bound of the raw interval, interval chosen), ms.
_ROUND_MS = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000),
    (45000, 30000), (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000),
    (1050000, 900000), (1500000, 1200000), (2700000, 1800000), (5400000, 3600000),
    (9000000, 7200000), (16200000, 10800000), (32400000, 21600000), (86400000, 43200000),
    (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
)


def parse_interval(text: str) -> timedelta:
    """``'5m'`` -> 5 minutes (units ms, s, m, h, d, w, y as Grafana writes them)."""
    match = _INTERVAL.match(text.strip("'\""))
    if not match:
        raise DashboardError(f"cannot parse interval {text!r}")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


def format_interval(interval: timedelta) -> str:
    """5 minutes -> ``'5m'``: the largest unit that divides the interval evenly."""
    ms = round(interval.total_seconds() * 1000)
    for unit, seconds in (("y", 31536000), ("w", 604800), ("d", 86400), ("h", 3600),
                          ("m", 60), ("s", 1)):
        if ms >= seconds * 1000 and ms % (seconds * 1000) == 0:
            return f"{ms // (seconds * 1000)}{unit}"
    return f"{ms}ms"


def auto_interval(time_from: datetime, time_to: datetime, max_data_points: int = 1000,
                  min_interval: timedelta | None = None) -> timedelta:
    """Grafana's ``$__interval`` for this range and panel width (``max_data_points``)."""
    raw_ms = max((time_to - time_from).total_seconds() * 1000 / max(max_data_points, 1), 1)
    chosen = 31536000000
    for bound, interval in _ROUND_MS:
        if raw_ms < bound:
            chosen = interval
            break
    result = timedelta(milliseconds=chosen)
    return max(result, min_interval) if min_interval else result


def render_sql(sql: str, time_from: datetime, time_to: datetime,
               variables: Mapping[str, str | Sequence[str]] | None = None,
               *, interval: timedelta | None = None, multi: Sequence[str] = (),
               timescaledb: bool = True) -> str:
    """The SQL Grafana sends to PostgreSQL for ``sql`` over [time_from, time_to].

    ``variables`` maps a template variable to its value (a list for a multi-value variable);
    names in ``multi`` are quoted as Grafana quotes multi-value and "All" variables. An unknown
    variable or macro raises :class:`DashboardError` (Grafana would send it unexpanded and the
    query would fail).

    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> print(render_sql("$__timeFilter(time) AND asset_tag = '$asset'",
    ...                  t0, t0 + timedelta(hours=1), {"asset": "P-1"}))
    time BETWEEN '2026-01-01T00:00:00Z' AND '2026-01-01T01:00:00Z' AND asset_tag = 'P-1'
    >>> print(render_sql("$__timeGroupAlias(time, $__interval)", t0, t0 + timedelta(hours=1)))
    time_bucket('5.000s',time) AS "time"
    """
    step = interval or auto_interval(time_from, time_to)
    values: dict[str, str | Sequence[str]] = {
        "__interval": format_interval(step),
        "__interval_ms": str(round(step.total_seconds() * 1000)),
        "__from": str(round(time_from.timestamp() * 1000)),
        "__to": str(round(time_to.timestamp() * 1000)),
        **(variables or {}),
    }
    quoted = set(multi)

    def substitute(match: re.Match[str]) -> str:
        name = match[1] or match[3] or match[4]
        if name not in values:
            if match[4] and name.startswith("__"):
                return match[0]  # a macro such as $__timeFilter: expanded below
            raise DashboardError(f"template variable ${name} has no value")
        value = values[name]
        items = [value] if isinstance(value, str) else list(value)
        if name in quoted or not isinstance(value, str):
            return ",".join("'" + item.replace("'", "''") + "'" for item in items)
        return items[0]

    expanded = _VARIABLE.sub(substitute, sql)
    return _MACRO.sub(lambda m: _macro(m[1], m[2], time_from, time_to, timescaledb), expanded)


def _macro(name: str, params: str, time_from: datetime, time_to: datetime,
           timescaledb: bool) -> str:
    args = [a.strip() for a in params.replace("\n", "").split(",")] if params.strip() else []
    if name in ("__time", "__timeEpoch", "__timeFilter", "__timeGroup", "__timeGroupAlias") \
            and not args:
        raise DashboardError(f"macro ${name} needs a time column")
    if name == "__time":
        return f'{args[0]} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {args[0]}) as "time"'
    if name == "__timeFilter":
        return f"{args[0]} BETWEEN '{_rfc3339(time_from)}' AND '{_rfc3339(time_to)}'"
    if name == "__timeFrom":
        return f"'{_rfc3339(time_from)}'"
    if name == "__timeTo":
        return f"'{_rfc3339(time_to)}'"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise DashboardError(f"macro ${name} needs a time column and an interval")
        seconds = parse_interval(args[1]).total_seconds()
        if seconds <= 0:
            raise DashboardError(f"macro ${name} needs a positive interval")
        group = (f"time_bucket('{seconds:.3f}s',{args[0]})" if timescaledb
                 else f"floor(extract(epoch from {args[0]})/{seconds:g})*{seconds:g}")
        return group + (' AS "time"' if name == "__timeGroupAlias" else "")
    raise DashboardError(f"unknown macro ${name}")


def _rfc3339(moment: datetime) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped, ``Z`` suffix."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += ("." + f"{utc.microsecond:06d}").rstrip("0")
    return text + "Z"
