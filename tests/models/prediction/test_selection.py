"""Settings chosen by cross-validation grouped by unit, on made-up lives: the loss judges every
candidate on the same rows (second halves of the held-out lives, true remaining life), so a
cap that is too low and windows without the signal lose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from assetwatch.models.prediction.errors import PredictionError
from assetwatch.models.prediction.features import FeatureSpec
from assetwatch.models.prediction.selection import (
    Stage,
    rul_loss,
    select_settings,
    with_updates,
)
from assetwatch.models.prediction.training import TrainOptions

T0 = datetime(2020, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SMALL = {"max_iter": 40, "learning_rate": 0.15, "max_leaf_nodes": 7, "min_samples_leaf": 5}


def _lives(seed: int = 0) -> tuple[pd.DataFrame, datetime]:
    """Twelve units that fail after 90-150 days; ``s__mean_10d`` tracks the remaining life
    over the whole life, ``s__mean_3d`` is noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(12):
        life = int(rng.integers(90, 151))
        for day in range(1, life + 1):
            remaining = life - day
            rows.append({"asset_id": unit, "snapshot_at": T0 + day * DAY,
                         "component_type": "engine", "model_id": "M",
                         "component_age_days": float(day), "days_to_failure": float(remaining),
                         "days_known_ok": np.nan, "s__mean_short": rng.normal(0, 1),
                         "s__mean_3d": rng.normal(0, 1),
                         "s__mean_10d": remaining / 10 + rng.normal(0, 0.3)})
    return pd.DataFrame(rows), T0 + 200 * DAY


def test_the_loss_judges_the_second_half_of_each_life_against_the_true_remaining_life() -> None:
    scored = pd.DataFrame({"days_to_failure": [90.0, 50.0, 10.0, np.nan],
                           "component_age_days": [10.0, 50.0, 90.0, 95.0]})
    # rows 2 and 3 are judged (remaining life <= age); the unknown one is not
    assert rul_loss(np.array([0.0, 40.0, 16.0, 0.0]), scored) == pytest.approx(
        np.sqrt((100 + 36) / 2))
    with pytest.raises(PredictionError, match="second half"):
        rul_loss(np.zeros(1), scored.iloc[:1])


def test_windows_and_cap_are_chosen_by_their_held_out_error() -> None:
    frame, as_of = _lives()
    options = TrainOptions(spec=FeatureSpec(mean_windows=(3 * DAY, 10 * DAY)), horizons=(),
                           rul_cap_days=20.0, rul_gbm=SMALL, health_index=False)
    stages = [Stage("feature windows", {"3 days": {"mean_windows": (3 * DAY,)},
                                        "10 days": {"mean_windows": (10 * DAY,)}}),
              Stage("cap", {"20": {"rul_cap_days": 20.0}, "200": {"rul_cap_days": 200.0}})]
    selection = select_settings(frame, as_of, options, stages, folds=3)
    windows, cap = selection.stages
    # only the 10-day mean carries the remaining life: with it the held-out error is lower
    assert windows.chosen == "10 days" and windows.losses["3 days"] > windows.losses["10 days"]
    # a cap of 20 days cannot say 70 days: it loses on the same rows and target
    assert cap.chosen == "200" and cap.losses["20"] > 2 * cap.losses["200"]
    assert selection.options.rul_cap_days == 200.0
    assert selection.options.spec.mean_windows == (10 * DAY,)
    # the other settings are kept
    assert selection.options.rul_gbm == SMALL and selection.options.horizons == ()


def test_updates_go_into_the_spec_or_the_options() -> None:
    options = with_updates(TrainOptions(), {"slope_windows": (DAY,), "rul_cap_days": 60.0})
    assert options.spec.slope_windows == (DAY,) and options.rul_cap_days == 60.0
