"""Per (asset, sensor, bucket) mean and within-bucket spread: the input of every telemetry
feature.

Two sources give the same figures:

- the **hourly rollup** (``telemetry_hourly``: count, mean and sum of squares per hour), used
  whenever the bucket is a whole number of hours and the buckets start on whole hours: a
  bucket's mean is the count-weighted mean of its hours and its standard deviation comes from
  the summed squares, exactly the standard deviation of its raw readings (buckets of one hour
  are the rollup's rows as they are: no regrouping);
- the raw ``telemetry`` otherwise (buckets shorter than an hour, or not on whole hours).

With a :class:`~.regimes.RegimeNormaliser` every bucket of an asset whose model has operating
regimes is assigned the regime whose centre is nearest to its operating signals' means, and
each other sensor's mean and spread are expressed in that regime's units
(``(mean - mu) / sd``, ``spread / sd``); the operating signals themselves are not features.
Buckets of such an asset without operating signals are left out (their regime is unknown).

:func:`bucket_sql` returns the ``SELECT`` (columns ``asset_id, sensor, bucket, mean, sd``);
its parameters are named in :func:`bucket_params`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from assetwatch.models.prediction.regimes import RegimeNormaliser

__all__ = ["bucket_params", "bucket_sql", "reads_rollup", "source_sql", "whole_hours"]

_HOUR = timedelta(hours=1)

_RAW = """
SELECT t.asset_id, a.model_id, s.name AS sensor,
       time_bucket(%(bucket)s::interval, t.time, origin => %(as_of)s::timestamptz) AS bucket,
       avg(t.value) AS mean,
       coalesce(stddev_samp(t.value), 0) AS sd
FROM telemetry t
JOIN sensor s ON s.sensor_id = t.sensor_id
JOIN asset a ON a.asset_id = t.asset_id
WHERE t.time >= %(t_from)s AND t.time < %(as_of)s
  AND (%(assets)s::integer[] IS NULL OR t.asset_id = ANY(%(assets)s::integer[]))
  AND (%(read_sensors)s::text[] IS NULL OR s.name = ANY(%(read_sensors)s::text[]))
GROUP BY 1, 2, 3, 4
"""

# the rollup's hours of the range, assets and sensors asked for
_ROLLUP_FROM = """
FROM telemetry_hourly h
JOIN sensor s ON s.sensor_id = h.sensor_id
JOIN asset a ON a.asset_id = h.asset_id
WHERE h.bucket >= %(t_from)s AND h.bucket < %(as_of)s
  AND (%(assets)s::integer[] IS NULL OR h.asset_id = ANY(%(assets)s::integer[]))
  AND (%(read_sensors)s::text[] IS NULL OR s.name = ANY(%(read_sensors)s::text[]))
"""

_ROLLUP = """
SELECT h.asset_id, a.model_id, s.name AS sensor,
       time_bucket(%(bucket)s::interval, h.bucket, origin => %(as_of)s::timestamptz) AS bucket,
       sum(h.avg * h.n) / sum(h.n) AS mean,
       CASE WHEN sum(h.n) > 1
            THEN sqrt(greatest(sum(h.sum_sq) - sum(h.avg * h.n) ^ 2 / sum(h.n), 0)
                      / (sum(h.n) - 1))
            ELSE 0 END AS sd""" + _ROLLUP_FROM + "GROUP BY 1, 2, 3, 4\n"

# one-hour buckets are the rollup's own rows: the same figures as ``_ROLLUP`` without its
# regrouping (a hash aggregate over every row read: a third of a score flow's read)
_ROLLUP_HOURS = """
SELECT h.asset_id, a.model_id, s.name AS sensor, h.bucket, h.avg AS mean,
       CASE WHEN h.n > 1
            THEN sqrt(greatest(h.sum_sq - h.avg * h.avg * h.n, 0) / (h.n - 1))
            ELSE 0 END AS sd""" + _ROLLUP_FROM

_PLAIN = "SELECT asset_id, sensor, bucket, mean, sd FROM source"

# nearest centre per (asset, bucket) over the model's operating signals, then the sensor's
# statistics of that regime; the signals and buckets without a regime drop out
_NORMALISED = """
, centre AS (
    SELECT * FROM unnest(%(rc_model)s::text[], %(rc_regime)s::integer[], %(rc_signal)s::text[],
                         %(rc_centre)s::float8[], %(rc_scale)s::float8[])
        AS c(model_id, regime, signal, centre, scale)
), distance AS (
    SELECT r.asset_id, r.bucket, c.regime, sum(((r.mean - c.centre) / c.scale) ^ 2) AS d
    FROM source r JOIN centre c ON c.model_id = r.model_id AND c.signal = r.sensor
    GROUP BY 1, 2, 3
), regime AS (
    SELECT DISTINCT ON (asset_id, bucket) asset_id, bucket, regime
    FROM distance ORDER BY asset_id, bucket, d, regime
), norm AS (
    SELECT * FROM unnest(%(rn_model)s::text[], %(rn_regime)s::integer[], %(rn_sensor)s::text[],
                         %(rn_mu)s::float8[], %(rn_sd)s::float8[])
        AS n(model_id, regime, sensor, mu, sd)
)
SELECT r.asset_id, r.sensor, r.bucket,
       coalesce((r.mean - n.mu) / n.sd, r.mean) AS mean,
       coalesce(r.sd / n.sd, r.sd) AS sd
FROM source r
LEFT JOIN regime g ON g.asset_id = r.asset_id AND g.bucket = r.bucket
LEFT JOIN norm n ON n.model_id = r.model_id AND n.regime = g.regime AND n.sensor = r.sensor
WHERE n.sd IS NOT NULL OR NOT (r.model_id = ANY(%(rn_models)s::text[]))
"""


def whole_hours(bucket: timedelta) -> bool:
    """Whether buckets of this width are made of whole hours of the rollup."""
    return bucket >= _HOUR and bucket % _HOUR == timedelta(0)


def reads_rollup(bucket: timedelta, origin: datetime) -> bool:
    """Whether buckets of this width starting at ``origin`` are whole hours of the rollup."""
    return whole_hours(bucket) and origin == origin.replace(minute=0, second=0, microsecond=0)


def source_sql(*, rollup: bool, bucket: timedelta) -> str:
    """``WITH source AS (...)``: raw bucket means (columns ``asset_id, model_id, sensor,
    bucket, mean, sd``) of buckets of width ``bucket``, before any regime normalisation."""
    if not rollup:
        return "WITH source AS (" + _RAW + ")\n"
    return "WITH source AS (" + (_ROLLUP_HOURS if bucket == _HOUR else _ROLLUP) + ")\n"


def bucket_sql(*, rollup: bool, bucket: timedelta, normaliser: RegimeNormaliser | None
               ) -> str:
    """The bucket query (see the module docstring); constant text, parameters by name."""
    source = source_sql(rollup=rollup, bucket=bucket)
    if normaliser is None or not normaliser.models:
        return source + _PLAIN
    return source + _NORMALISED


def bucket_params(*, bucket: timedelta, as_of: datetime, t_from: datetime,
                  assets: Sequence[int] | None, sensors: Sequence[str] | None,
                  normaliser: RegimeNormaliser | None) -> dict[str, Any]:
    """Parameters of :func:`bucket_sql`; with ``sensors`` the operating signals are read too."""
    read = None if sensors is None else sorted(
        set(sensors) | set(normaliser.signals() if normaliser else ()))
    params: dict[str, Any] = {"bucket": bucket, "as_of": as_of, "t_from": t_from,
                              "assets": list(assets) if assets is not None else None,
                              "read_sensors": read}
    if normaliser is not None:
        params.update(normaliser.sql_params())
    return params
