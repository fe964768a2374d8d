"""The error family of operating the fleet."""

from assetwatch.errors import AssetwatchError

__all__ = ["FleetError"]


class FleetError(AssetwatchError):
    """A fleet operation cannot be done; the message names the asset and what is wrong."""

    exit_code = 2
