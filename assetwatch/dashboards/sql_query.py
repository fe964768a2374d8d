"""A typed query model for Grafana's PostgreSQL datasource, pluggable into the foundation SDK.

``grafana-foundation-sdk`` ships typed query models for Prometheus, Loki and others, but none for
the SQL datasources; its panels accept any :class:`~grafana_foundation_sdk.cog.variants.Dataquery`.
:class:`SqlQuery` is that model for ``grafana-postgresql-datasource`` (the JSON Grafana's query
editor writes in code mode), :class:`SqlQueryBuilder` its builder, and :func:`register` makes
``Dashboard.from_json`` decode such targets back into :class:`SqlQuery`.

Examples
--------
>>> q = SqlQueryBuilder().ref_id("A").raw_sql("SELECT 1 AS x").build()
>>> sorted(q.to_json())
['datasource', 'editorMode', 'format', 'rawQuery', 'rawSql', 'refId']
"""

from __future__ import annotations

import typing

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard

__all__ = [
    "DATASOURCE",
    "DATASOURCE_TYPE",
    "DATASOURCE_UID",
    "SqlFormat",
    "SqlQuery",
    "SqlQueryBuilder",
    "register",
]

DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "assetwatch-timescaledb"
#: The datasource every assetwatch panel reads: the read-only role on the v_* views.
DATASOURCE = dashboard.DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)

SqlFormat = typing.Literal["table", "time_series"]


class SqlQuery(cogvariants.Dataquery):
    """One raw SQL query of a panel, variable or annotation (Grafana's code-mode SQL target)."""

    ref_id: str
    raw_sql: str
    format_val: SqlFormat
    datasource: dashboard.DataSourceRef | None
    hide: bool | None

    def __init__(self, ref_id: str = "A", raw_sql: str = "", format_val: SqlFormat = "table",
                 datasource: dashboard.DataSourceRef | None = None,
                 hide: bool | None = None) -> None:
        self.ref_id = ref_id
        self.raw_sql = raw_sql
        self.format_val = format_val
        self.datasource = datasource
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "rawSql": self.raw_sql,
            "rawQuery": True,
            "editorMode": "code",
            "format": self.format_val,
            "datasource": (self.datasource or DATASOURCE).to_json(),
        }
        if self.hide is not None:
            payload["hide"] = self.hide
        return payload

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        unknown = set(data) - {"refId", "rawSql", "rawQuery", "editorMode", "format",
                               "datasource", "hide"}
        if unknown:
            raise ValueError(f"unknown SQL query fields: {sorted(unknown)}")
        if data.get("rawQuery", True) is not True or data.get("editorMode", "code") != "code":
            raise ValueError("SQL queries must be raw code-mode queries")
        if data.get("format", "table") not in ("table", "time_series"):
            raise ValueError(f"unknown SQL query format {data.get('format')!r}")
        datasource = data.get("datasource")
        return cls(
            ref_id=data.get("refId", "A"),
            raw_sql=data["rawSql"],
            format_val=data.get("format", "table"),
            datasource=dashboard.DataSourceRef.from_json(datasource) if datasource else None,
            hide=data.get("hide"),
        )


class SqlQueryBuilder(cogbuilder.Builder[SqlQuery]):
    """Builds a :class:`SqlQuery` (defaults: refId ``A``, table format, assetwatch datasource)."""

    def __init__(self) -> None:
        self._internal = SqlQuery(datasource=DATASOURCE)

    def build(self) -> SqlQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def raw_sql(self, raw_sql: str) -> typing.Self:
        self._internal.raw_sql = raw_sql
        return self

    def format(self, format_val: SqlFormat) -> typing.Self:
        self._internal.format_val = format_val
        return self

    def datasource(self, datasource: dashboard.DataSourceRef) -> typing.Self:
        self._internal.datasource = datasource
        return self


def register() -> None:
    """Decode ``grafana-postgresql-datasource`` targets as :class:`SqlQuery` (idempotent)."""
    cogruntime.register_dataquery_variant(cogruntime.DataqueryConfig(
        identifier=DATASOURCE_TYPE, from_json_hook=SqlQuery.from_json))
