"""Turn a :class:`~assetwatch.dashboards.spec.DashboardSpec` into Grafana dashboard JSON.

Built with ``grafana-foundation-sdk`` typed builders (targets Grafana 11.6's dashboard schema),
so every field has the name and type the schema gives it; panel ids follow reading order and
the uid is fixed by the spec, so a rebuild produces identical, diff-friendly JSON.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import barchart, bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from assetwatch.dashboards.spec import AnnotationSpec, DashboardSpec, PanelSpec, VariableSpec
from assetwatch.dashboards.sql_query import DATASOURCE, SqlQuery, SqlQueryBuilder

__all__ = ["build_dashboard", "dashboard_json", "to_json_text"]

_GRID_COLUMNS = 24
#: Where a click on an asset tag goes: the asset-detail dashboard, same time range.
ASSET_DETAIL_URL = "/d/aw-asset-detail/asset-detail?var-asset=${__value.raw}&${__url_time_range}"


class _SqlAnnotationTarget(cogbuilder.Builder[Any]):
    """The SQL target of an annotation query (the schema types it loosely: see SqlQuery)."""

    def __init__(self, sql: str) -> None:
        self._query = SqlQuery(ref_id="Anno", raw_sql=sql, datasource=DATASOURCE)

    def build(self) -> Any:
        return self._query


def build_dashboard(spec: DashboardSpec) -> model.Dashboard:
    """The typed dashboard model of ``spec``."""
    builder = (
        dash.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .editable()
        .timezone("browser")
        .time(spec.time_from, "now")
        .refresh(spec.refresh)
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .link(dash.DashboardLink("assetwatch").type(model.DashboardLinkType.DASHBOARDS)
              .tags(["assetwatch"]).as_dropdown(True).keep_time(True).include_vars(False))
    )
    for variable in spec.variables:
        builder = builder.with_variable(_variable(variable))
    for annotation in spec.annotations:
        builder = builder.annotation(_annotation(annotation))
    x = y = row_height = 0
    for panel_id, panel in enumerate(spec.panels, start=1):
        if x + panel.width > _GRID_COLUMNS:
            x, y, row_height = 0, y + row_height, 0
        grid = model.GridPos(h=panel.height, w=panel.width, x=x, y=y)
        builder = builder.with_panel(_panel(panel, panel_id, grid))
        x += panel.width
        row_height = max(row_height, panel.height)
    return builder.build()


def dashboard_json(spec: DashboardSpec) -> dict[str, Any]:
    """The dashboard as plain JSON data (what Grafana stores)."""
    return json.loads(to_json_text(spec))


def to_json_text(spec: DashboardSpec) -> str:
    """The dashboard as sorted-key, indented JSON text ending in a newline."""
    return json.dumps(build_dashboard(spec), cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def _variable(spec: VariableSpec) -> dash.QueryVariable:
    return (
        dash.QueryVariable(spec.name)
        .label(spec.label)
        .datasource(DATASOURCE)
        .query(spec.sql)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(spec.multi)
        .include_all(spec.include_all)
    )


def _annotation(spec: AnnotationSpec) -> dash.AnnotationQuery:
    return (
        dash.AnnotationQuery()
        .name(spec.name)
        .datasource(DATASOURCE)
        .enable(True)
        .icon_color(spec.color)
        .target(_SqlAnnotationTarget(spec.sql))
    )


def _panel(spec: PanelSpec, panel_id: int, grid: model.GridPos) -> cogbuilder.Builder[Any]:
    query = SqlQueryBuilder().ref_id("A").raw_sql(spec.sql).format(spec.format)
    panel: Any
    if spec.kind == "timeseries":
        panel = (timeseries.Panel().line_width(1).fill_opacity(8).show_points(
            common.VisibilityMode.NEVER).span_nulls(False).legend(
            common_builders.VizLegendOptions().show_legend(True).display_mode(
                common.LegendDisplayMode.LIST).placement(common.LegendPlacement.BOTTOM)))
    elif spec.kind == "table":
        panel = table.Panel()
    elif spec.kind == "stat":
        panel = (stat.Panel().graph_mode(common.BigValueGraphMode.NONE)
                 .color_mode(common.BigValueColorMode.BACKGROUND)
                 .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"])
                                 .values(False).fields("/.*/")))
    elif spec.kind == "barchart":
        panel = barchart.Panel().x_tick_label_rotation(-30).show_value(common.VisibilityMode.AUTO)
    else:
        panel = (bargauge.Panel().display_mode(common.BarGaugeDisplayMode.GRADIENT)
                 .orientation(common.VizOrientation.HORIZONTAL)
                 .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"])
                                 .values(True)))
    panel = panel.id(panel_id).title(spec.title).datasource(DATASOURCE).grid_pos(grid)
    panel = panel.with_target(query)
    if spec.description:
        panel = panel.description(spec.description)
    if spec.unit:
        panel = panel.unit(spec.unit)
    if spec.decimals is not None:
        panel = panel.decimals(spec.decimals)
    if spec.max_value is not None:
        panel = panel.min(0).max(spec.max_value)
    if spec.asset_link:
        panel = panel.override_by_name(spec.asset_link, [model.DynamicConfigValue(
            id_val="links", value=[{"title": "Asset detail", "url": ASSET_DETAIL_URL}])])
    for column, unit in spec.column_units:
        panel = panel.override_by_name(column, [model.DynamicConfigValue(id_val="unit",
                                                                         value=unit)])
    for column in dict.fromkeys(c for c, _, _ in spec.value_colors):
        colours = {value: model.ValueMappingResult(color=colour, index=i)
                   for i, (c, value, colour) in enumerate(spec.value_colors) if c == column}
        panel = panel.override_by_name(column, [
            model.DynamicConfigValue(id_val="mappings", value=[model.ValueMap(options=colours)]),
            model.DynamicConfigValue(id_val="custom.cellOptions",
                                     value={"type": "color-background"}),
        ])
    if spec.thresholds:
        steps = [model.Threshold(value=value if i else None, color=color)
                 for i, (value, color) in enumerate(spec.thresholds)]
        panel = panel.thresholds(dash.ThresholdsConfig().mode(
            model.ThresholdsMode.ABSOLUTE).steps(steps))
    return panel
