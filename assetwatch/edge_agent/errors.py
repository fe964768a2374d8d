"""The error family of the edge agent (standard library only)."""

from __future__ import annotations

from assetwatch.errors import AssetwatchError

__all__ = [
    "AgentConfigError", "CsvReplayError", "EdgeError", "RemoteConfigError",
]


class EdgeError(AssetwatchError):
    """The edge agent cannot go on: a bad agent configuration, source or spool."""

    exit_code = 4


class AgentConfigError(EdgeError):
    """The agent's configuration file or options are wrong; the message names the key."""

    exit_code = 2


class CsvReplayError(EdgeError):
    """A replayed CSV file is malformed; the message names the file and line."""


class RemoteConfigError(ValueError):
    """A remote configuration on ``.../config`` is rejected; ``str(error)`` is the reason."""
