"""The error family of the dashboards and report stage."""

from assetwatch.errors import AssetwatchError

__all__ = ["DashboardError"]


class DashboardError(AssetwatchError):
    """Building, pushing or rendering dashboards or the report failed; the message says why."""
