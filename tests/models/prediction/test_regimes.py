"""Operating regimes: on synthetic two-regime data the sensors are normalised per regime
before features, so a change of load no longer looks like a change of health; and the
features are causal (a feature at t does not change when the data after t is removed)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.features import (
    FeatureSpec,
    build_feature_frame,
    fit_regimes,
)
from assetwatch.models.prediction.regimes import RegimeNormaliser
from assetwatch.models.prediction.scoring import scoring_spec
from assetwatch.models.prediction.synthetic import add_assets, add_readings

H = timedelta(hours=1)
START = datetime(2025, 1, 1, tzinfo=UTC)
AS_OF = START + timedelta(days=10)
SPEC = FeatureSpec(bucket=H, short_window=3 * H, long_window=12 * H,
                   event_window=timedelta(days=1), snapshot_every=H)
#: load level -> (temperature offset, temperature spread)
LEVELS = {20.0: (40.0, 1.0), 80.0: (90.0, 3.0)}


def _seed(conn: psycopg.Connection) -> int:
    """One asset whose load switches between two levels every 6 hours; its temperature
    follows the load (offset and spread per level), with no wear at all."""
    rng = random.Random(5)
    asset_id = add_assets(conn, ["R1"], model_id="RG-1", sensors=("load", "temp"),
                          commissioned_on=date(2024, 12, 1))["R1"]
    load, temp = [], []
    t = START
    while t < AS_OF:
        level = 20.0 if (t - START) // (6 * H) % 2 == 0 else 80.0
        offset, spread = LEVELS[level]
        for minute in (5, 25, 45):
            at = t + timedelta(minutes=minute)
            load.append((at, level + rng.gauss(0, 0.5)))
            temp.append((at, offset + rng.gauss(0, spread)))
        t += H
    add_readings(conn, asset_id, "load", load)
    add_readings(conn, asset_id, "temp", temp)
    return asset_id


@pytest.mark.integration
def test_two_regimes_are_found_and_sensors_normalised_per_regime(
        make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        _seed(conn)
        first = START + timedelta(days=2)
        raw = build_feature_frame(conn, SPEC, as_of=AS_OF, first_snapshot=first)
        assert fit_regimes(conn, SPEC, as_of=AS_OF, first_snapshot=first).regimes is None
        conn.execute("INSERT INTO asset_model_regime (model_id, signals, regimes)"
                     " VALUES ('RG-1', '{load}', 2)")
        spec = fit_regimes(conn, SPEC, as_of=AS_OF, first_snapshot=first)
        normalised = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first)
    assert spec.regimes is not None
    (model,) = spec.regimes.models
    assert sorted(round(c[0]) for c in model.centres) == [20, 80]
    stats = {(r, s): (mu, sd) for r, s, mu, sd in model.stats}
    means = sorted(round(mu) for (_, s), (mu, _) in stats.items() if s == "temp")
    assert means == [40, 90]
    # raw: the short mean swings with the load by ~50 degrees; normalised: it stays near 0
    assert raw["temp__mean_short"].std() > 15
    assert normalised["temp__mean_short"].abs().max() < 1.5
    # the within-hour spread is in the regime's units too: raw it is three times larger at
    # the high load, normalised about the same in both regimes
    def spread(frame: pd.DataFrame) -> float:
        values = frame["temp__sd_short"]
        return float(values.std() / values.mean())

    assert spread(normalised) < 0.75 * spread(raw)
    # the operating signal is the regime, not a feature
    assert "load__mean_short" in raw and "load__mean_short" not in normalised
    # the spec (with its regimes) survives the registry's JSON
    assert type(spec).from_params(spec.as_params()) == spec


def test_regime_assignment_uses_the_nearest_scaled_centre() -> None:
    rows = pd.DataFrame({
        "model_id": "M", "asset_id": 1, "bucket": np.repeat(np.arange(40), 2),
        "sensor": ["speed", "temp"] * 40,
        "mean": np.ravel([[1000.0 + (i % 2) * 2000, 50.0 + (i % 2) * 10] for i in range(40)])})
    norm = RegimeNormaliser.fit(rows, {"M": (("speed",), 2)})
    (model,) = norm.models
    regime = model.assign(np.array([[1100.0], [2900.0]]))
    centres = [c[0] for c in model.centres]
    assert centres[regime[0]] == pytest.approx(1000.0)
    assert centres[regime[1]] == pytest.approx(3000.0)
    assert RegimeNormaliser.from_params(norm.as_params()) == norm


@pytest.mark.integration
def test_a_feature_at_t_does_not_change_when_later_data_is_removed(
        make_database: Callable[[], Settings]) -> None:
    settings = make_database()
    spec = FeatureSpec(bucket=H, short_window=3 * H, long_window=12 * H,
                       event_window=timedelta(days=1), snapshot_every=H,
                       baseline_window=24 * H, mean_windows=(6 * H,), slope_windows=(24 * H,))
    t = START + timedelta(days=5)
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        _seed(conn)
        conn.execute("INSERT INTO asset_model_regime (model_id, signals, regimes)"
                     " VALUES ('RG-1', '{load}', 2)")
        spec = fit_regimes(conn, spec, as_of=t, first_snapshot=START + timedelta(days=2))
        first = t - timedelta(days=1)
        before = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first)
        conn.execute("DELETE FROM telemetry WHERE time >= %s", (t,))
        conn.execute("DELETE FROM telemetry_hourly WHERE bucket >= %s", (t,))
        after = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first)
    columns = [c for c in before.columns if "__" in c]
    old = before[before.snapshot_at <= t].set_index("snapshot_at")[columns]
    new = after[after.snapshot_at <= t].set_index("snapshot_at")[columns]
    assert len(old) == 25 and new.index.equals(old.index)
    pd.testing.assert_frame_equal(new, old)
    # the check can fail: a feature that looked past t would differ
    later = before[before.snapshot_at > t]
    assert not later.empty and after[after.snapshot_at > t].empty


@pytest.mark.integration
def test_scoring_normalises_as_training_did(make_database: Callable[[], Settings]) -> None:
    """The score flow's single-snapshot read, with the regimes stored in a model version's
    spec, gives the same features as the training window's row at that time."""
    settings = make_database()
    spec = replace(SPEC, mean_windows=(6 * H,), slope_windows=(24 * H,))
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        _seed(conn)
        conn.execute("INSERT INTO asset_model_regime (model_id, signals, regimes)"
                     " VALUES ('RG-1', '{load}', 2)")
        fitted = fit_regimes(conn, spec, as_of=AS_OF, first_snapshot=START + timedelta(days=2))
        stored = FeatureSpec.from_params(fitted.as_params())
        window = build_feature_frame(conn, fitted, as_of=AS_OF,
                                     first_snapshot=AS_OF - timedelta(days=1))
        scored = build_feature_frame(conn, scoring_spec(stored), as_of=AS_OF,
                                     all_assets=True, sensors=["temp"])
    row = window[window.snapshot_at == AS_OF].reset_index(drop=True)
    columns = [c for c in row.columns if c.startswith("temp__")]
    assert len(columns) >= 7 and len(scored) == 1
    pd.testing.assert_frame_equal(scored[columns], row[columns])
    assert scored["temp__mean_short"].abs().max() < 1.5   # in the regime's units


def test_a_sensor_that_is_a_switch_in_one_regime_gets_no_statistics() -> None:
    """Divided by its spread in a regime where it only flips between two readings, a sensor
    would be rounding noise many standard deviations wide: it is left out (and so has no
    features); a sensor with a few more levels stays. Allowing any number of levels keeps it."""
    from assetwatch.models.prediction import regimes

    rng = np.random.default_rng(1)
    n = 40
    load = np.r_[np.full(n, 20.0), np.full(n, 80.0)] + rng.normal(0, 0.1, 2 * n)
    switch = np.r_[rng.choice([1.30, 1.31], n), 2.0 + rng.normal(0, 0.2, n)]
    steps = np.r_[rng.integers(390, 396, n), rng.integers(380, 386, n)].astype(float)
    temp = np.r_[40 + rng.normal(0, 1, n), 90 + rng.normal(0, 3, n)]
    rows = pd.DataFrame({"model_id": "M", "asset_id": 1,
                         "bucket": np.repeat(np.arange(2 * n), 4),
                         "sensor": ["load", "switch", "steps", "temp"] * (2 * n),
                         "mean": np.column_stack([load, switch, steps, temp]).ravel()})
    config = {"M": (("load",), 2)}
    (model,) = RegimeNormaliser.fit(rows, config).models
    assert {s for _, s, _, _ in model.stats} == {"steps", "temp"}
    # a regime with too few buckets says nothing about a sensor
    few = rows[(rows["bucket"] >= n - regimes.SWITCH_MIN_BUCKETS + 1)]
    (model,) = RegimeNormaliser.fit(few, config).models
    assert "switch" in {s for _, s, _, _ in model.stats}
    original = regimes.SWITCH_LEVELS
    try:
        regimes.SWITCH_LEVELS = 0
        (model,) = RegimeNormaliser.fit(rows, config).models
        assert "switch" in {s for _, s, _, _ in model.stats}
    finally:
        regimes.SWITCH_LEVELS = original
