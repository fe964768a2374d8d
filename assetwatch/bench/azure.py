"""The Microsoft Azure predictive-maintenance sample, through the database: "which component
fails within 48 h", per component, with a time split.

Protocol. A scratch database (``<database>_bench_pdm``, recreated) receives the CSVs through
the normal tables -- machines as assets (model, commissioning date from the age), telemetry by
binary COPY, errors as ``controller_error`` events, maintenance as ``part_replaced`` events plus
installed-base records, failures as ``failure`` events. Features are computed in SQL
(:mod:`assetwatch.models.prediction.features`: 3-hour buckets, 3-hour and 24-hour windows,
deviations from a 10-day baseline, error counts per code over 24 hours, component age) every
3 hours. The newest third of the period validates; with ``retrain_every`` the validation third
is walked forward instead, retraining on everything known before each step (as the weekly
``train`` flow would). Training rows end 48 h before their validation rows, labels censored
there.

Per component a random forest is trained on the label "fails within 24 h" or "fails within
48 h", and its alarm threshold set, both chosen on the training data alone: pooled
predictions on the last three weeks of the training fold, each predicted by a model fitted on
what came before it, pick the pair with the best warning recall at warning precision >= 0.8
(else the best F1), in the middle of the thresholds that reach it
(:func:`choose_label_and_threshold`). Nothing else is chosen by a run: the candidate labels
(24 h and 48 h: the horizon and half of it), the threshold grid and the feature windows are
constants of this module, and no choice counts a failure of the validation period.
Maintenance (``part_replaced`` events) counts in the ``maintenance_events`` feature.

Scored on the validation snapshots, against "fails within 48 h": snapshot precision and
recall, average precision, *warnings* (alarms of a machine less than 48 h apart form one, like
one open ticket; true if the component failed within 48 h after one of its alarms), failures
warned and the mean lead time from the first alarm to the failure.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from assetwatch.core.rollup import refresh_rollup_range
from assetwatch.core.scratch import fresh_database
from assetwatch.models.prediction.evaluation import AlarmMetrics, alarm_metrics
from assetwatch.models.prediction.training import (
    TrainOptions,
    censor,
    fit_failure_model,
    fleet_prior,
)

__all__ = ["ComponentResult", "FoldChoice", "Sample", "choose_label_and_threshold",
           "evaluate_component", "ingest_azure", "read_sample", "run_azure_benchmark",
           "validation_folds"]

HORIZON = timedelta(hours=48)
BASELINE = timedelta(days=10)
#: training labels tried, in days ("fails within 24 h", "fails within 48 h")
LABEL_DAYS = (1, 2)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.1, 0.91, 0.05))
TUNING_WEEKS = 3
_SENSORS = (("volt", "V"), ("rotate", "rpm"), ("pressure", "psi"), ("vibration", "mm/s"))


@dataclass(frozen=True)
class FoldChoice:
    """What the training data chose for one validation fold."""

    starts: datetime
    label_days: int
    threshold: float


@dataclass(frozen=True)
class ComponentResult:
    component_type: str
    folds: list[FoldChoice]
    metrics: AlarmMetrics
    average_precision: float | None


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


#: the columns of each file and how each is read
_SCHEMA: dict[str, dict[str, Any]] = {
    "PdM_machines.csv": {"machineID": int, "model": str, "age": int},
    "PdM_telemetry.csv": {"datetime": _timestamp, "machineID": int,
                          **{name: float for name, _unit in _SENSORS}},
    "PdM_errors.csv": {"datetime": _timestamp, "machineID": int, "errorID": str},
    "PdM_maint.csv": {"datetime": _timestamp, "machineID": int, "comp": str},
    "PdM_failures.csv": {"datetime": _timestamp, "machineID": int, "failure": str},
}
_WHAT = {int: "a whole number", float: "a number", _timestamp: "a date and time"}

#: file name -> its rows, every value read as its column's type
Sample = dict[str, list[dict[str, Any]]]


def read_sample(folder: Path) -> Sample:
    """The sample's five files, read and checked before anything is loaded: raise
    :class:`PredictionError` naming the file, line and column of the first thing that is not
    the sample's format (a missing file or column, an unreadable value)."""
    from assetwatch.models.prediction.errors import PredictionError

    missing = [name for name in _SCHEMA if not (folder / name).is_file()]
    if missing:
        raise PredictionError(f"Azure PdM files not found in {folder}: {', '.join(missing)}")
    sample: Sample = {}
    for name, columns in _SCHEMA.items():
        path = folder / name
        rows = sample[name] = []
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            absent = [c for c in columns if c not in (reader.fieldnames or [])]
            if absent:
                raise PredictionError(f"{path}: no column {', '.join(absent)} in the header")
            for line, row in enumerate(reader, start=2):
                typed = {}
                for column, read in columns.items():
                    value = row[column]
                    if value is None or value == "":
                        raise PredictionError(f"{path} line {line}: {column} is missing")
                    try:
                        typed[column] = read(value)
                    except ValueError:
                        raise PredictionError(f"{path} line {line}: {column} is {value!r}, not "
                                              f"{_WHAT[read]}") from None
                rows.append(typed)
    return sample


def ingest_azure(conn: psycopg.Connection, sample: Sample) -> dict[str, int]:
    """Load the sample (:func:`read_sample`) into the registry, telemetry and event tables;
    return counts."""
    from assetwatch.core.asset_registry import AssetSpec, register_fleet

    start = date(2015, 1, 1)
    machines = sample["PdM_machines.csv"]
    models = sorted({m["model"] for m in machines})
    ids = register_fleet(
        conn, [("AZURE", "Azure PdM sample", "Microsoft sample", 48)],
        [(m, "azure_machine", None) for m in models],
        [AssetSpec(f"M{m['machineID']:03d}", "AZURE", m["model"], _SENSORS,
                   commissioned_on=start.replace(year=start.year - m["age"]))
         for m in machines])
    asset_of = {int(tag[1:]): asset_id for tag, asset_id in ids.items()}
    sensor_of = {(a, n): s for s, a, n in conn.execute(
        "SELECT sensor_id, asset_id, name FROM sensor WHERE asset_id = ANY(%s)",
        (list(asset_of.values()),))}
    counts = {"assets": len(ids), "readings": 0}
    with conn.cursor() as cur, cur.copy(
            "COPY telemetry (time, asset_id, sensor_id, value) FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(["timestamptz", "integer", "integer", "double precision"])
        for row in sample["PdM_telemetry.csv"]:
            asset_id = asset_of.get(row["machineID"])
            if asset_id is None:
                continue
            for name, _unit in _SENSORS:
                cp.write_row((row["datetime"], asset_id, sensor_of[asset_id, name], row[name]))
                counts["readings"] += 1
    times = [row["datetime"] for row in sample["PdM_telemetry.csv"]]
    if times:   # loaded without the ingest ledger: the hourly rollup learns of them here
        refresh_rollup_range(conn, min(times), max(times) + timedelta(hours=1))
    components = sorted({r["comp"] for r in sample["PdM_maint.csv"]}
                        | {r["failure"] for r in sample["PdM_failures.csv"]})
    conn.cursor().executemany("INSERT INTO component_type (component_type) VALUES (%s)"
                              " ON CONFLICT DO NOTHING", [(c,) for c in components])
    events: list[tuple[Any, ...]] = []
    for kind, file, column in (("controller_error", "PdM_errors.csv", "errorID"),
                               ("part_replaced", "PdM_maint.csv", "comp"),
                               ("failure", "PdM_failures.csv", "failure")):
        for row in sample[file]:
            asset_id = asset_of.get(row["machineID"])
            if asset_id is None:
                continue
            value, at = row[column], row["datetime"]
            component, code = (None, value) if kind == "controller_error" else (value, None)
            events.append((f"azure-{kind}-{row['machineID']}-{at:%Y-%m-%d %H:%M:%S}-{value}",
                           asset_id, at, kind, component, code))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO asset_event (event_id, asset_id, time, kind, component_type, code,"
            " source) VALUES (%s, %s, %s, %s, %s, %s, 'import') ON CONFLICT DO NOTHING",
            events)
        # the installed base: each replacement starts a record, the next one ends it
        cur.execute(
            "INSERT INTO installed_component (asset_id, component_type, serial_no, valid_from,"
            " valid_to)"
            " SELECT asset_id, component_type, asset_id || '-' || component_type || '-'"
            "        || row_number() OVER w, time, lead(time) OVER w"
            " FROM asset_event WHERE kind = 'part_replaced' AND asset_id = ANY(%s)"
            " WINDOW w AS (PARTITION BY asset_id, component_type ORDER BY time)",
            (list(asset_of.values()),))
    counts["events"] = len(events)
    return counts


def _options(label_days: int, forest: Mapping[str, Any] | None = None) -> TrainOptions:
    """Random forest (steadier than boosting with a few dozen failures), no RUL regressors;
    ``forest`` replaces the product's forest settings (smaller forests in tests)."""
    options = replace(TrainOptions(), horizons=(label_days,), fit_rul=False,
                      classifier="random_forest", min_positives=3)
    return replace(options, forest=dict(forest)) if forest else options


def _fit_predict(train: pd.DataFrame, until: datetime, rows: pd.DataFrame, component: str,
                 label_days: int, forest: Mapping[str, Any] | None = None) -> np.ndarray:
    """Fit on ``train`` (labels known until ``until``), return P(fails within
    ``label_days``) for ``rows``."""
    options = _options(label_days, forest)
    prior = fleet_prior(component, train, options)
    model = fit_failure_model(train, until, prior, options)
    return model.predict(rows)[f"prob_{label_days}"].to_numpy()


def choose_label_and_threshold(train: pd.DataFrame, component: str, *,
                               weeks: int = TUNING_WEEKS,
                               forest: Mapping[str, Any] | None = None) -> tuple[int, float]:
    """The training label (days) and alarm threshold for 48 h warnings, from ``train`` alone.

    Each of the last ``weeks`` weeks of ``train`` (that have at least 10 days before them) is
    predicted by a model fitted on the rows whose label window ends before that week. On the
    pooled predictions every (label, threshold) pair is scored: warning recall if warning
    precision >= 0.8, else F1 below them. The best score's plateau decides: the label with the
    most thresholds reaching it (ties: the shorter label), the middle one of those thresholds
    (the widest margin on both sides). Without a failure in those weeks: the 48 h label at 0.5.
    """
    times = pd.to_datetime(train["snapshot_at"], utc=True)
    end = times.max() + pd.Timedelta(hours=3)
    week = pd.Timedelta(days=7)
    folds = [(end - week * (k + 1), end - week * k) for k in range(weeks)
             if end - week * (k + 1) - times.min() >= pd.Timedelta(days=10)]
    scores: dict[int, list[tuple[tuple[float, float], float]]] = {}
    for label_days in LABEL_DAYS:
        parts, probabilities = [], []
        for lo, hi in folds:
            fit = censor(train[times + HORIZON <= lo], lo.to_pydatetime())
            part = train[(times >= lo) & (times < hi)]
            parts.append(part)
            probabilities.append(_fit_predict(fit, lo.to_pydatetime(), part, component,
                                              label_days, forest))
        if not parts:
            break
        tune, probability = pd.concat(parts), np.concatenate(probabilities)
        for threshold in THRESHOLDS:
            m = alarm_metrics(tune, probability, horizon_days=HORIZON / timedelta(days=1),
                              threshold=threshold)
            precision, recall = m.warning_precision, m.warning_recall
            if precision is None or recall is None or precision + recall == 0:
                continue
            good = precision >= 0.8
            score = recall if good else 2 * precision * recall / (precision + recall)
            scores.setdefault(label_days, []).append(((float(good), score), threshold))
    if not scores:
        return LABEL_DAYS[-1], 0.5
    best = max(key for pairs in scores.values() for key, _ in pairs)
    plateaus = {label: [t for key, t in pairs if key == best] for label, pairs in scores.items()}
    label = max(plateaus, key=lambda d: (len(plateaus[d]), -d))
    plateau = plateaus[label]
    return label, float(plateau[len(plateau) // 2])


def validation_folds(times: pd.Series, *, valid_fraction: float,
                     retrain_every: timedelta | None) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """``[start, end)`` of each validation fold: the newest ``valid_fraction`` of the snapshot
    times, in one piece or in steps of ``retrain_every``."""
    from assetwatch.models.prediction.validation import time_split

    cutoff = time_split(times, gap=HORIZON, valid_fraction=valid_fraction).cutoff
    end = pd.to_datetime(times, utc=True).max() + pd.Timedelta(seconds=1)
    if retrain_every is None:
        return [(cutoff, end)]
    starts = pd.date_range(cutoff, end, freq=pd.Timedelta(retrain_every), inclusive="left")
    return [(s, min(s + pd.Timedelta(retrain_every), end)) for s in starts]


def evaluate_component(rows: pd.DataFrame, component: str, as_of: datetime,
                       folds: list[tuple[pd.Timestamp, pd.Timestamp]],
                       forest: Mapping[str, Any] | None = None) -> ComponentResult:
    """Train and predict fold by fold, score the pooled validation snapshots."""
    from assetwatch.models.prediction.validation import classification_metrics

    times = pd.to_datetime(rows["snapshot_at"], utc=True)
    parts, alarms, probabilities, choices = [], [], [], []
    for lo, hi in folds:
        train = censor(rows[times + HORIZON <= lo], lo.to_pydatetime())
        label_days, threshold = choose_label_and_threshold(train, component, forest=forest)
        valid = rows[(times >= lo) & (times < hi)]
        probability = _fit_predict(train, lo.to_pydatetime(), valid, component, label_days,
                                   forest)
        parts.append(valid)
        probabilities.append(probability)
        alarms.append(probability >= threshold)
        choices.append(FoldChoice(lo.to_pydatetime(), label_days, threshold))
    valid = pd.concat(parts)
    alarm, probability = np.concatenate(alarms), np.concatenate(probabilities)
    # snapshots whose 48 h are not over by the end of the data have no known outcome
    known = (valid["days_to_failure"].notna()
             | ((as_of - pd.to_datetime(valid["snapshot_at"], utc=True)) >= HORIZON)).to_numpy()
    valid, alarm, probability = valid[known], alarm[known], probability[known]
    horizon_days = HORIZON / timedelta(days=1)
    metrics = alarm_metrics(valid, alarm.astype(float), horizon_days=horizon_days,
                            threshold=0.5)
    labels = (valid["days_to_failure"].fillna(1e9) < horizon_days).to_numpy()
    ap = classification_metrics(labels, probability)["average_precision"]
    return ComponentResult(component, choices, metrics, ap)


def run_azure_benchmark(settings: Any, folder: Path, *, valid_fraction: float = 1 / 3,
                        retrain_every: timedelta | None = None,
                        forest: Mapping[str, Any] | None = None, database: Any = None
                        ) -> tuple[list[ComponentResult], dict[str, Any]]:
    """Ingest, featurise in SQL, train per component with a time split, evaluate.

    ``forest`` replaces the random forest's settings and ``database`` (settings of an empty,
    migrated database) the scratch database: both for test-sized runs."""
    from assetwatch.models.prediction.errors import PredictionError
    from assetwatch.models.prediction.features import FeatureSpec, build_feature_frame

    started = time.perf_counter()
    sample = read_sample(folder)
    scratch = database or fresh_database(settings, "bench_pdm")
    with psycopg.connect(scratch.db_url) as conn:
        counts = ingest_azure(conn, sample)
        conn.commit()
        ingested = time.perf_counter()
        spec = FeatureSpec(bucket=timedelta(hours=3), short_window=timedelta(hours=3),
                           long_window=timedelta(hours=24), event_window=timedelta(hours=24),
                           snapshot_every=timedelta(hours=3), baseline_window=BASELINE)
        span = conn.execute("SELECT min(time), max(time) FROM telemetry").fetchone()
        if span is None or span[0] is None:
            raise PredictionError(f"no telemetry was loaded from {folder}")
        first, last = span
        as_of = last + timedelta(hours=1)
        # snapshots start once every machine has a full baseline behind it
        frame = build_feature_frame(conn, spec, as_of=as_of, first_snapshot=first + BASELINE)
    featurised = time.perf_counter()
    folds = validation_folds(frame["snapshot_at"], valid_fraction=valid_fraction,
                             retrain_every=retrain_every)
    results = [evaluate_component(frame[frame["component_type"] == c].reset_index(drop=True),
                                  str(c), as_of, folds, forest)
               for c in sorted(frame["component_type"].unique())]
    timing = {**counts, "snapshots": int(frame[["asset_id", "snapshot_at"]]
                                         .drop_duplicates().shape[0]),
              "folds": len(folds), "validation_from": folds[0][0].to_pydatetime(),
              "ingest_s": ingested - started, "features_s": featurised - ingested,
              "train_s": time.perf_counter() - featurised, "database": scratch.db_url}
    return results, timing
