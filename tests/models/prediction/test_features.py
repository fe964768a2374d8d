"""The feature SQL on a small seeded hypertable gives the hand-computed values."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from assetwatch.core.settings import Settings
from assetwatch.models.prediction.features import (
    FeatureSpec,
    build_feature_frame,
    feature_columns,
    latest_telemetry_time,
    restrict_to_spec,
)
from assetwatch.models.prediction.synthetic import add_assets, add_event, add_readings

H = timedelta(hours=1)
AS_OF = datetime(2025, 3, 10, tzinfo=UTC)
SPEC = FeatureSpec(bucket=H, short_window=2 * H, long_window=4 * H,
                   event_window=timedelta(days=1), snapshot_every=H)


@pytest.fixture
def seeded(fresh_settings: Settings) -> tuple[Settings, int]:
    """One asset, 10 hours of a sensor: in hour k two readings k and k+1 (mean k+0.5)."""
    with psycopg.connect(fresh_settings.db_url, autocommit=True) as conn:
        asset_id = add_assets(conn, ["A1"], commissioned_on=date(2025, 3, 1))["A1"]
        start = AS_OF - 10 * H
        readings = []
        for k in range(10):
            readings.append((start + k * H + timedelta(minutes=10), float(k)))
            readings.append((start + k * H + timedelta(minutes=40), float(k + 1)))
        add_readings(conn, asset_id, "temp", readings)
        add_event(conn, asset_id, AS_OF - H, "controller_error", code="E7")
        add_event(conn, asset_id, AS_OF, "controller_error", code="E7")  # not before as_of
        add_event(conn, asset_id, AS_OF - timedelta(days=2), "controller_error", code="E1")
        conn.execute("INSERT INTO installed_component (asset_id, component_type, serial_no,"
                     " valid_from) VALUES (%s, 'bearing', 'SN1', %s)",
                     (asset_id, AS_OF - timedelta(days=5)))
        add_event(conn, asset_id, AS_OF - timedelta(days=3), "part_replaced", "bearing")
        add_event(conn, asset_id, AS_OF - 6 * H, "failure", "bearing")
    return fresh_settings, asset_id


def test_feature_values_by_hand(seeded: tuple[Settings, int]) -> None:
    settings, asset_id = seeded
    with psycopg.connect(settings.db_url) as conn:
        frame = build_feature_frame(conn, SPEC, as_of=AS_OF, first_snapshot=AS_OF - 12 * H)
    now = frame[frame.snapshot_at == AS_OF].iloc[0]
    # bucket means of the last four hours: 6.5, 7.5, 8.5, 9.5
    assert now.temp__mean_short == pytest.approx(9.0)
    assert now.temp__mean_long == pytest.approx(8.0)
    assert now.temp__sd_short == pytest.approx(math.sqrt(0.5))
    assert now.temp__sd_long == pytest.approx(math.sqrt(5 / 3))
    assert now.temp__slope_long == pytest.approx(24.0)   # one unit per hour
    assert now.temp__delta == pytest.approx(1.0)
    assert now.temp__vs_fleet == pytest.approx(1.0)
    assert now.controller_errors == 1 and now["errors__E7"] == 1
    assert now.asset_age_days == pytest.approx(9.0)
    assert now.component_age_days == pytest.approx(3.0)
    assert now.past_failures == 1
    assert math.isnan(now.days_to_failure)
    assert now.model_id == "TP-1" and now.component_type == "bearing"
    assert now.asset_id == asset_id

    earlier = frame[frame.snapshot_at == AS_OF - 8 * H].iloc[0]
    assert earlier.days_to_failure == pytest.approx(2 / 24)
    assert earlier.past_failures == 0
    assert earlier.temp__mean_short == pytest.approx(1.0)   # buckets 0.5, 1.5
    assert earlier.temp__mean_long == pytest.approx(1.0)    # only two buckets so far
    # the first snapshot with data is one bucket after the first reading
    assert frame.snapshot_at.min() == AS_OF - 9 * H
    assert len(frame) == 10


def test_latest_telemetry_time(seeded: tuple[Settings, int]) -> None:
    settings, _ = seeded
    with psycopg.connect(settings.db_url) as conn:
        assert latest_telemetry_time(conn) == AS_OF - H + timedelta(minutes=40)


def test_every_asset_gets_a_row_when_asked(seeded: tuple[Settings, int]) -> None:
    settings, asset_id = seeded
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        quiet = add_assets(conn, ["A2"])["A2"]
        frame = build_feature_frame(conn, SPEC, as_of=AS_OF + 48 * H, all_assets=True)
    assert sorted(frame.asset_id) == sorted([asset_id, quiet])
    assert frame["component_age_days"].notna().all()


def test_single_snapshot_sql_matches_the_window_frames(seeded: tuple[Settings, int]) -> None:
    settings, _ = seeded
    spec = FeatureSpec(bucket=H, short_window=2 * H, long_window=3 * H,
                       event_window=timedelta(days=1), snapshot_every=H,
                       baseline_window=6 * H)
    with psycopg.connect(settings.db_url) as conn:
        single = build_feature_frame(conn, spec, as_of=AS_OF)
        windows = build_feature_frame(conn, spec, as_of=AS_OF, first_snapshot=AS_OF - 5 * H)
    last = windows[windows.snapshot_at == AS_OF].reset_index(drop=True)
    assert list(single.columns) == list(last.columns)
    assert single.drop(columns=["days_to_failure"]).equals(
        last.drop(columns=["days_to_failure"]))
    # buckets 6.5 .. 9.5; baseline: buckets from 6 h to 4 h before as_of: 4.5, 5.5, 6.5
    assert single.temp__dev_short[0] == pytest.approx(9.0 - 5.5)
    assert single.temp__dev_long[0] == pytest.approx(8.5 - 5.5)


def test_ticket_labels_feed_the_raw_labels(seeded: tuple[Settings, int]) -> None:
    settings, asset_id = seeded
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        conn.cursor().executemany(
            "INSERT INTO failure_label (asset_id, component_type, failure_mode, time, failed,"
            " resolution_code) VALUES (%s, 'bearing', 'bearing_wear', %s, %s, %s)",
            [(asset_id, AS_OF - 2 * H, True, "confirmed_failure"),
             (asset_id, AS_OF - 3 * H, False, "no_fault_found")])
        frame = build_feature_frame(conn, SPEC, as_of=AS_OF, first_snapshot=AS_OF - 12 * H)
    row = frame[frame.snapshot_at == AS_OF - 4 * H].iloc[0]
    assert row.days_to_failure == pytest.approx(2 / 24)     # the confirmed ticket
    assert row.days_known_ok == pytest.approx(1 / 24)       # no fault found an hour later
    assert "days_known_ok" not in feature_columns(frame)


def test_part_replacements_count_as_maintenance(seeded: tuple[Settings, int]) -> None:
    """Imports and the field-service flow record replacements as ``part_replaced``."""
    settings, _ = seeded
    spec = FeatureSpec(bucket=H, short_window=2 * H, long_window=4 * H,
                       event_window=timedelta(days=4), snapshot_every=H)
    with psycopg.connect(settings.db_url) as conn:
        frame = build_feature_frame(conn, spec, as_of=AS_OF)
    assert frame["maintenance_events"].tolist() == [1.0]


def test_a_frame_with_more_windows_cut_to_a_spec_is_that_spec_s_frame(
        seeded: tuple[Settings, int]) -> None:
    settings, _ = seeded
    wide = replace(SPEC, mean_windows=(2 * H, 3 * H), slope_windows=(3 * H, 4 * H))
    narrow = replace(SPEC, mean_windows=(3 * H,), slope_windows=(4 * H,))
    with psycopg.connect(settings.db_url) as conn:
        every = build_feature_frame(conn, wide, as_of=AS_OF, first_snapshot=AS_OF - 8 * H)
        own = build_feature_frame(conn, narrow, as_of=AS_OF, first_snapshot=AS_OF - 8 * H)
    cut = restrict_to_spec(every, narrow)
    assert "temp__mean_2h" in every and "temp__slope_3h" in every
    assert list(cut.columns) == list(own.columns)
    pd.testing.assert_frame_equal(cut, own)
    # the short and long statistics stay, whatever the windows
    assert {"temp__mean_short", "temp__slope_long", "errors__E7"} <= set(cut.columns)


def test_fleet_ratio_counts_each_asset_once() -> None:
    """The fleet median is over assets, not frame rows: an asset with more component types
    in the frame does not weigh more (so scoring a few component types gives the ratios of
    the full frame)."""
    from assetwatch.models.prediction.features import _add_fleet_ratios

    at = AS_OF
    frame = pd.DataFrame({
        "asset_id": [1, 1, 1, 2, 3], "snapshot_at": [at] * 5, "model_id": ["M"] * 5,
        "component_type": ["bearing", "seal", "motor", "bearing", "bearing"],
        "temp__mean_short": [1.0, 1.0, 1.0, 2.0, 9.0]})
    _add_fleet_ratios(frame)
    assert frame["temp__vs_fleet"].tolist() == pytest.approx([0.5, 0.5, 0.5, 1.0, 4.5])
    only_bearings = frame[frame.component_type == "bearing"].drop(columns="temp__vs_fleet")
    _add_fleet_ratios(only_bearings)
    assert only_bearings["temp__vs_fleet"].tolist() == pytest.approx([0.5, 1.0, 4.5])
