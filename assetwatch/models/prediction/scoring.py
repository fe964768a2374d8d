"""``score_assets``: the current model of each component type -> ``failure_prediction`` rows.

One row per (asset, component type, horizon) at ``predicted_at = as_of``; the RUL columns
repeat across horizons; every row names the model version that made it. Scoring the same
``as_of`` again replaces those rows (idempotent), so a retried or repeated run is harmless.
Without any registered model (a new installation) the trainer runs first (registering the
Weibull priors where there is no failure history); a component type added since the last
training gets its prior registered, so every component of every asset is scored.

Challengers (see :mod:`~assetwatch.models.prediction.governance`) are scored too, into
``shadow_prediction``, and reviewed against their champions on the outcomes known by ``as_of``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from assetwatch.core.db import connect
from assetwatch.core.settings import Settings
from assetwatch.models.prediction.features import (
    FeatureSpec,
    build_feature_frame,
    feature_sensors,
    latest_telemetry_time,
)
from assetwatch.models.prediction.governance import (
    ShadowPolicy,
    challengers,
    review_challengers,
)
from assetwatch.models.prediction.model_registry import (
    MODEL_NAME,
    ModelVersion,
    current_versions,
    load_model,
)

__all__ = ["predict_frames", "score_assets", "scoring_spec", "write_predictions"]

log = logging.getLogger(__name__)

_PREDICTION_COLUMNS = ("predicted_at", "asset_id", "component_type", "horizon_days",
                       "failure_probability", "rul_days", "rul_low_days", "rul_high_days",
                       "model_version_id")


def score_assets(settings: Settings, *, as_of: datetime | None = None,
                 assets: Sequence[int] | None = None,
                 model_name: str = MODEL_NAME) -> int:
    """Score every asset (or ``assets``) with the current models; return rows written.

    ``as_of`` defaults to the newest telemetry time, else now.
    """
    with connect(settings) as conn:
        as_of = as_of or latest_telemetry_time(conn) or datetime.now(UTC)
        versions = current_versions(conn, model_name)
    from assetwatch.models.prediction.training import register_priors, train_models

    if not versions:
        log.info("no %s model registered yet: training (priors where history is short)",
                 model_name)
        changed = bool(train_models(settings, as_of=as_of))
    else:
        changed = bool(register_priors(settings, as_of=as_of, model_name=model_name))
    with connect(settings) as conn:
        if changed:
            versions = current_versions(conn, model_name)
        shadow = challengers(conn, model_name)
        rows, shadow_rows = predict_frames(conn, [versions, shadow], as_of=as_of,
                                           assets=assets)
        written = write_predictions(conn, rows)
        if shadow:
            write_predictions(conn, shadow_rows, table="shadow_prediction")
        conn.commit()
        review_challengers(conn, model_name=model_name, as_of=as_of,
                           policy=ShadowPolicy.from_settings(settings))
        conn.commit()
    log.info("scored %d prediction rows at %s (%d challenger(s) in shadow)", written,
             as_of.isoformat(), len(shadow))
    return written


def predict_frames(conn: psycopg.Connection, version_sets: Sequence[Sequence[ModelVersion]],
                   *, as_of: datetime, assets: Sequence[int] | None = None
                   ) -> list[pd.DataFrame]:
    """Prediction rows (columns of ``failure_prediction``) at ``as_of`` of each set of
    versions (the champions, the challengers), the features of each feature spec read once
    for every set."""
    by_spec: dict[FeatureSpec, list[tuple[int, ModelVersion]]] = {}
    for index, versions in enumerate(version_sets):
        for version in versions:
            spec = FeatureSpec.from_params(version.params.get("spec")
                                           or FeatureSpec().as_params())
            by_spec.setdefault(spec, []).append((index, version))
    parts: list[list[pd.DataFrame]] = [[] for _ in version_sets]
    for spec, group in by_spec.items():
        sensors = sorted({s for _, v in group for s in feature_sensors(v.features)})
        frame = build_feature_frame(
            conn, scoring_spec(spec), as_of=as_of, assets=assets, all_assets=True,
            sensors=sensors, component_types=sorted(
                {v.component_type for _, v in group if v.component_type}))
        for index, version in group:
            rows = frame[frame["component_type"] == version.component_type]
            if rows.empty:
                continue
            model = load_model(conn, version.model_version_id)
            parts[index].append(_long_rows(rows, model.predict(rows), model, version, as_of))
    return [pd.concat(p, ignore_index=True) if p
            else pd.DataFrame(columns=list(_PREDICTION_COLUMNS)) for p in parts]


def scoring_spec(spec: FeatureSpec) -> FeatureSpec:
    """The spec of a model version as the score flow reads it: one snapshot at ``as_of``
    (any spacing works; a whole bucket keeps the filter exact)."""
    return replace(spec, snapshot_every=max(spec.bucket, timedelta(seconds=1)))


def _long_rows(rows: pd.DataFrame, predicted: pd.DataFrame, model: Any,
               version: ModelVersion, as_of: datetime) -> pd.DataFrame:
    horizons = list(model.horizons)
    n = len(rows)
    return pd.DataFrame({
        "predicted_at": [as_of] * (n * len(horizons)),
        "asset_id": np.tile(rows["asset_id"].to_numpy(dtype=int), len(horizons)),
        "component_type": version.component_type,
        "horizon_days": np.repeat(horizons, n),
        "failure_probability": np.clip(np.concatenate(
            [predicted[f"prob_{h}"].to_numpy(dtype=float) for h in horizons]), 0.0, 1.0),
        "rul_days": np.tile(predicted["rul_days"].to_numpy(dtype=float), len(horizons)),
        "rul_low_days": np.tile(predicted["rul_low_days"].to_numpy(dtype=float), len(horizons)),
        "rul_high_days": np.tile(predicted["rul_high_days"].to_numpy(dtype=float),
                                 len(horizons)),
        "model_version_id": version.model_version_id,
    })


def write_predictions(conn: psycopg.Connection, rows: pd.DataFrame,
                      table: str = "failure_prediction") -> int:
    """Upsert prediction rows by binary COPY into a staging table; return rows written.

    ``table`` is ``failure_prediction`` (the champions') or ``shadow_prediction`` (the
    challengers', keyed by version too)."""
    if rows.empty:
        return 0
    if table == "shadow_prediction":
        return _write_shadow(conn, rows)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS failure_prediction_stage"
                 " (LIKE failure_prediction) ON COMMIT DELETE ROWS")
    with conn.cursor() as cur:
        with cur.copy("COPY failure_prediction_stage (predicted_at, asset_id, component_type,"
                      " horizon_days, failure_probability, rul_days, rul_low_days,"
                      " rul_high_days, model_version_id) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["timestamptz", "integer", "text", "integer", "real", "real",
                            "real", "real", "integer"])
            for row in rows[list(_PREDICTION_COLUMNS)].itertuples(index=False, name=None):
                copy.write_row(_clean(row))
        cur.execute(
            "INSERT INTO failure_prediction SELECT * FROM failure_prediction_stage"
            " ON CONFLICT (asset_id, component_type, horizon_days, predicted_at) DO UPDATE SET"
            " failure_probability = EXCLUDED.failure_probability,"
            " rul_days = EXCLUDED.rul_days, rul_low_days = EXCLUDED.rul_low_days,"
            " rul_high_days = EXCLUDED.rul_high_days,"
            " model_version_id = EXCLUDED.model_version_id")
        return cur.rowcount


def _write_shadow(conn: psycopg.Connection, rows: pd.DataFrame) -> int:
    conn.execute("DELETE FROM shadow_prediction WHERE predicted_at = %s"
                 " AND model_version_id = ANY(%s)",
                 (rows["predicted_at"].iloc[0], sorted({int(v) for v in rows["model_version_id"]})))
    with conn.cursor() as cur:
        with cur.copy("COPY shadow_prediction (predicted_at, asset_id, component_type,"
                      " horizon_days, failure_probability, rul_days, rul_low_days,"
                      " rul_high_days, model_version_id) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["timestamptz", "integer", "text", "integer", "real", "real",
                            "real", "real", "integer"])
            for row in rows[list(_PREDICTION_COLUMNS)].itertuples(index=False, name=None):
                copy.write_row(_clean(row))
        return len(rows)


def _clean(row: tuple[Any, ...]) -> tuple[Any, ...]:
    at, asset_id, component, horizon, prob, rul, low, high, version = row
    return (at, int(asset_id), component, int(horizon), float(prob), _real(rul), _real(low),
            _real(high), int(version))


def _real(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
