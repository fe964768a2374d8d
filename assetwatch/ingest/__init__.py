"""Ingest: MQTT to TimescaleDB, exactly once.

Owns the worker (:mod:`.consumer`: shared subscription, commit then acknowledge, commit
receipts), decoding and validation (:mod:`.inbound`, :mod:`.columns`), the batch writer
(:mod:`.writer`, :mod:`.readings`, :mod:`.rows`, :mod:`.sensors`), status and events into
records (:mod:`.records`), dead letters and their replay (:mod:`.replay`), the supervised
worker pool (:mod:`.launch`, :mod:`.pool`) and housekeeping (rollups, retention).
"""
