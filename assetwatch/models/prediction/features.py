"""Windowed features per (asset, component, snapshot time), computed in TimescaleDB.

A *snapshot* is the moment a prediction is made: every feature uses only rows strictly before
it, and the label (see :mod:`.validation`) only rows at or after it. The database does what it
does best: ``time_bucket`` aggregates of the long-format telemetry, then per snapshot the
means, spreads and trends (``regr_slope``) of the buckets in each window, counts of anomaly events
and controller errors, and the time since each component was last replaced from the installed
base (``installed_component.valid_from``) and ``part_replaced`` events. pandas only pivots the
result into one row per (asset, component type, snapshot) and adds fleet-relative ratios.

Buckets are aligned so that the newest one ends exactly at ``as_of`` (``time_bucket`` with
``origin``); snapshots are taken every ``snapshot_every`` going back from ``as_of``.

Columns of the frame :func:`build_feature_frame` returns:

- keys: ``asset_id``, ``snapshot_at``, ``component_type``, ``model_id``;
- per telemetry sensor ``S``: ``S__mean_short``, ``S__sd_short`` (mean within-bucket standard
  deviation), ``S__mean_long``, ``S__sd_long`` (spread of the bucket means), ``S__slope_long``
  (trend per day), ``S__delta`` (short minus long mean), ``S__vs_fleet`` (short mean over the
  median of assets of the same model at the same snapshot);
- ``anomaly_events``, ``controller_errors``, ``maintenance_events`` (maintenance and part
  replacements, in ``event_window``),
  ``errors__CODE`` (controller errors per code), ``asset_age_days``, ``component_age_days``,
  ``past_failures`` (of this component type on this asset);
- raw labels, not features: ``days_to_failure``, the time from the snapshot to the next
  failure of that component type before ``as_of`` (an ``asset_event`` of kind 'failure' or a
  ``failure_label`` with ``failed``, i.e. a ticket closed as 'confirmed_failure'; NaN if none),
  and ``days_known_ok``, the time to the newest ``failure_label`` without ``failed`` (a ticket
  closed as 'no_fault_found': the component was known to work until then).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from assetwatch.models.prediction.buckets import (
    bucket_params,
    bucket_sql,
    reads_rollup,
    source_sql,
)
from assetwatch.models.prediction.regimes import RegimeNormaliser

__all__ = ["KEY_COLUMNS", "LABEL_COLUMNS", "FeatureSpec", "build_feature_frame",
           "component_rows", "event_features", "feature_columns", "feature_sensors",
           "latest_telemetry_time", "restrict_to_spec", "telemetry_features"]

KEY_COLUMNS = ("asset_id", "snapshot_at", "component_type", "model_id")
LABEL_COLUMNS = ("days_to_failure", "days_known_ok")


@dataclass(frozen=True)
class FeatureSpec:
    """Window sizes of the features.

    ``bucket`` is the ``time_bucket`` width; ``short_window`` and ``long_window`` are the rolling
    windows over buckets (each a whole number of buckets); ``event_window`` counts events;
    ``snapshot_every`` is the spacing of training snapshots. With ``baseline_window`` each
    sensor also gets its baseline, the mean of the buckets from ``baseline_window`` to
    ``long_window`` before the snapshot, and the short and long means' deviations from it
    (``S__dev_short``, ``S__dev_long``): a drift of one asset away from its own normal.
    ``mean_windows`` and ``slope_windows`` add rolling means (``S__mean_5d``) and trends
    (``S__slope_20d``) over more windows. ``regimes`` normalises sensors per operating regime
    before any statistic (:mod:`.regimes`); ``fleet_ratios`` adds ``S__vs_fleet``.
    """

    bucket: timedelta = timedelta(hours=1)
    short_window: timedelta = timedelta(hours=24)
    long_window: timedelta = timedelta(days=7)
    event_window: timedelta = timedelta(days=7)
    snapshot_every: timedelta = timedelta(days=1)
    baseline_window: timedelta | None = None
    mean_windows: tuple[timedelta, ...] = ()
    slope_windows: tuple[timedelta, ...] = ()
    regimes: RegimeNormaliser | None = None
    fleet_ratios: bool = True

    def as_params(self) -> dict[str, Any]:
        """The spec as JSON-friendly seconds, for the model registry."""
        params: dict[str, Any] = {
            name: None if getattr(self, name) is None else getattr(self, name).total_seconds()
            for name in ("bucket", "short_window", "long_window", "event_window",
                         "snapshot_every", "baseline_window")}
        params["mean_windows"] = [w.total_seconds() for w in self.mean_windows]
        params["slope_windows"] = [w.total_seconds() for w in self.slope_windows]
        params["regimes"] = self.regimes.as_params() if self.regimes else None
        params["fleet_ratios"] = self.fleet_ratios
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FeatureSpec:
        values: dict[str, Any] = {}
        for key, value in params.items():
            if key in ("mean_windows", "slope_windows"):
                values[key] = tuple(timedelta(seconds=v) for v in value)
            elif key == "regimes":
                values[key] = RegimeNormaliser.from_params(value)
            elif key == "fleet_ratios":
                values[key] = bool(value)
            else:
                values[key] = None if value is None else timedelta(seconds=value)
        return cls(**values)

    @property
    def history(self) -> timedelta:
        """How far before a snapshot its features look."""
        return max(self.long_window, self.baseline_window or self.long_window,
                   *self.mean_windows, *self.slope_windows)

    def _statistics(self) -> list[tuple[str, str, str, str | None]]:
        """``(name, aggregate, since, until)``: the aggregate over the buckets from ``since``
        (a window parameter) before the snapshot up to the newest bucket, or up to ``until``
        (a window parameter) plus one bucket before it."""
        slope = "regr_slope({b}mean, extract(epoch FROM {b}bucket) / 86400.0)"
        stats: list[tuple[str, str, str, str | None]] = [
            ("mean_short", "avg({b}mean)", "w_short", None),
            ("sd_short", "avg({b}sd)", "w_short", None),
            ("mean_long", "avg({b}mean)", "w_long", None),
            ("sd_long", "stddev_samp({b}mean)", "w_long", None),
            ("slope_long", slope, "w_long", None)]
        if self.baseline_window:
            stats.append(("mean_base", "avg({b}mean)", "w_base", "w_long"))
        stats += [(f"mean_{_span(w)}", "avg({b}mean)", f"w_mean{i}", None)
                  for i, w in enumerate(self.mean_windows)]
        stats += [(f"slope_{_span(w)}", slope, f"w_slope{i}", None)
                  for i, w in enumerate(self.slope_windows)]
        return stats

    def statistics(self) -> list[tuple[str, str]]:
        """``(name, SQL aggregate)`` of every per-sensor statistic over the buckets; in the
        text ``{t}`` stands for the snapshot time and ``{b}`` for the buckets' table prefix,
        windows are named parameters (:meth:`window_params`)."""
        out = []
        for name, aggregate, since, until in self._statistics():
            condition = "{b}bucket >= {t} - %(" + since + ")s::interval"
            if until:
                condition += (" AND {b}bucket <= {t} - %(bucket)s::interval - %(" + until
                              + ")s::interval")
            out.append((name, f"{aggregate} FILTER (WHERE {condition})"))
        return out

    def frame_statistics(self) -> list[tuple[str, str]]:
        """The same statistics as window functions over each (asset, sensor)'s buckets in
        time order, at the row of the snapshot's newest bucket (for snapshots every bucket)."""
        out = []
        for name, aggregate, since, until in self._statistics():
            end = "CURRENT ROW" if until is None else f"%({until})s::interval PRECEDING"
            frame = (f"RANGE BETWEEN %({since})s::interval - %(bucket)s::interval PRECEDING"
                     f" AND {end}")
            out.append((name, aggregate.format(b="") + " OVER (PARTITION BY asset_id, sensor"
                        f" ORDER BY bucket {frame})"))
        return out

    def block_statistics(self) -> list[tuple[str, str]] | None:
        """The same statistics from per-block sums (blocks of ``snapshot_every`` ending at
        each snapshot, see ``_BLOCKS_SQL``), as window functions over each (asset, sensor)'s
        blocks in time order; None unless every window is a whole number of blocks and a
        block a whole number of buckets (then a window is a union of whole blocks)."""
        every = self.snapshot_every
        if every <= self.bucket or every % self.bucket or not all(
                w and w % every == timedelta(0) for w in self.window_params().values()):
            return None
        n, s1 = "sum(n) OVER {w}", "sum(s1) OVER {w}"
        kinds = {
            "avg({b}mean)": f"{s1} / nullif({n}, 0)",
            "avg({b}sd)": "sum(s_sd) OVER {w} / nullif(sum(n_sd) OVER {w}, 0)",
            "stddev_samp({b}mean)": (f"CASE WHEN {n} > 1 THEN sqrt(greatest(sum(s2) OVER {{w}}"
                                     f" - ({s1}) ^ 2 / {n}, 0) / ({n} - 1)) END"),
        }
        slope = (f"CASE WHEN {n} > 1 THEN ({n} * sum(sxy) OVER {{w}} - sum(sx) OVER {{w}} * {s1})"
                 f" / nullif({n} * sum(sxx) OVER {{w}} - (sum(sx) OVER {{w}}) ^ 2, 0) END")
        out = []
        for name, aggregate, since, until in self._statistics():
            template = kinds.get(aggregate, slope if aggregate.startswith("regr_slope") else None)
            if template is None:
                return None
            end = "CURRENT ROW" if until is None else f"%({until})s::interval PRECEDING"
            window = (f"(PARTITION BY asset_id, sensor ORDER BY snapshot_at RANGE BETWEEN"
                      f" %({since})s::interval - %(every)s::interval PRECEDING AND {end})")
            out.append((name, template.format(w=window)))
        return out

    def window_params(self) -> dict[str, timedelta]:
        windows = {"w_short": self.short_window, "w_long": self.long_window,
                   "w_base": self.baseline_window or self.long_window, "w_span": self.history}
        windows.update({f"w_mean{i}": w for i, w in enumerate(self.mean_windows)})
        windows.update({f"w_slope{i}": w for i, w in enumerate(self.slope_windows)})
        return windows


def restrict_to_spec(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """``frame`` without the window statistics (``S__mean_<span>``, ``S__slope_<span>``) of
    windows that ``spec`` does not have: a frame computed with more windows, cut to the one
    ``spec`` computes (each window's statistic is computed on its own, so the values are the
    same)."""
    kept = {f"mean_{_span(w)}" for w in spec.mean_windows} | {
        f"slope_{_span(w)}" for w in spec.slope_windows}

    def windowed(stat: str) -> bool:
        kind, _, span = stat.partition("_")
        return kind in ("mean", "slope") and span not in ("short", "long", "base")

    drop = [c for c in frame.columns if "__" in c and not c.startswith("errors__")
            and windowed(c.split("__", 1)[1]) and c.split("__", 1)[1] not in kept]
    return frame.drop(columns=drop)


def _span(window: timedelta) -> str:
    """``5d``, ``12h`` or ``90m``: a window in a feature's name."""
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# Many snapshots (training): the buckets (:mod:`.buckets`: from the hourly rollup where the
# buckets are whole hours, normalised per operating regime where configured) go into an
# indexed temporary table once, then each snapshot aggregates its own range of buckets -- the
# same FILTER aggregates as the single snapshot below with ``as_of`` replaced by the snapshot
# time. (Window frames give the same values but recompute every frame for every bucket: 4
# times slower on 180 days of 30-minute readings.)
_SNAPSHOTS_SQL = """
SELECT sn.asset_id, sn.snapshot_at, sn.sensor, w.*
FROM (
    SELECT asset_id, sensor, bucket + %(bucket)s::interval AS snapshot_at
    FROM _feature_bucket
    WHERE bucket + %(bucket)s::interval >= %(first_snapshot)s
      AND mod(extract(epoch FROM %(as_of)s::timestamptz - bucket - %(bucket)s::interval)::bigint,
              %(every_s)s) = 0
) sn
CROSS JOIN LATERAL (
    SELECT {statistics}
    FROM _feature_bucket b
    WHERE b.asset_id = sn.asset_id AND b.sensor = sn.sensor
      AND b.bucket >= sn.snapshot_at - %(w_span)s::interval AND b.bucket < sn.snapshot_at
) w
"""

# A snapshot after every bucket: the same statistics as window frames over each (asset,
# sensor)'s buckets, one sort instead of one lookup per snapshot.
_FRAMES_SQL = """WITH bucketed AS ({buckets})
SELECT asset_id, snapshot_at, sensor, {names} FROM (
    SELECT asset_id, sensor, bucket + %(bucket)s::interval AS snapshot_at, {statistics}
    FROM bucketed
) w
WHERE snapshot_at >= %(first_snapshot)s
"""

# Snapshots every few buckets (training: daily snapshots of hourly buckets), with every window
# a whole number of snapshot spacings: each (asset, sensor)'s buckets are summed per *block*,
# the spacing ending at a snapshot (count, sums of means, squares, spreads and of the time
# terms of a least-squares slope), and a window's statistic comes from the sums of its whole
# blocks, as window functions over the blocks: one pass over the buckets instead of one
# lookup of every window's buckets per snapshot (the same values, up to rounding; 10-20x
# less time on 25 assets x 180 daily snapshots). A snapshot row needs data in its newest
# bucket, like the rows above.
_BLOCKS_SQL = """WITH bucketed AS ({buckets}),
blocked AS (
    SELECT asset_id, sensor, bucket, mean, sd,
           extract(epoch FROM bucket - %(as_of)s::timestamptz) / 86400.0 AS x,
           %(as_of)s::timestamptz - (ceil(extract(epoch FROM %(as_of)s::timestamptz - bucket)
               / %(every_s)s) - 1)::float8 * %(every)s::interval AS snapshot_at
    FROM bucketed
), part AS (
    SELECT asset_id, sensor, snapshot_at, count(mean) AS n, sum(mean) AS s1,
           sum(mean * mean) AS s2, count(sd) AS n_sd, sum(sd) AS s_sd, sum(x) AS sx,
           sum(x * x) AS sxx, sum(x * mean) AS sxy,
           bool_or(bucket = snapshot_at - %(bucket)s::interval) AS newest
    FROM blocked WHERE mean IS NOT NULL
    GROUP BY 1, 2, 3
)
SELECT asset_id, snapshot_at, sensor, {names} FROM (
    SELECT asset_id, sensor, snapshot_at, newest, {statistics} FROM part
) w
WHERE newest AND snapshot_at >= %(first_snapshot)s
"""

# The same statistics at the single snapshot ``as_of`` (scoring), without the temporary table:
# a snapshot row needs data in its newest bucket (as_of - bucket), like the rows above.
_SNAPSHOT_SQL = """WITH bucketed AS ({buckets})
SELECT asset_id, %(as_of)s::timestamptz AS snapshot_at, sensor, {statistics}
FROM bucketed
GROUP BY asset_id, sensor
HAVING max(bucket) = %(as_of)s::timestamptz - %(bucket)s::interval
"""

_EVENT_SQL = """
WITH snap AS (
    SELECT * FROM unnest(%(assets)s::integer[], %(snapshots)s::timestamptz[])
        AS s(asset_id, snapshot_at)
)
SELECT s.asset_id, s.snapshot_at, a.model_id,
       extract(epoch FROM s.snapshot_at - a.commissioned_on::timestamptz) / 86400.0
           AS asset_age_days,
       (SELECT count(*) FROM anomaly_event e
         WHERE e.asset_id = s.asset_id AND e.started_at < s.snapshot_at
           AND e.started_at >= s.snapshot_at - %(window)s::interval) AS anomaly_events,
       (SELECT count(*) FROM asset_event ev
         WHERE ev.asset_id = s.asset_id AND ev.kind = 'controller_error'
           AND ev.time < s.snapshot_at AND ev.time >= s.snapshot_at - %(window)s::interval)
           AS controller_errors,
       (SELECT count(*) FROM asset_event ev
         WHERE ev.asset_id = s.asset_id AND ev.kind IN ('maintenance', 'part_replaced')
           AND ev.time < s.snapshot_at AND ev.time >= s.snapshot_at - %(window)s::interval)
           AS maintenance_events
FROM snap s
JOIN asset a ON a.asset_id = s.asset_id
"""

_ERROR_CODE_SQL = """
WITH snap AS (
    SELECT * FROM unnest(%(assets)s::integer[], %(snapshots)s::timestamptz[])
        AS s(asset_id, snapshot_at)
)
SELECT s.asset_id, s.snapshot_at, ev.code, count(*) AS n
FROM snap s
JOIN asset_event ev ON ev.asset_id = s.asset_id AND ev.kind = 'controller_error'
    AND ev.time < s.snapshot_at AND ev.time >= s.snapshot_at - %(window)s::interval
WHERE ev.code IS NOT NULL
GROUP BY 1, 2, 3
"""

_COMPONENT_SQL = """
WITH snap AS (
    SELECT * FROM unnest(%(assets)s::integer[], %(snapshots)s::timestamptz[])
        AS s(asset_id, snapshot_at)
), ids AS (
    SELECT DISTINCT asset_id FROM snap
), ct AS (
    SELECT ic.asset_id, ic.component_type FROM installed_component ic JOIN ids USING (asset_id)
    UNION
    SELECT a.asset_id, b.component_type
    FROM asset a JOIN ids USING (asset_id) JOIN bom_item b ON b.model_id = a.model_id
    UNION
    SELECT ev.asset_id, ev.component_type FROM asset_event ev JOIN ids USING (asset_id)
    WHERE ev.kind IN ('failure', 'part_replaced') AND ev.component_type IS NOT NULL
)
SELECT s.asset_id, s.snapshot_at, ct.component_type,
       extract(epoch FROM s.snapshot_at - greatest(
           (SELECT max(ic.valid_from) FROM installed_component ic
             WHERE ic.asset_id = s.asset_id AND ic.component_type = ct.component_type
               AND ic.valid_from < s.snapshot_at),
           (SELECT max(ev.time) FROM asset_event ev
             WHERE ev.asset_id = s.asset_id AND ev.component_type = ct.component_type
               AND ev.kind = 'part_replaced' AND ev.time < s.snapshot_at),
           a.commissioned_on::timestamptz)) / 86400.0 AS component_age_days,
       (SELECT count(*) FROM asset_event ev
         WHERE ev.asset_id = s.asset_id AND ev.component_type = ct.component_type
           AND ev.kind = 'failure' AND ev.time < s.snapshot_at) AS past_failures,
       extract(epoch FROM least(
           (SELECT min(ev.time) FROM asset_event ev
             WHERE ev.asset_id = s.asset_id AND ev.component_type = ct.component_type
               AND ev.kind = 'failure' AND ev.time >= s.snapshot_at AND ev.time < %(as_of)s),
           (SELECT min(l.time) FROM failure_label l
             WHERE l.asset_id = s.asset_id AND l.component_type = ct.component_type
               AND l.failed AND l.time >= s.snapshot_at AND l.time < %(as_of)s)
       ) - s.snapshot_at) / 86400.0 AS days_to_failure,
       extract(epoch FROM (
           SELECT max(l.time) FROM failure_label l
            WHERE l.asset_id = s.asset_id AND l.component_type = ct.component_type
              AND NOT l.failed AND l.time >= s.snapshot_at AND l.time < %(as_of)s
       ) - s.snapshot_at) / 86400.0 AS days_known_ok
FROM snap s
JOIN ct ON ct.asset_id = s.asset_id
JOIN asset a ON a.asset_id = s.asset_id
WHERE %(component_types)s::text[] IS NULL OR ct.component_type = ANY(%(component_types)s::text[])
"""


def latest_telemetry_time(conn: psycopg.Connection) -> datetime | None:
    """The newest telemetry timestamp (never later than now), or None without telemetry.

    Reads only the newest chunks of the hypertable (chunk ranges from the TimescaleDB
    catalogue), so it stays fast on a large table.
    """
    chunks = conn.execute(
        "SELECT range_start, range_end FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'telemetry' AND range_start <= now()"
        " ORDER BY range_start DESC LIMIT 50"
    ).fetchall()
    for start, end in chunks:
        row = conn.execute(
            "SELECT max(time) FROM telemetry WHERE time >= %s AND time < %s AND time <= now()",
            (start, end),
        ).fetchone()
        if row and row[0] is not None:
            return row[0]
    row = conn.execute("SELECT max(time) FROM telemetry WHERE time <= now()").fetchone()
    return row[0] if row else None


def telemetry_features(conn: psycopg.Connection, spec: FeatureSpec, *, as_of: datetime,
                       first_snapshot: datetime, assets: Sequence[int] | None = None,
                       sensors: Sequence[str] | None = None,
                       rollup: bool | None = None) -> pd.DataFrame:
    """Rolling telemetry statistics per (asset, snapshot), one column per ``sensor__stat``
    (of every sensor, or of ``sensors`` only); from the hourly rollup whenever the buckets
    are whole hours of it (``rollup=False`` reads the raw telemetry all the same)."""
    t_from = first_snapshot - spec.history
    can = reads_rollup(spec.bucket, as_of) and reads_rollup(spec.bucket, t_from)
    rollup = can if rollup is None else rollup and can
    buckets = bucket_sql(rollup=rollup, bucket=spec.bucket, normaliser=spec.regimes)
    params = {
        **bucket_params(bucket=spec.bucket, as_of=as_of, t_from=t_from, assets=assets,
                        sensors=sensors, normaliser=spec.regimes),
        **spec.window_params(),
        "first_snapshot": first_snapshot,
        "every_s": max(1, int(spec.snapshot_every.total_seconds())),
    }
    statistics = spec.statistics()
    names = [name for name, _ in statistics]
    with conn.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '256MB'")   # the bucket sort stays in memory
        if first_snapshot >= as_of:
            columns = ", ".join(expr.format(t="%(as_of)s::timestamptz", b="")
                                for _, expr in statistics)
            cur.execute(_SNAPSHOT_SQL.format(buckets=buckets, statistics=columns).encode(),
                        params)
            rows = cur.fetchall()
        elif spec.snapshot_every == spec.bucket:
            columns = ", ".join(f"{expr} AS {name}" for name, expr in spec.frame_statistics())
            cur.execute(_FRAMES_SQL.format(buckets=buckets, statistics=columns,
                                           names=", ".join(names)).encode(), params)
            rows = cur.fetchall()
        elif spec.block_statistics() is not None:
            columns = ", ".join(f"{expr} AS {name}" for name, expr in spec.block_statistics()
                                or ())
            cur.execute(_BLOCKS_SQL.format(buckets=buckets, statistics=columns,
                                           names=", ".join(names)).encode(),
                        {**params, "every": spec.snapshot_every})
            rows = cur.fetchall()
        else:
            columns = ", ".join(expr.format(t="sn.snapshot_at", b="b.")
                                for _, expr in statistics)
            cur.execute("DROP TABLE IF EXISTS _feature_bucket")
            cur.execute(("CREATE TEMPORARY TABLE _feature_bucket AS\n" + buckets).encode(),
                        params)
            cur.execute("CREATE INDEX ON _feature_bucket (asset_id, sensor, bucket)")
            cur.execute("ANALYZE _feature_bucket")
            cur.execute(_SNAPSHOTS_SQL.format(statistics=columns).encode(), params)
            rows = cur.fetchall()
            cur.execute("DROP TABLE _feature_bucket")
    long = pd.DataFrame(rows, columns=["asset_id", "snapshot_at", "sensor", *names]
                        ).sort_values(["asset_id", "snapshot_at", "sensor"])
    if long.empty:
        return pd.DataFrame(columns=["asset_id", "snapshot_at"])
    wide = long.pivot_table(index=["asset_id", "snapshot_at"], columns="sensor",
                            values=names, aggfunc="first", dropna=False)
    # only the (asset, snapshot) pairs that have data, not every asset at every snapshot
    observed = pd.MultiIndex.from_frame(long[["asset_id", "snapshot_at"]].drop_duplicates())
    wide = wide.loc[wide.index.isin(observed)]
    wide.columns = [f"{sensor}__{stat}" for stat, sensor in wide.columns]
    wide = wide.astype(float)
    for sensor in long["sensor"].unique():
        wide[f"{sensor}__delta"] = wide[f"{sensor}__mean_short"] - wide[f"{sensor}__mean_long"]
        if spec.baseline_window:
            base = wide.pop(f"{sensor}__mean_base")
            wide[f"{sensor}__dev_short"] = wide[f"{sensor}__mean_short"] - base
            wide[f"{sensor}__dev_long"] = wide[f"{sensor}__mean_long"] - base
    return wide.reset_index()


_REGIME_CONFIG_SQL = "SELECT model_id, signals, regimes FROM asset_model_regime ORDER BY 1"

_RAW_BUCKETS_SQL = """
SELECT model_id, asset_id, bucket, sensor, mean FROM source
WHERE model_id = ANY(%(models)s::text[])
"""


def fit_regimes(conn: psycopg.Connection, spec: FeatureSpec, *, as_of: datetime,
                first_snapshot: datetime) -> FeatureSpec:
    """``spec`` with the operating regimes of every asset model that has them configured
    (``asset_model_regime``), fitted on the raw buckets of ``[first_snapshot - history,
    as_of)``; ``spec`` unchanged when no model has regimes."""
    config = {model_id: (tuple(signals), int(k))
              for model_id, signals, k in conn.execute(_REGIME_CONFIG_SQL)}
    if not config:
        return replace(spec, regimes=None)
    t_from = first_snapshot - spec.history
    rollup = reads_rollup(spec.bucket, as_of) and reads_rollup(spec.bucket, t_from)
    source = source_sql(rollup=rollup, bucket=spec.bucket)
    params = {**bucket_params(bucket=spec.bucket, as_of=as_of, t_from=t_from, assets=None,
                              sensors=None, normaliser=None), "models": sorted(config)}
    rows = pd.DataFrame(conn.execute((source + _RAW_BUCKETS_SQL).encode(), params).fetchall(),
                        columns=["model_id", "asset_id", "bucket", "sensor", "mean"])
    return replace(spec, regimes=RegimeNormaliser.fit(rows, config))


def event_features(conn: psycopg.Connection, spec: FeatureSpec,
                   snapshots: pd.DataFrame) -> pd.DataFrame:
    """Asset-level features per snapshot: model, age, anomaly/controller-error counts."""
    params = {"assets": snapshots["asset_id"].astype(int).tolist(),
              "snapshots": list(snapshots["snapshot_at"]), "window": spec.event_window}
    with conn.cursor() as cur:
        cur.execute(_EVENT_SQL, params)
        frame = pd.DataFrame(cur.fetchall(), columns=[
            "asset_id", "snapshot_at", "model_id", "asset_age_days", "anomaly_events",
            "controller_errors", "maintenance_events"])
        cur.execute(_ERROR_CODE_SQL, params)
        codes = pd.DataFrame(cur.fetchall(), columns=["asset_id", "snapshot_at", "code", "n"])
    for column in ("asset_age_days", "anomaly_events", "controller_errors",
                   "maintenance_events"):
        frame[column] = frame[column].astype(float)
    if not codes.empty:
        wide = codes.pivot_table(index=["asset_id", "snapshot_at"], columns="code", values="n",
                                 aggfunc="sum", fill_value=0)
        wide.columns = [f"errors__{code}" for code in wide.columns]
        frame = frame.merge(wide.reset_index(), on=["asset_id", "snapshot_at"], how="left")
        error_columns = list(wide.columns)
        frame[error_columns] = frame[error_columns].fillna(0).astype(float)
    return frame


def component_rows(conn: psycopg.Connection, snapshots: pd.DataFrame, *, as_of: datetime,
                   component_types: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per (asset, snapshot, component type the asset has): age, past failures and
    the raw labels (days to the next observed failure, days known to work, before ``as_of``)."""
    params = {"assets": snapshots["asset_id"].astype(int).tolist(),
              "snapshots": list(snapshots["snapshot_at"]), "as_of": as_of,
              "component_types": list(component_types) if component_types else None}
    with conn.cursor() as cur:
        # a lookup per row; the planner's cost of the many rows would compile it (JIT) for
        # longer than it runs (0.6 s of 1.0 s on 72,000 rows)
        cur.execute("SET LOCAL jit = off")
        cur.execute(_COMPONENT_SQL, params)
        frame = pd.DataFrame(cur.fetchall(), columns=[
            "asset_id", "snapshot_at", "component_type", "component_age_days",
            "past_failures", "days_to_failure", "days_known_ok"])
    for column in ("component_age_days", "past_failures", "days_to_failure", "days_known_ok"):
        frame[column] = frame[column].astype(float)
    return frame


def build_feature_frame(conn: psycopg.Connection, spec: FeatureSpec, *, as_of: datetime,
                        first_snapshot: datetime | None = None,
                        assets: Sequence[int] | None = None,
                        component_types: Sequence[str] | None = None,
                        sensors: Sequence[str] | None = None,
                        all_assets: bool = False, rollup: bool | None = None) -> pd.DataFrame:
    """The feature frame (see the module docstring) for snapshots from ``first_snapshot``
    (default: ``as_of`` alone) to ``as_of``.

    Snapshots come from the telemetry (an asset has one where its newest bucket has data);
    with ``all_assets`` every registered asset (or every one of ``assets``) gets a snapshot at
    ``as_of`` even without recent telemetry (its telemetry features are then NaN). ``sensors``
    limits the telemetry features to those sensors (scoring reads only what its models use).
    """
    first = first_snapshot or as_of
    telemetry = telemetry_features(conn, spec, as_of=as_of, first_snapshot=first, assets=assets,
                                   sensors=sensors, rollup=rollup)
    snapshots = telemetry[["asset_id", "snapshot_at"]]
    if all_assets:
        ids = list(assets) if assets is not None else [
            r[0] for r in conn.execute("SELECT asset_id FROM asset ORDER BY asset_id")]
        extra = pd.DataFrame({"asset_id": ids, "snapshot_at": [as_of] * len(ids)})
        snapshots = pd.concat([snapshots, extra]).drop_duplicates()
    if snapshots.empty:
        return pd.DataFrame(columns=[*KEY_COLUMNS, *LABEL_COLUMNS])
    snapshots = snapshots.astype({"asset_id": int})
    assets_frame = event_features(conn, spec, snapshots)
    components = component_rows(conn, snapshots, as_of=as_of, component_types=component_types)
    frame = components.merge(assets_frame, on=["asset_id", "snapshot_at"], how="left")
    if not telemetry.empty:
        telemetry = telemetry.astype({"asset_id": int})
        frame = frame.merge(telemetry, on=["asset_id", "snapshot_at"], how="left")
    if spec.fleet_ratios:
        _add_fleet_ratios(frame)
    return frame.sort_values(["snapshot_at", "asset_id", "component_type"],
                             ignore_index=True)


def _add_fleet_ratios(frame: pd.DataFrame) -> None:
    """``S__vs_fleet``: the short mean over the median of same-model assets at that time
    (each asset counted once, however many of its component types the frame holds)."""
    means = [c for c in frame.columns if c.endswith("__mean_short")]
    if not means or frame.empty:
        return
    keys = ["model_id", "snapshot_at"]
    per_asset = frame.drop_duplicates(["asset_id", "snapshot_at"])
    medians = frame[keys].merge(per_asset.groupby(keys)[means].median(), left_on=keys,
                                right_index=True, how="left").set_axis(frame.index)
    for column in means:
        ratio = frame[column] / medians[column].where(medians[column].abs() > 1e-9)
        frame[column.replace("__mean_short", "__vs_fleet")] = ratio


def feature_sensors(features: Sequence[str]) -> list[str]:
    """The telemetry sensors a feature list reads (``S`` of every ``S__stat``)."""
    return sorted({f.split("__", 1)[0] for f in features
                   if "__" in f and not f.startswith("errors__")})


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model inputs of a feature frame: everything except keys and labels."""
    skip = {*KEY_COLUMNS, *LABEL_COLUMNS}
    return sorted(c for c in frame.columns
                  if c not in skip and np.issubdtype(frame[c].dtype, np.number))
