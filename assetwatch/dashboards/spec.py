"""Plain descriptions of dashboards: what each panel shows and which columns its SQL returns.

The dashboard modules (one per dashboard) describe panels as :class:`PanelSpec`; the builder
(:mod:`assetwatch.dashboards.board`) turns them into Grafana JSON with the foundation SDK. The
``columns`` a panel declares are the contract its SQL keeps: the panel-SQL test runs every query
against TimescaleDB and checks it returns exactly these columns.

Every query reads ``v_*`` views only and may use Grafana's macros (``$__timeFilter(col)``,
``$__timeFrom()``, ``$__timeTo()``, ``$__timeGroupAlias(col, $__interval)``,
``$__interval_ms``) and the dashboard's template variables (``'$asset'``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AnnotationSpec", "DashboardSpec", "PanelKind", "PanelSpec", "VariableSpec"]

PanelKind = Literal["timeseries", "table", "stat", "barchart", "bargauge"]


@dataclass(frozen=True)
class PanelSpec:
    """One panel: its visualisation, SQL, the columns the SQL returns and its size (24 wide)."""

    title: str
    kind: PanelKind
    sql: str
    columns: tuple[str, ...]
    description: str = ""
    width: int = 12
    height: int = 8
    unit: str | None = None
    decimals: int | None = None
    max_value: float | None = None
    #: value -> colour steps (the first step's value is ignored: it is the base colour)
    thresholds: tuple[tuple[float | None, str], ...] = ()
    #: a column holding asset tags: its cells link to the asset-detail dashboard
    asset_link: str | None = None
    #: (column, unit): a unit for one column of a table
    column_units: tuple[tuple[str, str], ...] = ()
    #: (column, text value, colour): table cells of that column coloured by their value
    value_colors: tuple[tuple[str, str, str], ...] = ()

    @property
    def format(self) -> Literal["table", "time_series"]:
        """Time series panels get Grafana's time-series frames (a ``time`` column first)."""
        return "time_series" if self.kind == "timeseries" else "table"


@dataclass(frozen=True)
class VariableSpec:
    """A query variable whose values come from SQL (one column ``__value``/first column)."""

    name: str
    label: str
    sql: str
    multi: bool = False
    include_all: bool = False


@dataclass(frozen=True)
class AnnotationSpec:
    """Annotations from SQL: columns ``time``, ``timeend`` (spans), ``text`` and ``tags``."""

    name: str
    sql: str
    columns: tuple[str, ...] = ("time", "timeend", "text", "tags")
    color: str = "red"


@dataclass(frozen=True)
class DashboardSpec:
    """A dashboard: stable uid, title, panels in reading order, variables and annotations."""

    uid: str
    title: str
    description: str
    panels: tuple[PanelSpec, ...]
    tags: tuple[str, ...] = ("assetwatch",)
    variables: tuple[VariableSpec, ...] = ()
    annotations: tuple[AnnotationSpec, ...] = field(default=())
    time_from: str = "now-7d"
    refresh: str = "1m"
