"""Configuration records: birth messages, replacements, warranty and the claims forecast."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.service.configuration import (
    apply_status,
    compute_warranty_forecast,
    replace_component,
)

T0 = datetime(2026, 1, 31, 12, tzinfo=UTC)
Fleet = tuple[psycopg.Connection, dict[str, int]]


def test_birth_messages_build_the_installed_base_over_time(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    components = [{"component_type": "bearing", "serial_no": "B1", "part_no": "BRG-6309-C3"},
                  {"component_type": "motor", "serial_no": "M1", "part_no": "MTR-15KW-2P"},
                  {"component_type": "unknown_thing", "serial_no": "X"}]
    assert apply_status(conn, pump, T0, firmware="1.0", config_hash="abc",
                        components=components) == 4  # a new component type is registered
    # the same birth again (redelivered, retained) changes nothing
    assert apply_status(conn, pump, T0 + timedelta(hours=1), firmware="1.0",
                        config_hash="abc", components=components) == 0
    later = T0 + timedelta(days=30)
    components[0] = {"component_type": "bearing", "serial_no": "B2"}
    assert apply_status(conn, pump, later, firmware="1.1", config_hash="abc",
                        components=components) == 2
    history = conn.execute("SELECT serial_no, valid_from, valid_to, part_no FROM"
                           " v_installed_component WHERE asset_id = %s AND component_type ="
                           " 'bearing' ORDER BY valid_from", (pump,)).fetchall()
    assert history == [("B1", T0, later, "BRG-6309-C3"), ("B2", later, None, "BRG-6309-C3")]
    firmware = conn.execute("SELECT firmware, valid_to FROM v_asset_configuration"
                            " WHERE asset_id = %s ORDER BY valid_from", (pump,)).fetchall()
    assert firmware == [("1.0", later), ("1.1", None)]
    assert not replace_component(conn, pump, "bearing", serial_installed="B2", at=later)


def test_warranty_claims_forecast(fleet_db: Fleet, predict: Callable[..., None]) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    as_of = datetime(2026, 3, 1, tzinfo=UTC)
    replace_component(conn, pump, "bearing", serial_installed="B1", part_no="BRG-6309-C3",
                      at=as_of - timedelta(days=300))    # warranty ends in ~65 days
    replace_component(conn, pump, "motor", serial_installed="M1", part_no="MTR-15KW-2P",
                      at=as_of - timedelta(days=800))    # out of warranty
    predict(conn, as_of, {(pump, "bearing"): {30: 0.2, 90: 0.5},
                          (pump, "motor"): {30: 0.5, 90: 0.9}})
    assert compute_warranty_forecast(conn, as_of=as_of) == 1
    row = conn.execute("SELECT component_type, failure_probability, expected_claim_cost"
                       " FROM v_warranty_claim_forecast").fetchone()
    assert row[0] == "bearing"
    assert 0.3 < row[1] < 0.5
    assert float(row[2]) == pytest.approx(row[1] * 85.0, abs=0.01)
