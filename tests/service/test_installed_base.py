"""One rule set for the installed base, whoever writes it: ingest or a closed ticket.

Each rule is checked through both callers: ingest's records (a birth or a ``part_replaced``
event, inside ingest's transaction) and ticket closing (``service.configuration``, a
transaction of its own).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from assetwatch.core.wire import AssetEvent, AssetStatus
from assetwatch.ingest import records
from assetwatch.service import configuration

T0 = datetime(2026, 1, 31, 12, tzinfo=UTC)
Fleet = tuple[psycopg.Connection, dict[str, int]]
Replace = Callable[..., bool]


def _by_ingest(conn: psycopg.Connection, asset_id: int, component_type: str, serial: str,
               at: datetime, part_no: str | None = None) -> bool:
    event = AssetEvent(f"ev-{asset_id}-{component_type}-{serial}-{at.timestamp()}",
                       int(at.timestamp() * 1000), "part_replaced",
                       component_type=component_type, part_no=part_no,
                       serial_installed=serial)
    before = _serials(conn, asset_id, component_type)
    with conn.transaction(), conn.cursor() as cur:
        records.apply_event(cur, asset_id, event)
    return _serials(conn, asset_id, component_type) != before


def _by_ticket(conn: psycopg.Connection, asset_id: int, component_type: str, serial: str,
               at: datetime, part_no: str | None = None) -> bool:
    return configuration.replace_component(conn, asset_id, component_type,
                                           serial_installed=serial, at=at, part_no=part_no)


def _serials(conn: psycopg.Connection, asset_id: int, component_type: str) -> list[tuple]:
    return conn.execute(
        "SELECT serial_no, part_no, valid_from, valid_to, warranty_end FROM installed_component"
        " WHERE asset_id = %s AND component_type = %s ORDER BY valid_from",
        (asset_id, component_type)).fetchall()


CALLERS = pytest.mark.parametrize("replace", [_by_ingest, _by_ticket], ids=["ingest", "ticket"])


@CALLERS
def test_replacement_history_and_warranty(fleet_db: Fleet, replace: Replace) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    assert replace(conn, pump, "bearing", "B1", T0, "BRG-6309-C3")
    assert not replace(conn, pump, "bearing", "B1", T0 + timedelta(hours=1))  # idempotent
    later = T0 + timedelta(days=30)
    assert replace(conn, pump, "bearing", "B2", later)  # keeps the replaced part number
    assert _serials(conn, pump, "bearing") == [
        ("B1", "BRG-6309-C3", T0, later, date(2027, 1, 31)),           # 12 months
        ("B2", "BRG-6309-C3", later, None, date(2027, 3, 2))]
    assert replace(conn, pump, "oil_separator", "S1", T0, "SEP-OIL-75")
    assert _serials(conn, pump, "oil_separator")[0][4] == date(2026, 7, 31)  # 31 Jan + 6 m
    assert replace(conn, pump, "seal_ring", "R1", T0, "ORING-52X3-FKM")  # a new type
    assert _serials(conn, pump, "seal_ring")[0][4] is None              # no warranty


@CALLERS
def test_an_older_change_is_ignored(fleet_db: Fleet, replace: Replace) -> None:
    conn, ids = fleet_db
    pump = ids["a01-01"]
    assert replace(conn, pump, "motor", "M2", T0, "MTR-15KW-2P")
    assert not replace(conn, pump, "motor", "M1", T0 - timedelta(days=1), "MTR-15KW-2P")
    assert [r[0] for r in _serials(conn, pump, "motor")] == ["M2"]


@CALLERS
def test_an_unknown_part_is_recorded_without_number_and_warned(
        fleet_db: Fleet, replace: Replace, caplog: pytest.LogCaptureFixture) -> None:
    conn, ids = fleet_db
    pump = ids["a01-02"]
    with caplog.at_level(logging.WARNING, logger="assetwatch.core.installed_base"):
        assert replace(conn, pump, "bearing", "B9", T0, "NO-SUCH-PART")
    assert _serials(conn, pump, "bearing")[0][:2] == ("B9", None)
    assert "unknown part 'NO-SUCH-PART'" in caplog.text


def test_a_birth_through_ingest_and_through_the_service_agree(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    components = [{"component_type": "bearing", "serial_no": "B1", "part_no": "BRG-6309-C3"},
                  {"component_type": "motor", "serial_no": "M1", "part_no": "MTR-15KW-2P"}]
    via_ingest, via_service = ids["a02-00"], ids["a02-01"]
    with conn.transaction(), conn.cursor() as cur:
        records.apply_status(cur, via_ingest, AssetStatus(
            "online", int(T0.timestamp() * 1000), firmware="1.0", config_hash="abc",
            components=components))
    assert configuration.apply_status(conn, via_service, T0, firmware="1.0",
                                      config_hash="abc", components=components) == 3

    def state(asset_id: int) -> list[tuple]:
        return conn.execute(
            "SELECT component_type, serial_no, part_no, valid_from, warranty_end"
            " FROM installed_component WHERE asset_id = %s ORDER BY 1", (asset_id,)).fetchall()

    assert state(via_ingest) == state(via_service)
    assert len(state(via_ingest)) == 2
