"""Grafana's template-variable and macro expansion for the PostgreSQL datasource."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assetwatch.dashboards.errors import DashboardError
from assetwatch.dashboards.macros import auto_interval, format_interval, render_sql

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_time_macros_expand_like_grafana() -> None:
    t1 = T0 + timedelta(days=1, microseconds=500000)
    sql = render_sql("SELECT $__time(t), $__timeEpoch(t) WHERE $__timeFilter(t)"
                     " AND t > $__timeFrom() AND t < $__timeTo()", T0, t1)
    assert sql == ("SELECT t AS \"time\", extract(epoch from t) as \"time\" WHERE t BETWEEN "
                   "'2026-03-01T12:00:00Z' AND '2026-03-02T12:00:00.5Z' AND t > "
                   "'2026-03-01T12:00:00Z' AND t < '2026-03-02T12:00:00.5Z'")


def test_time_group_uses_time_bucket_on_timescaledb_and_epoch_elsewhere() -> None:
    assert render_sql("$__timeGroup(t, '5m')", T0, T0) == "time_bucket('300.000s',t)"
    assert render_sql("$__timeGroupAlias(t, 1h)", T0, T0) == \
        "time_bucket('3600.000s',t) AS \"time\""
    assert render_sql("$__timeGroup(t, 5m)", T0, T0, timescaledb=False) == \
        "floor(extract(epoch from t)/300)*300"


def test_interval_is_the_range_over_data_points_rounded() -> None:
    assert format_interval(auto_interval(T0, T0 + timedelta(days=7))) == "10m"
    assert format_interval(auto_interval(T0, T0 + timedelta(hours=24))) == "1m"
    assert format_interval(auto_interval(T0, T0 + timedelta(hours=1))) == "5s"
    assert render_sql("$__interval_ms", T0, T0 + timedelta(hours=24)) == "60000"


def test_variables_single_raw_multi_quoted() -> None:
    values = {"asset": "PUMP-01", "site": ["S1", "O'Neil"]}
    sql = render_sql("'$asset' '${asset}' '[[asset]]' IN ($site)", T0, T0, values,
                     multi=["site"])
    assert sql == "'PUMP-01' 'PUMP-01' 'PUMP-01' IN ('S1','O''Neil')"


def test_unknown_variable_or_macro_is_an_error() -> None:
    with pytest.raises(DashboardError):
        render_sql("WHERE a = '$nothing'", T0, T0)
    with pytest.raises(DashboardError):
        render_sql("WHERE $__nothing(a)", T0, T0)
