"""Anomaly detection service: tailing telemetry, ownership, checkpoints, events, offline scoring.

Submodules import their heavy dependencies (psycopg) only where they need them; importing this
package is cheap.
"""
