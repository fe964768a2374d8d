"""The model registry: versions of each model in the ``model_version`` table.

Each version records its training window, parameters, features, validation metrics and the
artifact (a pickle of the model object; artifacts are only ever read from this database, which
is trusted like the code). At most one version per (model name, component type) is current
(a partial unique index enforces it); predictions name the version that made them.

Promotion rule (:func:`promote_if_better`): a candidate replaces the current version only if it
validates better -- its ``metrics["score"]`` (higher is better: mean average precision over
the horizons) beats the current version's score *on the same validation fold* when the
candidate's ``metrics["baseline"]`` carries it (the trainer scores the current version on the
new fold), else the current version's own stored score. An unvalidated candidate (score None)
never replaces a current version, except that an unvalidated prior may replace another prior.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from assetwatch.models.prediction.errors import PredictionError

__all__ = ["MODEL_NAME", "ModelVersion", "Promotion", "current_version", "current_versions",
           "decide_promotion", "load_model", "promote", "promote_if_better", "register_version",
           "select_versions"]

MODEL_NAME = "failure-risk"

_COLUMNS = ("model_version_id, model_name, component_type, version, trained_at, train_from,"
            " train_to, params, features, metrics, is_current")
_SELECT = "SELECT " + _COLUMNS + " FROM model_version"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version (without its artifact)."""

    model_version_id: int
    model_name: str
    component_type: str | None
    version: int
    trained_at: datetime
    train_from: datetime | None
    train_to: datetime | None
    params: dict[str, Any]
    features: list[str]
    metrics: dict[str, Any]
    is_current: bool

    @property
    def score(self) -> float | None:
        value = self.metrics.get("score")
        return float(value) if value is not None else None

    @property
    def kind(self) -> str:
        return str(self.params.get("kind", ""))


@dataclass(frozen=True)
class Promotion:
    """The outcome of the promotion rule."""

    promoted: bool
    reason: str


def register_version(conn: psycopg.Connection, *, model_name: str, component_type: str | None,
                     model: object, params: dict[str, Any], features: list[str],
                     metrics: dict[str, Any], train_from: datetime | None,
                     train_to: datetime | None) -> ModelVersion:
    """Store ``model`` as the next version (1, 2, ...) of (model_name, component_type); it is
    not current until promoted."""
    artifact = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                 (f"model_version:{model_name}:{component_type or ''}",))
    row = conn.execute(
        "INSERT INTO model_version (model_name, component_type, version, train_from, train_to,"
        " params, features, metrics, artifact)"
        " SELECT %s, %s, coalesce(max(version), 0) + 1, %s, %s, %s, %s, %s, %s"
        "   FROM model_version WHERE model_name = %s"
        "    AND component_type IS NOT DISTINCT FROM %s"
        " RETURNING " + _COLUMNS,
        (model_name, component_type, train_from, train_to, Jsonb(params), features,
         Jsonb(metrics), artifact, model_name, component_type),
    ).fetchone()
    assert row is not None
    return ModelVersion(*row)


def current_version(conn: psycopg.Connection, model_name: str,
                    component_type: str | None) -> ModelVersion | None:
    row = conn.execute(
        _SELECT + " WHERE model_name = %s AND component_type IS NOT DISTINCT FROM %s"
        " AND is_current",
        (model_name, component_type),
    ).fetchone()
    return ModelVersion(*row) if row else None


def current_versions(conn: psycopg.Connection, model_name: str = MODEL_NAME
                     ) -> list[ModelVersion]:
    """The current version of every component type of ``model_name``."""
    rows = conn.execute(
        _SELECT + " WHERE model_name = %s AND is_current"
        " ORDER BY component_type", (model_name,),
    ).fetchall()
    return [ModelVersion(*row) for row in rows]


def load_model(conn: psycopg.Connection, model_version_id: int) -> Any:
    """Unpickle the artifact of a version; :class:`PredictionError` if absent or unreadable.

    A version's artifact is written once, when it is registered, so the unpickled model is
    kept (the newest :data:`_CACHED_MODELS` of the process), keyed by the server, database,
    version and its registration time: the score flow reads the same few artifacts at every
    run. A cached model is shared: callers must not change it."""
    row = conn.execute("SELECT trained_at, artifact IS NOT NULL FROM model_version"
                       " WHERE model_version_id = %s", (model_version_id,)).fetchone()
    if row is None or not row[1]:
        raise PredictionError(f"model version {model_version_id} has no artifact")
    info = conn.info
    key = (info.host, info.port, info.dbname, model_version_id, row[0])
    if key in _MODELS:
        _MODELS.move_to_end(key)
        return _MODELS[key]
    artifact = conn.execute("SELECT artifact FROM model_version WHERE model_version_id = %s",
                            (model_version_id,)).fetchone()
    if artifact is None or artifact[0] is None:
        raise PredictionError(f"model version {model_version_id} has no artifact")
    try:
        model = pickle.loads(artifact[0])
    except Exception as e:  # an artifact of an incompatible library version
        raise PredictionError(
            f"cannot load model version {model_version_id}: {type(e).__name__}: {e}"
        ) from e
    _MODELS[key] = model
    while len(_MODELS) > _CACHED_MODELS:
        _MODELS.popitem(last=False)
    return model


#: unpickled artifacts kept per process (a champion and a challenger per component type)
_CACHED_MODELS = 32
_MODELS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def promote(conn: psycopg.Connection, model_version_id: int,
            at: datetime | None = None) -> None:
    """Make a version current (whatever its metrics), retiring the current one (at ``at``,
    default now): a former champion is out of service, never a live challenger, whether or
    not it once ran in shadow; the version made current is in service again (a rollback
    brings a retired one back)."""
    row = conn.execute("SELECT model_name, component_type FROM model_version"
                       " WHERE model_version_id = %s", (model_version_id,)).fetchone()
    if row is None:
        raise PredictionError(f"no model version {model_version_id}")
    conn.execute("UPDATE model_version SET is_current = false,"
                 " retired_at = coalesce(%s, now()) WHERE model_name = %s"
                 " AND component_type IS NOT DISTINCT FROM %s AND is_current", (at, *row))
    conn.execute("UPDATE model_version SET is_current = true, retired_at = NULL"
                 " WHERE model_version_id = %s", (model_version_id,))


def promote_if_better(conn: psycopg.Connection, candidate: ModelVersion, *,
                      min_gain: float = 0.0) -> Promotion:
    """Apply the promotion rule (see the module docstring); promote if it allows."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                 (f"model_version:{candidate.model_name}:{candidate.component_type or ''}",))
    current = current_version(conn, candidate.model_name, candidate.component_type)
    decision = decide_promotion(candidate, current, min_gain)
    if decision.promoted:
        promote(conn, candidate.model_version_id)
    return decision


def decide_promotion(candidate: ModelVersion, current: ModelVersion | None,
                     min_gain: float = 0.0) -> Promotion:
    """The promotion rule on the validation fold (see the module docstring), not applied."""
    if current is None:
        return Promotion(True, "no current version")
    if current.model_version_id == candidate.model_version_id:
        return Promotion(False, "already current")
    score = candidate.score
    if score is None:
        if candidate.kind == "weibull_prior" and current.kind == "weibull_prior":
            return Promotion(True, "prior replaces prior")
        return Promotion(False, "candidate has no validation score")
    baseline = candidate.metrics.get("baseline") or {}
    if baseline.get("model_version_id") == current.model_version_id:
        reference = baseline.get("score")
        where = "on the same validation fold"
    else:
        reference = current.score
        where = "as stored"
    if reference is None:
        return Promotion(True, f"current version {current.version} has no score {where}")
    if score > float(reference) + min_gain:
        return Promotion(True, f"score {score:.4f} > {float(reference):.4f} {where}")
    return Promotion(False, f"score {score:.4f} <= {float(reference):.4f} of version "
                            f"{current.version} {where}")


def select_versions(conn: psycopg.Connection, where: str,
                    params: dict[str, Any] | None = None) -> list[ModelVersion]:
    """Versions matching the SQL condition ``where`` (a constant string with ``%(name)s``
    placeholders), oldest first."""
    return [ModelVersion(*row) for row in conn.execute(
        _SELECT + " WHERE " + where + " ORDER BY model_version_id", params or {}).fetchall()]
