"""Warranty claims: failures under warranty become claims with evidence, settled by the
supplier or by the RMA of the same serial; forecast against actual per month."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from parts_support import T0, install

from assetwatch.service.bom import repair_kit
from assetwatch.service.configuration import compute_warranty_forecast
from assetwatch.service.errors import WarrantyClaimError
from assetwatch.service.orders import cover_shortage
from assetwatch.service.returns import close_rma, process_returns
from assetwatch.service.ticket_lifecycle import close_ticket, open_ticket
from assetwatch.service.warranty_claims import (
    open_claim,
    open_warranty_claims,
    settle_claim,
    submit_claim,
)

Fleet = tuple[psycopg.Connection, dict[str, int]]
SEAL, BRG = "SEAL-M37G-45", "BRG-6309-C3"


def _failure(conn: psycopg.Connection, asset_id: int, component: str, mode: str,
             at: datetime) -> None:
    conn.execute("INSERT INTO asset_event (event_id, asset_id, time, kind, component_type,"
                 " code, detail) VALUES (%s, %s, %s, 'failure', %s, %s, %s)",
                 (f"F-{asset_id}-{component}-{at:%s}", asset_id, at, component, mode,
                  psycopg.types.json.Jsonb({"failure_mode": mode})))


def _claims(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT serial_no, part_no, supplier, failure_mode, state,"
                        " claimed_amount, recovered_amount FROM warranty_claim"
                        " ORDER BY claim_id").fetchall()


def test_a_failure_under_warranty_opens_one_claim_with_evidence(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    install(conn, pump, "mechanical_seal", "SEAL-A", SEAL, warranty_days=200)
    install(conn, pump, "bearing", "BRG-A", BRG, warranty_days=-5)       # out of warranty
    sensor = conn.execute("INSERT INTO sensor (asset_id, name, unit) VALUES (%s, 'flow',"
                          " 'm3/h') ON CONFLICT (asset_id, name) DO UPDATE SET unit = 'm3/h'"
                          " RETURNING sensor_id", (pump,)).fetchone()[0]
    failed = T0 + timedelta(days=2)
    conn.execute("INSERT INTO telemetry (time, asset_id, sensor_id, value)"
                 " SELECT %s - make_interval(hours => h), %s, %s, 195 - h"
                 " FROM generate_series(1, 48) AS h", (failed, pump, sensor))
    conn.execute("INSERT INTO anomaly_event (asset_id, detector, kind, started_at, peak_score,"
                 " sensors) VALUES (%s, 'hst', 'anomaly', %s, 0.97, '{flow}')",
                 (pump, failed - timedelta(hours=20)))
    _failure(conn, pump, "mechanical_seal", "seal_leak", failed)
    _failure(conn, pump, "bearing", "bearing_wear", failed)
    assert open_warranty_claims(conn, at=failed) == 1
    assert open_warranty_claims(conn, at=failed) == 0
    assert _claims(conn) == [("SEAL-A", SEAL, "SealTec AG", "seal_leak", "open",
                              Decimal("420.00"), None)]
    evidence = conn.execute("SELECT evidence FROM v_warranty_claim").fetchone()[0]
    assert evidence["telemetry"]["flow"]["readings"] == 48
    assert evidence["telemetry"]["flow"]["last"] == 194.0
    assert [a["peak_score"] for a in evidence["anomalies"]] == [0.97]
    claim_id = conn.execute("SELECT claim_id FROM warranty_claim").fetchone()[0]
    submit_claim(conn, claim_id)
    assert settle_claim(conn, claim_id, accepted=True, recovered=300) == Decimal(300)
    assert _claims(conn)[0][4:] == ("accepted", Decimal("420.00"), Decimal("300.00"))


def test_a_credited_rma_settles_the_claim_of_a_closed_ticket(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    install(conn, ids["a01-00"], "mechanical_seal", "SEAL-A", SEAL, warranty_days=200)
    ticket = open_ticket(conn, ids["a01-00"], "seal_leak", risk=0.8, at=T0,
                         kit=repair_kit(conn, "CP-200", "mechanical_seal"))
    cover_shortage(conn, ticket, at=T0)
    close_ticket(conn, ticket, resolution_code="confirmed_failure", at=T0)
    assert open_warranty_claims(conn) == 1            # the failed serial, not the new one
    assert _claims(conn)[0][0] == "SEAL-A"
    process_returns(conn, at=T0)                       # under warranty: an RMA
    return_id = conn.execute("SELECT return_id FROM part_return").fetchone()[0]
    close_rma(conn, return_id, accepted=True)
    assert _claims(conn)[0][4:] == ("accepted", Decimal("420.00"), Decimal("420.00"))


def test_bad_claims_are_one_clear_error_and_change_nothing(fleet_db: Fleet) -> None:
    conn, ids = fleet_db
    install(conn, ids["a01-00"], "bearing", "BRG-A", BRG, warranty_days=-5)
    install(conn, ids["a01-02"], "mechanical_seal", "SEAL-B", SEAL, warranty_days=100)
    with pytest.raises(WarrantyClaimError, match=r"BRG-A \(BRG-6309-C3\) warranty ended"
                                                 ".*out of warranty"):
        open_claim(conn, "BRG-A", T0)
    with pytest.raises(WarrantyClaimError, match="serial GHOST-1 was not installed"):
        open_claim(conn, "GHOST-1", T0)
    claim = open_claim(conn, "SEAL-B", T0, failure_mode="seal_leak")
    with pytest.raises(WarrantyClaimError, match="already claimed as WC-"):
        open_claim(conn, "SEAL-B", T0)
    with pytest.raises(WarrantyClaimError, match="must not be negative"):
        settle_claim(conn, claim, accepted=True, recovered=-1)
    assert _claims(conn) == [("SEAL-B", SEAL, "SealTec AG", "seal_leak", "open",
                              Decimal("420.00"), None)]


def test_forecast_and_actual_claims_per_month(fleet_db: Fleet, predict) -> None:
    conn, ids = fleet_db
    pump = ids["a01-00"]
    install(conn, pump, "mechanical_seal", "SEAL-A", SEAL, warranty_days=200)
    predict(conn, T0, {(pump, "mechanical_seal"): {30: 0.4}})
    compute_warranty_forecast(conn, as_of=T0, computed_at=T0)
    _failure(conn, pump, "mechanical_seal", "seal_leak", T0 + timedelta(days=9))
    open_warranty_claims(conn)
    month = conn.execute("SELECT month, forecast_claims, forecast_cost, actual_claims,"
                         " claimed_amount FROM v_warranty_claims_monthly").fetchall()
    assert len(month) == 1
    assert month[0][1] == pytest.approx(0.4, abs=1e-3)
    assert month[0][2] == Decimal("168.00") and month[0][3:] == (1, Decimal("420.00"))
