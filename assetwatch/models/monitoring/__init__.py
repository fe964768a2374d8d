"""Monitoring: running the anomaly detectors over the stream.

Owns the detector worker (:mod:`.worker`: tails the telemetry of the assets it owns, scores
them, checkpoints detector state), score and event storage (:mod:`.store`), alarm events
(:mod:`.events`), offline scoring of stored history and of CSV files (:mod:`.offline`,
:mod:`.csvinput`). The detectors themselves are in :mod:`assetwatch.models.detectors`.

Submodules import their heavy dependencies (psycopg) only where they need them; importing this
package is cheap.
"""
