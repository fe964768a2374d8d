"""The error family of failure prediction."""

from __future__ import annotations

from assetwatch.errors import AssetwatchError

__all__ = ["PredictionError"]


class PredictionError(AssetwatchError):
    """Failure prediction cannot go on (no data, no model, a bad artifact, a bad data folder)."""
