"""Check dashboard JSON against the dashboard schema of ``grafana-foundation-sdk`` (Grafana 11.6).

The SDK's models are generated from Grafana's own dashboard schema (and each panel plugin's
options and field-config schema). :func:`validate_dashboard` decodes a document with those
models and encodes it again: a field the schema does not know, or a panel option the plugin
does not define, is dropped on the way and shows up as a difference, reported with its JSON
path. SQL targets decode with :class:`~assetwatch.dashboards.sql_query.SqlQuery`, which rejects
unknown fields. On top of the schema it checks what Grafana assumes at run time: unique panel
ids, panels inside the 24-column grid and not overlapping, unique ``refId`` per panel, every
query on the assetwatch datasource, and uids Grafana accepts.
"""

from __future__ import annotations

import copy
import enum
import json
import re
import types
import typing
from typing import Any

from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from assetwatch.dashboards.errors import DashboardError
from assetwatch.dashboards.sql_query import DATASOURCE_TYPE, DATASOURCE_UID, SqlQuery, register

__all__ = ["validate_dashboard"]

_UID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
_registered = False


def validate_dashboard(document: dict[str, Any]) -> None:
    """Raise :class:`DashboardError` naming the first problem; return None when valid."""
    global _registered
    if not _registered:
        register_default_plugins()
        register()
        _registered = True
    if not isinstance(document.get("uid"), str) or not _UID.match(document["uid"]):
        raise DashboardError(f"dashboard uid {document.get('uid')!r} is not a valid Grafana uid")
    if not isinstance(document.get("schemaVersion"), int):
        raise DashboardError("dashboard has no schemaVersion")
    expected = copy.deepcopy(document)
    annotation_targets = []
    for annotation in expected.get("annotations", {}).get("list", []):
        target = annotation.pop("target", None)
        if target is not None:
            try:
                annotation_targets.append(SqlQuery.from_json(target).to_json() == target)
            except (ValueError, KeyError) as e:
                raise DashboardError(f"an annotation's SQL target is invalid: {e}") from None
    if not all(annotation_targets):
        raise DashboardError("an annotation's SQL target does not round-trip")
    try:
        typed = Dashboard.from_json(expected)
    except (ValueError, KeyError, TypeError) as e:
        raise DashboardError(f"cannot decode the dashboard: {e}") from None
    wrong_type = _type_error(typed, "$")
    if wrong_type:
        raise DashboardError(f"wrong type in the dashboard: {wrong_type}")
    actual = json.loads(json.dumps(typed, cls=JSONEncoder))
    difference = _first_difference(expected, actual, "$")
    if difference:
        raise DashboardError(f"not in the dashboard schema: {difference}")
    _check_layout(document)


def _type_error(value: Any, path: str) -> str | None:
    """The first attribute of a decoded SDK model whose value does not match its type."""
    hints = typing.get_type_hints(type(value).__init__)
    for name, hint in hints.items():
        if name != "return" and hasattr(value, name):
            found = _check(getattr(value, name), hint, f"{path}.{name}")
            if found:
                return found
    return None


def _check(value: Any, hint: Any, path: str) -> str | None:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if type(value).__module__.startswith("grafana_foundation_sdk.models") \
            and not isinstance(value, enum.Enum) and (hint is Any or hint is object):
        return _type_error(value, path)
    if hint is Any or hint is object:
        return None
    if origin in (typing.Union, types.UnionType):
        problems = [_check(value, arg, path) for arg in args if arg is not type(None)]
        if value is None and type(None) in args:
            return None
        return None if any(p is None for p in problems) else problems[0]
    if hint is type(None):
        return None if value is None else f"{path} should be null"
    if origin is typing.Literal:
        return None if value in args else f"{path} is {value!r}, not one of {args}"
    if origin is list:
        if not isinstance(value, list):
            return f"{path} should be a list"
        for i, item in enumerate(value):
            found = _check(item, args[0], f"{path}[{i}]") if args else None
            if found:
                return found
        return None
    if origin is dict:
        return None if isinstance(value, dict) else f"{path} should be an object"
    if not isinstance(hint, type):
        return None
    if issubclass(hint, enum.Enum):
        ok = isinstance(value, hint) or value in {member.value for member in hint}
        return None if ok else f"{path} is {value!r}, not a {hint.__name__}"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"{path} is {value!r}, not a number"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"{path} is {value!r}, not an integer"
    if not isinstance(value, hint):
        return f"{path} is {type(value).__name__}, not {hint.__name__}"
    if hint.__module__.startswith("grafana_foundation_sdk.models"):
        return _type_error(value, path)
    return None


def _first_difference(expected: Any, actual: Any, path: str) -> str | None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            if key not in actual:
                return f"{path}.{key} is unknown to the schema"
            if key not in expected:
                continue  # a default the model adds is fine
            found = _first_difference(expected[key], actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path} has {len(expected)} items, the schema kept {len(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found = _first_difference(e, a, f"{path}[{i}]")
            if found:
                return found
        return None
    if expected != actual or type(expected) is not type(actual):
        return f"{path} is {expected!r}, the schema reads {actual!r}"
    return None


def _check_layout(document: dict[str, Any]) -> None:
    seen_ids: set[int] = set()
    cells: dict[tuple[int, int], int] = {}
    for panel in document.get("panels", []):
        panel_id, grid = panel.get("id"), panel.get("gridPos", {})
        if panel.get("type") != "row" and cogruntime.panelcfg_config(panel.get("type", "")) is None:
            raise DashboardError(f"panel {panel_id} has unknown type {panel.get('type')!r}")
        if panel_id in seen_ids:
            raise DashboardError(f"panel id {panel_id} is used twice")
        seen_ids.add(panel_id)
        x, y, w, h = grid.get("x", 0), grid.get("y", 0), grid.get("w", 0), grid.get("h", 0)
        if w <= 0 or h <= 0 or x < 0 or x + w > 24:
            raise DashboardError(f"panel {panel_id} is outside the 24-column grid")
        for cx in range(x, x + w):
            for cy in range(y, y + h):
                if (cx, cy) in cells:
                    raise DashboardError(f"panel {panel_id} overlaps panel {cells[(cx, cy)]}")
                cells[(cx, cy)] = panel_id
        ref_ids = [t.get("refId") for t in panel.get("targets", [])]
        if not ref_ids or len(set(ref_ids)) != len(ref_ids):
            raise DashboardError(f"panel {panel_id} needs targets with unique refIds")
        for target in panel["targets"]:
            source = target.get("datasource") or panel.get("datasource") or {}
            if source.get("type") != DATASOURCE_TYPE or source.get("uid") != DATASOURCE_UID:
                raise DashboardError(f"panel {panel_id} reads another datasource: {source}")
