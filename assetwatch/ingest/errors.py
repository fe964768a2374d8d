"""The error family of the ingest service."""

from __future__ import annotations

from assetwatch.errors import AssetwatchError

__all__ = ["IngestError"]


class IngestError(AssetwatchError):
    """Ingest cannot go on: the broker refused us, or a setting is wrong."""

    exit_code = 3
