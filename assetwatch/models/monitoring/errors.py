"""Errors of the detection stage."""

from __future__ import annotations

from assetwatch.errors import AssetwatchError

__all__ = ["CsvInputError", "DetectionError"]


class DetectionError(AssetwatchError):
    """Base of the expected failures of anomaly detection (bad input, unknown detector)."""


class CsvInputError(DetectionError):
    """A CSV of readings cannot be scored; the message names the file and the line."""
