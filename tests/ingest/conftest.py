"""Fixtures for ingest tests (the helpers live in ``ingest_support``)."""

from ingest_support import devices, fleet, start_worker

__all__ = ["devices", "fleet", "start_worker"]
