"""The model registry: versions, the current version and the promotion rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.errors import PredictionError
from assetwatch.models.prediction.model_registry import (
    ModelVersion,
    current_version,
    load_model,
    promote_if_better,
    register_version,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def conn(fresh_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        yield conn


def _register(conn: psycopg.Connection, score: float | None, *, kind: str = "gradient_boosting",
              baseline: dict[str, Any] | None = None) -> ModelVersion:
    metrics: dict[str, Any] = {"score": score}
    if baseline is not None:
        metrics["baseline"] = baseline
    return register_version(conn, model_name="failure-risk", component_type="bearing",
                            model={"weights": [1, 2, 3]}, params={"kind": kind},
                            features=["a", "b"], metrics=metrics, train_from=T0, train_to=T0)


def test_versions_count_up_and_keep_their_artifact(conn: psycopg.Connection) -> None:
    first, second = _register(conn, 0.5), _register(conn, 0.6)
    assert (first.version, second.version) == (1, 2)
    assert not first.is_current
    assert load_model(conn, second.model_version_id) == {"weights": [1, 2, 3]}
    assert second.features == ["a", "b"] and second.train_from == T0
    with pytest.raises(PredictionError):
        load_model(conn, 999_999)


def test_refuses_to_promote_a_worse_model(conn: psycopg.Connection) -> None:
    good = _register(conn, 0.8)
    assert promote_if_better(conn, good).promoted
    worse = _register(conn, 0.7)
    decision = promote_if_better(conn, worse)
    assert not decision.promoted and "0.7000 <= 0.8000" in decision.reason
    equal = _register(conn, 0.8)
    assert not promote_if_better(conn, equal).promoted
    current = current_version(conn, "failure-risk", "bearing")
    assert current is not None and current.model_version_id == good.model_version_id
    better = _register(conn, 0.81)
    assert promote_if_better(conn, better).promoted
    current = current_version(conn, "failure-risk", "bearing")
    assert current is not None and current.model_version_id == better.model_version_id
    assert conn.execute("SELECT count(*) FROM model_version WHERE is_current").fetchone() == (1,)


def test_the_same_fold_comparison_wins_over_stored_scores(conn: psycopg.Connection) -> None:
    current = _register(conn, 0.9)
    promote_if_better(conn, current)
    # on the new fold the current version only reaches 0.5: 0.7 is better there
    candidate = _register(conn, 0.7, baseline={"model_version_id": current.model_version_id,
                                               "score": 0.5})
    assert promote_if_better(conn, candidate).promoted
    # a baseline measured against another version does not count
    stale = _register(conn, 0.6, baseline={"model_version_id": current.model_version_id,
                                           "score": 0.1})
    assert not promote_if_better(conn, stale).promoted


def test_unvalidated_models(conn: psycopg.Connection) -> None:
    prior = _register(conn, None, kind="weibull_prior")
    assert promote_if_better(conn, prior).promoted            # nothing current yet
    newer_prior = _register(conn, None, kind="weibull_prior")
    assert promote_if_better(conn, newer_prior).promoted      # a prior refreshes a prior
    learned = _register(conn, 0.4)
    assert promote_if_better(conn, learned).promoted          # beats an unscored prior
    unscored = _register(conn, None)
    assert not promote_if_better(conn, unscored).promoted
    assert not promote_if_better(conn, _register(conn, None, kind="weibull_prior")).promoted
