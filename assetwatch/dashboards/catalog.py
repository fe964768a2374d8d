"""Every assetwatch dashboard, in the order Grafana lists them."""

from __future__ import annotations

from assetwatch.dashboards import asset, field, fleet, parts, pipeline, risk, tickets
from assetwatch.dashboards.spec import DashboardSpec

__all__ = ["FOLDER_TITLE", "FOLDER_UID", "dashboards"]

FOLDER_UID = "assetwatch"
FOLDER_TITLE = "assetwatch"


def dashboards() -> list[DashboardSpec]:
    """The dashboards: fleet, asset, risk, parts, tickets, field service, pipeline (stable
    uids)."""
    return [module.dashboard() for module in (fleet, asset, risk, parts, tickets, field,
                                              pipeline)]
