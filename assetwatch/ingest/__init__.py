"""Ingest: MQTT consumer, payload validation, batch writer, dead letters."""
