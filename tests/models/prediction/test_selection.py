"""Settings chosen by cross-validation grouped by unit, on made-up lives: the loss judges every
candidate at the same cut points of the held-out lives (true remaining life), so a cap that is
too low and windows without the signal lose, and what a unit did after a cut is not used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from assetwatch.models.prediction.errors import PredictionError
from assetwatch.models.prediction.features import FeatureSpec
from assetwatch.models.prediction.selection import (
    CutPoints,
    Stage,
    rul_loss,
    sample_cuts,
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


def test_cuts_fall_between_the_minimum_age_and_the_horizon_and_weigh_units_alike() -> None:
    frame, _ = _lives()
    cuts = CutPoints(horizon_days=60.0, min_age_days=20.0, per_unit=5, seed=3)
    judged = sample_cuts(frame, cuts)
    assert judged["asset_id"].value_counts().eq(5).all() and judged["asset_id"].nunique() == 12
    assert judged["days_to_failure"].between(1, 60).all()
    assert (judged["component_age_days"] >= 20).all()
    assert judged.groupby("asset_id")["cut_weight"].sum().round(12).eq(1.0).all()
    # the same cuts again, whatever the feature columns hold; another seed cuts elsewhere
    noisy = frame.assign(s__mean_10d=0.0)
    assert sample_cuts(noisy, cuts).index.equals(judged.index)
    assert not sample_cuts(frame, CutPoints(60.0, 20.0, 5, seed=4)).index.equals(judged.index)
    # a unit with fewer snapshots in range than cuts asked for gives what it has, weighing 1
    short = frame[(frame["asset_id"] != 0) | (frame["days_to_failure"] < 3)]
    assert sample_cuts(short, cuts)["asset_id"].value_counts()[0] == 2
    with pytest.raises(PredictionError, match="no held-out snapshot"):
        sample_cuts(frame, CutPoints(horizon_days=60.0, min_age_days=1000.0))


def test_default_cuts_judge_short_histories_as_random_truncation_makes_them() -> None:
    """A test unit may be stopped at any moment of its life, its first days included: by
    default the cuts fall anywhere from the first snapshot (a minimum age leaves them out)."""
    frame, _ = _lives()
    young = sample_cuts(frame, CutPoints(horizon_days=200.0, per_unit=60))
    assert young["component_age_days"].min() < 10
    assert sample_cuts(frame, CutPoints(horizon_days=200.0, min_age_days=30.0, per_unit=60)
                       )["component_age_days"].min() >= 30


def test_the_loss_weighs_every_unit_alike_against_the_true_remaining_life() -> None:
    judged = pd.DataFrame({"days_to_failure": [10.0, 20.0, 30.0],
                           "cut_weight": [0.5, 0.5, 1.0]})
    # unit one (two cuts) errs by 4 and 0, unit two (one cut) by 6
    assert rul_loss(np.array([14.0, 20.0, 36.0]), judged) == pytest.approx(
        np.sqrt((0.5 * 16 + 1.0 * 36) / 2.0))


def test_the_readings_of_a_held_out_unit_after_its_cuts_are_not_used() -> None:
    from assetwatch.models.prediction.training import fit_failure_model, fleet_prior

    frame, as_of = _lives()
    options = TrainOptions(spec=FeatureSpec(mean_windows=(10 * DAY,)), horizons=(),
                           rul_cap_days=60.0, rul_gbm=SMALL, health_index=False)
    cuts = CutPoints(horizon_days=50.0, min_age_days=10.0, per_unit=1)
    fit, held = frame[frame["asset_id"] >= 6], frame[frame["asset_id"] < 6]
    model = fit_failure_model(fit, as_of, fleet_prior("unit", fit, options), options)

    def loss(rows: pd.DataFrame) -> float:
        judged = sample_cuts(rows, cuts)
        return rul_loss(model.predict(judged)["rul_days"].to_numpy(), judged)

    # every feature of every snapshot after a unit's cut replaced by nonsense: same loss (the
    # failure time still says where a cut may fall and what the true remaining life is)
    cut_at = held["asset_id"].map(sample_cuts(held, cuts).set_index("asset_id")["snapshot_at"])
    features = ["s__mean_10d", "s__mean_3d", "s__mean_short"]
    later = held.assign(**{c: held[c].where(held["snapshot_at"] <= cut_at, 1e6)
                           for c in features})
    assert (later[features] == 1e6).any().all()
    assert loss(later) == loss(held)
    # while the snapshot at the cut counts: scramble it and the loss moves
    at_cut = held.assign(s__mean_10d=held["s__mean_10d"].where(
        held["snapshot_at"] != cut_at, 1e6))
    assert loss(at_cut) != loss(held)


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
