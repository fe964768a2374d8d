"""Training on a small synthetic fleet: learned models, the prior fallback, scoring."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.features import FeatureSpec
from assetwatch.models.prediction.scoring import score_assets
from assetwatch.models.prediction.synthetic import START, add_assets, seed_fleet
from assetwatch.models.prediction.training import TrainOptions, train_models

#: test-sized boosting (fewer, larger steps; one ensemble member)
SMALL = {"max_iter": 25, "learning_rate": 0.2, "max_leaf_nodes": 15, "min_samples_leaf": 20,
         "l2_regularization": 1.0, "random_state": 0}
OPTIONS = TrainOptions(horizons=(3, 7), history=timedelta(days=60),
                       spec=FeatureSpec(snapshot_every=timedelta(hours=12)), gbm=SMALL,
                       rul_gbm={**SMALL, "max_features": 0.5}, rul_seeds=1)


def test_learns_from_failures_and_scores(fresh_settings: Settings) -> None:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        seed_fleet(conn)
    results = train_models(fresh_settings, horizons=(3, 7), options=OPTIONS)
    assert [r.component_type for r in results] == ["bearing"]
    result = results[0]
    assert result.kind == "gradient_boosting" and result.promoted
    assert result.failures >= 10
    assert result.metrics["score"] > result.metrics["prior"]["score"]

    written = score_assets(fresh_settings)
    assert written == 12 * 2
    with psycopg.connect(fresh_settings.db_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT model_version_id, predicted_at FROM failure_prediction").fetchall()
        risk = conn.execute("SELECT count(*) FROM v_failure_risk WHERE rul_days IS NOT NULL"
                            " AND rul_low_days <= rul_days AND rul_days <= rul_high_days"
                            ).fetchone()
    assert [r[0] for r in rows] == [result.model_version_id]
    assert rows[0][1] >= START + timedelta(days=59)   # as_of = newest telemetry
    assert risk == (24,)
    assert score_assets(fresh_settings) == written   # same as_of: replaced, not duplicated

    again = train_models(fresh_settings, horizons=(3, 7), options=OPTIONS)[0]
    assert again.version == 2 and not again.promoted   # same data: not better on the fold
    assert again.metrics["baseline"]["model_version_id"] == result.model_version_id


def test_no_failure_history_registers_the_prior(fresh_settings: Settings) -> None:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        seed_fleet(conn, assets=3, days=10, failures=False)
    results = train_models(fresh_settings, options=OPTIONS, horizons=(3, 7))
    assert [(r.kind, r.promoted) for r in results] == [("weibull_prior", True)]
    assert score_assets(fresh_settings) == 3 * 2
    with psycopg.connect(fresh_settings.db_url) as conn:
        probs = conn.execute("SELECT horizon_days, failure_probability FROM v_failure_risk"
                             " ORDER BY asset_id, horizon_days").fetchall()
    assert all(0 < p < 1 for _, p in probs)
    assert probs[0][1] <= probs[1][1]


def test_scoring_a_new_install_registers_priors(fresh_settings: Settings) -> None:
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        ids = seed_fleet(conn, assets=2, days=3, failures=False)
    assert score_assets(fresh_settings) == 2 * 2   # default horizons 7 and 30
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        add_assets(conn, ["F00000"], components=("bearing", "seal"))   # a new component type
    assert score_assets(fresh_settings) == 2 * 2 * 2
    with psycopg.connect(fresh_settings.db_url) as conn:
        kinds = conn.execute("SELECT component_type, params->>'kind' FROM model_version"
                             " WHERE is_current ORDER BY 1").fetchall()
    assert kinds == [("bearing", "weibull_prior"), ("seal", "weibull_prior")]
    assert len(ids) == 2


def test_a_feature_without_any_value_is_fitted_as_absent() -> None:
    """A feature missing in every training row (a sensor a small fleet never reported) must
    not stop the fit; the trees then predict as if the column were not there."""
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier

    from assetwatch.models.prediction.training import _fittable

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    with_empty = np.column_stack([x, np.full(200, np.nan)])
    fitted = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    fitted.fit(_fittable(with_empty), y)
    plain = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(x, y)
    assert np.allclose(fitted.predict_proba(with_empty)[:, 1], plain.predict_proba(x)[:, 1])
    assert _fittable(x) is x                      # nothing to do: no copy
