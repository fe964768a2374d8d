"""The error family of assetwatch.

Every expected failure a user can meet (a server down, a bad file, a bad setting) is an
:class:`AssetwatchError`; the command line prints its message as one line and exits non-zero.
Each stage derives its own base class from it. This module uses the standard library only.
"""

__all__ = ["AssetwatchError", "ConfigError", "ServiceUnavailable"]


class AssetwatchError(Exception):
    """Base of all expected assetwatch failures; ``str(error)`` is the one line a user sees."""

    exit_code = 1


class ConfigError(AssetwatchError):
    """A setting or configuration file is wrong; the message names the setting to change."""

    exit_code = 2


class ServiceUnavailable(AssetwatchError):
    """A server (PostgreSQL, Mosquitto, Prefect) cannot be reached or refused us."""

    exit_code = 3
