"""The error family of the static report."""

from assetwatch.errors import AssetwatchError

__all__ = ["ReportError"]


class ReportError(AssetwatchError):
    """Writing the report failed; the message says why."""
