"""The flattened trees predict what scikit-learn's histogram gradient boosting predicts."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)

from assetwatch.models.prediction import trees


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x[rng.random(x.shape) < 0.15] = np.nan          # missing values take their own branch
    return x, np.nan_to_num(x[:, 0]) - 0.5 * np.nan_to_num(x[:, 1]) + rng.normal(size=n)


def test_same_predictions_as_scikit_learn() -> None:
    x, y = _data(600, 0)
    new, _ = _data(2500, 1)        # more rows than one chunk
    regressor = HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=15).fit(x, y)
    quantile = HistGradientBoostingRegressor(loss="quantile", quantile=0.9,
                                             max_iter=30).fit(x, y)
    classifier = HistGradientBoostingClassifier(max_iter=40).fit(x, (y > 0.5).astype(int))
    np.testing.assert_allclose(trees.predict(regressor, new), regressor.predict(new),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trees.predict(quantile, new), quantile.predict(new),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(trees.predict_proba(classifier, new),
                               classifier.predict_proba(new), rtol=1e-12, atol=1e-12)
    # a wrong walk would show: the leaves' values differ between rows
    assert np.ptp(trees.predict(regressor, new)) > 0.5


def test_other_estimators_use_their_own_methods() -> None:
    x, y = _data(200, 2)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(
        np.nan_to_num(x), (y > 0).astype(int))
    np.testing.assert_array_equal(trees.predict_proba(forest, np.nan_to_num(x)),
                                  forest.predict_proba(np.nan_to_num(x)))
