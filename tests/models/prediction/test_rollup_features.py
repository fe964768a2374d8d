"""Features read from the hourly rollup equal those read from the raw telemetry: the mean of
a bucket of whole hours is the count-weighted mean of its hours, and its standard deviation
comes exactly from the rollup's sums of squares."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.buckets import reads_rollup
from assetwatch.models.prediction.features import FeatureSpec, build_feature_frame
from assetwatch.models.prediction.synthetic import add_assets, add_readings

H = timedelta(hours=1)
AS_OF = datetime(2025, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize("bucket", [3 * H, H], ids=["3h", "1h"])
def test_rollup_and_raw_telemetry_give_the_same_features(fresh_settings: Settings,
                                                          bucket: timedelta) -> None:
    """Buckets of several hours regroup the rollup's rows; one-hour buckets are its rows."""
    rng = random.Random(3)
    spec = FeatureSpec(bucket=bucket, short_window=6 * H, long_window=24 * H,
                       snapshot_every=6 * H, baseline_window=48 * H, mean_windows=(12 * H,),
                       slope_windows=(48 * H,))
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        ids = add_assets(conn, ["A", "B"], sensors=("temp", "vib"),
                         commissioned_on=date(2025, 1, 1))
        for asset_id in ids.values():
            for sensor, level in (("temp", 1500.0), ("vib", 2.0)):
                # uneven counts per hour (1 to 7 readings) so the weighting matters
                readings, t = [], AS_OF - timedelta(days=6)
                while t < AS_OF:
                    minutes = rng.sample(range(60), rng.randint(1, 7))
                    readings += [(t + timedelta(minutes=m), level + rng.gauss(0, 0.01 * level))
                                 for m in minutes]
                    t += H
                add_readings(conn, asset_id, sensor, readings)
        first = AS_OF - timedelta(days=2)
        assert reads_rollup(spec.bucket, AS_OF)
        rollup = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first)
        raw = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first, rollup=False)
        # a snapshot every bucket (window frames) gives the same figures as every other
        # bucket (one lookup per snapshot) and as scoring the newest snapshot alone
        from dataclasses import replace

        frames = build_feature_frame(conn, replace(spec, snapshot_every=spec.bucket),
                                     as_of=AS_OF, first_snapshot=first)
        single = build_feature_frame(conn, spec, as_of=AS_OF)
        # and the result would differ if the rollup lost the spread
        conn.execute("UPDATE telemetry_hourly SET sum_sq = n * avg * avg")
        spreadless = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first)
    assert len(rollup) == 2 * 9
    pd.testing.assert_frame_equal(rollup, raw, check_exact=False, rtol=1e-7, atol=1e-9)
    assert spreadless["temp__mean_short"].equals(rollup["temp__mean_short"])
    assert (spreadless["temp__sd_short"] < 0.8 * rollup["temp__sd_short"]).all()
    common = frames[frames.snapshot_at.isin(rollup.snapshot_at)].reset_index(drop=True)
    assert len(frames) == 2 * (timedelta(days=2) // bucket + 1) and len(common) == len(rollup)
    pd.testing.assert_frame_equal(common, rollup, check_exact=False, rtol=1e-7, atol=1e-9)
    newest = frames[frames.snapshot_at == AS_OF].reset_index(drop=True)
    pd.testing.assert_frame_equal(newest[single.columns], single, check_exact=False,
                                  rtol=1e-7, atol=1e-9)


def test_block_sums_give_the_lookup_per_snapshot_figures(fresh_settings: Settings,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots every few buckets with windows of whole spacings are computed from per-block
    sums (``_BLOCKS_SQL``); one lookup of each window's buckets per snapshot gives the same
    figures, gaps in the telemetry included."""
    rng = random.Random(5)
    spec = FeatureSpec(bucket=H, short_window=6 * H, long_window=24 * H, snapshot_every=6 * H,
                       baseline_window=48 * H, mean_windows=(12 * H,), slope_windows=(36 * H,))
    assert spec.block_statistics() is not None
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        ids = add_assets(conn, ["A", "B"], sensors=("temp", "vib"),
                         commissioned_on=date(2025, 1, 1))
        for asset_id in ids.values():
            for sensor, level in (("temp", 60.0), ("vib", 2.0)):
                readings, t = [], AS_OF - timedelta(days=5)
                while t < AS_OF:
                    if rng.random() > 0.15:     # missing hours
                        readings += [(t + timedelta(minutes=m), level + 0.01 * level * (
                            rng.gauss(0, 1) + (t - AS_OF).total_seconds() / 86400))
                            for m in rng.sample(range(60), rng.randint(1, 4))]
                    t += H
                add_readings(conn, asset_id, sensor, readings)
        first = AS_OF - timedelta(days=2)
        blocks = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first)
        monkeypatch.setattr(FeatureSpec, "block_statistics", lambda self: None)
        lookups = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=first)
    assert len(blocks) > 0 and blocks["temp__slope_36h"].notna().any()
    pd.testing.assert_frame_equal(blocks, lookups, check_exact=False, rtol=1e-7, atol=1e-9)
