"""A small seeded fleet for the dashboard, report and read-only-role tests (fixtures
``seeded_settings`` and ``seeded_at``, made available to every test by ``tests/conftest.py``).

:func:`seed_fleet` is the one place that fills the database: three assets on two sites with two
days of telemetry, scores, anomaly events, predictions, parts demand, inventory policy, tickets,
ingest ledger rows, dead letters, flow runs, stock with reservations and shortages, and
replenishment orders, all ending at the time of seeding, so every
panel's query has rows to return.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from assetwatch.core.settings import Settings

ASSETS = (("COMP-01", "S2", "SC-75"), ("PUMP-01", "S1", "CP-200"), ("PUMP-02", "S1", "CP-200"))
SENSORS = (("vibration_rms", "mm/s", 2.2), ("bearing_temp", "degC", 55.0))
COMPONENTS = (("bearing", "bearing_wear", "BRG-6309-C3", 45.0),
              ("mechanical_seal", "seal_leak", "SEAL-M37G-45", 120.0))


def seed_fleet(conn: psycopg.Connection) -> datetime:
    """Fill an empty, migrated database with a tiny fleet; return the seeding time (UTC)."""
    now = conn.execute("SELECT date_trunc('minute', now())").fetchone()[0]
    run = conn.execute
    run("INSERT INTO site (site_id, name, customer) VALUES ('S1', 'Plant North', 'Acme'),"
        " ('S2', 'Plant South', 'Acme')")
    run("INSERT INTO asset_model (model_id, kind) VALUES ('CP-200', 'centrifugal_pump'),"
        " ('SC-75', 'screw_compressor')")
    for component, mode, part_no, cost in COMPONENTS:
        run("INSERT INTO component_type (component_type) VALUES (%s)", (component,))
        run("INSERT INTO failure_mode (failure_mode, component_type) VALUES (%s, %s)",
            (mode, component))
        run("INSERT INTO part (part_no, description, unit_cost, warranty_months)"
            " VALUES (%s, %s, %s, 24)", (part_no, f"{component} replacement", cost))
    ids = {}
    for tag, site, model in ASSETS:
        ids[tag] = run("INSERT INTO asset (asset_tag, site_id, model_id, online)"
                       " VALUES (%s, %s, %s, true) RETURNING asset_id",
                       (tag, site, model)).fetchone()[0]
        for sensor, unit, _ in SENSORS:
            run("INSERT INTO sensor (asset_id, name, unit) VALUES (%s, %s, %s)",
                (ids[tag], sensor, unit))
    run("""
        INSERT INTO telemetry (time, asset_id, sensor_id, value)
        SELECT t, se.asset_id, se.sensor_id,
               CASE se.name WHEN 'vibration_rms' THEN 2.2 ELSE 55.0 END
               * (1 + 0.05 * sin(extract(epoch FROM t) / 3600.0) + 0.01 * se.asset_id)
        FROM sensor se, generate_series(%(now)s - interval '2 days', %(now)s - interval '5 min',
                                        interval '10 minutes') AS t""", {"now": now})
    run("""
        INSERT INTO anomaly_score (time, asset_id, detector, score, state, regime)
        SELECT t, a.asset_id, d, least(1, 0.1 + 0.8 * (extract(epoch FROM t - (%(now)s
                 - interval '2 days')) / 172800.0) * (a.asset_id %% 2)),
               CASE WHEN t BETWEEN %(now)s - interval '20 hours' AND %(now)s - interval '18 hours'
                    THEN 'stopped'
                    WHEN t BETWEEN %(now)s - interval '18 hours' AND %(now)s - interval '17 hours'
                    THEN 'starting' ELSE 'running' END,
               CASE WHEN t > %(now)s - interval '8 hours' THEN 1 ELSE 0 END
        FROM asset a, unnest(ARRAY['hst', 'zscore']) AS d,
             generate_series(%(now)s - interval '2 days', %(now)s - interval '10 min',
                             interval '30 minutes') AS t""", {"now": now})
    for tag, asset_id in ids.items():
        _seed_asset(conn, now, tag, asset_id)
    _seed_models_and_demand(conn, now, ids)
    _seed_pipeline(conn, now)
    _seed_parts(conn, now)
    _seed_field_service(conn, now)
    run("SELECT refresh_telemetry_hourly()")
    return now


def _seed_asset(conn: psycopg.Connection, now: datetime, tag: str, asset_id: int) -> None:
    run = conn.execute
    run("INSERT INTO anomaly_event (asset_id, detector, kind, started_at, ended_at, peak_score,"
        " sensors, peak_at, state, acknowledged_at, ack_note)"
        " VALUES (%s, 'hst', 'anomaly', %s - interval '30 hours',"
        " %s - interval '26 hours', 0.93, ARRAY['vibration_rms'], %s - interval '29 hours',"
        " 'running', %s - interval '28 hours', 'inspected: loose mounting bolt'),"
        " (%s, 'hst', 'anomaly', %s - interval '3 hours', NULL, 0.97,"
        " ARRAY['vibration_rms', 'bearing_temp'], %s - interval '2 hours', 'running', NULL, NULL)",
        (asset_id, now, now, now, now, asset_id, now, now))
    run("INSERT INTO asset_configuration (asset_id, firmware, agent_version, config_hash,"
        " valid_from, valid_to) VALUES (%s, '1.4.2', '0.1.0', 'c0ffee', %s - interval '30 days',"
        " %s - interval '2 days'), (%s, '1.5.0', '0.1.0', 'beef01', %s - interval '2 days', NULL)",
        (asset_id, now, now, asset_id, now))
    run("INSERT INTO asset_config_desired (asset_id, document, document_hash, set_at, pushed_at)"
        " VALUES (%s, '{\"sampling_interval_s\": 60}', 'a1b2c3d4e5f60718',"
        " %s - interval '1 day', %s - interval '1 day')", (asset_id, now, now))
    run("INSERT INTO asset_config_reported (asset_id, reported_at, state, reason, active_hash)"
        " VALUES (%s, %s - interval '20 hours', 'rejected', 'sampling_interval_s: must be a"
        " number between 0.001 and 86400', '44136fa355b3678a')", (asset_id, now))
    run("INSERT INTO ticket_overflow (at, site_id, asset_id, failure_mode, risk, priority, reason)"
        " SELECT %s - interval '1 day', site_id, asset_id, 'seal_leak', 0.3, 3,"
        " 'daily ticket cap of the site reached' FROM asset WHERE asset_id = %s",
        (now, asset_id))
    run("INSERT INTO detector_checkpoint (asset_id, detector, state, scored_until)"
        " VALUES (%s, 'hst', '\\x00', %s - interval '15 min')", (asset_id, now))
    for component, _, part_no, _ in COMPONENTS:
        run("INSERT INTO installed_component (asset_id, component_type, serial_no, part_no,"
            " valid_from, valid_to) VALUES (%s, %s, %s, %s, %s - interval '400 days',"
            " %s - interval '20 days')",
            (asset_id, component, f"{tag}-{component}-1", part_no, now, now))
        run("INSERT INTO installed_component (asset_id, component_type, serial_no, part_no,"
            " valid_from, warranty_end) VALUES (%s, %s, %s, %s, %s - interval '20 days',"
            " (%s + interval '700 days')::date)",
            (asset_id, component, f"{tag}-{component}-2", part_no, now, now))
    run("INSERT INTO asset_event (event_id, asset_id, time, kind, component_type, part_no,"
        " serial_removed, serial_installed) VALUES"
        " (%s, %s, %s - interval '20 days', 'part_replaced', 'bearing', 'BRG-6309-C3', %s, %s),"
        " (%s, %s, %s - interval '20 days' - interval '2 hours', 'failure', 'bearing', NULL,"
        " NULL, NULL), (%s, %s, %s - interval '1 day', 'maintenance', NULL, NULL, NULL, NULL)",
        (f"{tag}-e1", asset_id, now, f"{tag}-bearing-1", f"{tag}-bearing-2",
         f"{tag}-e2", asset_id, now, f"{tag}-e3", asset_id, now))
    tickets = (  # failure_mode, status, priority, opened days ago, closed days ago, resolution
        ("bearing_wear", "closed", 2, 40, 30, "confirmed_failure"),
        ("bearing_wear", "closed", 2, 25, 21, "confirmed_failure"),
        ("seal_leak", "closed", 3, 50, 45, "no_fault_found"),
        ("bearing_wear", "open", 1, 2, None, None),
        ("seal_leak", "scheduled", 3, 9, None, None),
    )
    for mode, status, priority, opened, closed, resolution in tickets:
        run("INSERT INTO service_ticket (asset_id, failure_mode, status, priority, risk, due_at,"
            " opened_at, closed_at, resolution_code, kit) VALUES (%s, %s, %s, %s, 0.6,"
            " %s + interval '3 days', %s - make_interval(days => %s),"
            " %s - make_interval(days => %s), %s, '[{\"part_no\": \"BRG-6309-C3\", \"qty\": 1}]')",
            (asset_id, mode, status, priority, now, now, opened, now,
             closed, resolution))


def _seed_models_and_demand(conn: psycopg.Connection, now: datetime, ids: dict[str, int]) -> None:
    run = conn.execute
    versions = {}
    for component, *_ in COMPONENTS:
        versions[component] = run(
            "INSERT INTO model_version (model_name, component_type, version, train_from,"
            " train_to, metrics, is_current) VALUES ('failure-risk', %s, 1,"
            " %s - interval '200 days', %s - interval '1 day',"
            " '{\"auc\": 0.84, \"brier\": 0.07, \"positives\": 12}', true)"
            " RETURNING model_version_id", (component, now, now)).fetchone()[0]
        run("INSERT INTO model_audit (at, model_version_id, action, actor, reason)"
            " VALUES (%s - interval '1 day', %s, 'promoted', 'train flow', 'no current version')",
            (now, versions[component]))
    challenger = run(
        "INSERT INTO model_version (model_name, component_type, version, metrics, shadow_from,"
        " shadow_until) VALUES ('failure-risk', 'bearing', 2, '{\"score\": 0.61}',"
        " %s - interval '2 days', %s + interval '12 days') RETURNING model_version_id",
        (now, now)).fetchone()[0]
    run("INSERT INTO model_comparison (compared_at, challenger_id, champion_id, predictions,"
        " outcomes, challenger_score, champion_score, decision, reason) VALUES"
        " (%s, %s, %s, 40, 1, 0.7, 0.6, 'wait', 'in shadow')",
        (now, challenger, versions["bearing"]))
    for n, asset_id in enumerate(ids.values()):
        for component, *_ in COMPONENTS:
            for horizon in (7, 30):
                p = min(0.95, 0.05 + 0.2 * n + (0.3 if component == "bearing" else 0)
                        + (0.15 if horizon == 30 else 0))
                run("INSERT INTO failure_prediction (predicted_at, asset_id, component_type,"
                    " horizon_days, failure_probability, rul_days, rul_low_days, rul_high_days,"
                    " model_version_id) VALUES (%s - interval '1 hour', %s, %s, %s, %s, %s,"
                    " %s, %s, %s)",
                    (now, asset_id, component, horizon, p, 60 - 40 * p, 30 - 20 * p,
                     90 - 40 * p, versions[component]))
        run("INSERT INTO warranty_claim_forecast (computed_at, asset_id, component_type,"
            " serial_no, part_no, warranty_end, failure_probability, expected_claim_cost)"
            " VALUES (%s, %s, 'bearing', %s, 'BRG-6309-C3', (%s + interval '700 days')::date,"
            " 0.3, 13.5)", (now, asset_id, f"asset{asset_id}-bearing-2", now))
    for _, _, part_no, _ in COMPONENTS:
        for site, on_hand in (("S1", 1), ("S2", 4)):
            for week in range(4):
                run("INSERT INTO parts_demand (computed_at, part_no, site_id, period_start,"
                    " period_end, expected_qty, upper_qty, planned_qty) VALUES (%s, %s, %s,"
                    " (%s + make_interval(weeks => %s))::date,"
                    " (%s + make_interval(weeks => %s + 1))::date, %s, %s, 0.5)",
                    (now, part_no, site, now, week, now, week, 0.4 + 0.1 * week,
                     1.0 + 0.5 * week))
            run("INSERT INTO inventory_policy (computed_at, part_no, site_id, lead_time_days,"
                " service_level, demand_per_day, demand_sd_per_day, safety_stock,"
                " reorder_point, kanban_bin_qty, kanban_cards, on_hand, stockout_risk,"
                " overstock) VALUES (%s, %s, %s, 14, 0.95, 0.1, 0.05, 1.2, 2.6, 2, 2, %s,"
                " %s, false)", (now, part_no, site, on_hand, on_hand < 2))


def _seed_pipeline(conn: psycopg.Connection, now: datetime) -> None:
    run = conn.execute
    run("""
        INSERT INTO ingest_batch (asset_id, seq, readings, first_reading_at, last_reading_at,
                                  received_at, committed_at)
        SELECT a.asset_id, s, 20, %(now)s - make_interval(mins => 600 - s * 5) - interval '5 min',
               %(now)s - make_interval(mins => 600 - s * 5),
               %(now)s - make_interval(mins => 600 - s * 5) + interval '1 second',
               %(now)s - make_interval(mins => 600 - s * 5) + interval '2 seconds'
        FROM asset a, generate_series(1, 120) AS s
        WHERE s <> 50 OR a.asset_tag <> 'PUMP-02'""", {"now": now})
    run("UPDATE ingest_batch SET duplicate_readings = 3 WHERE seq = 100")
    run("INSERT INTO ingest_worker (client_id, host, pool_pid, pid, state, restarts, last_exit,"
        " last_exit_code, last_exit_at, last_restart_at, started_at, seen_at) VALUES"
        " ('ingest-0', 'gw', 10, 11, 'running', 0, NULL, NULL, NULL, NULL,"
        "  %(now)s - interval '2 hours', now()),"
        " ('ingest-1', 'gw', 10, 14, 'running', 1, 'killed by SIGKILL', -9,"
        "  %(now)s - interval '1 hour', %(now)s - interval '1 hour', %(now)s - interval '1 hour',"
        "  now())", {"now": now})
    run("INSERT INTO dead_letter (received_at, topic, payload, reason) VALUES"
        " (%s - interval '2 hours', 'aw/v1/S1/PUMP-01/telemetry', '\\x7b7d',"
        " 'schema: readings is required'),"
        " (%s - interval '1 hour', 'aw/v1/S1/GHOST/telemetry', '\\x7b2278223a317d',"
        " 'unknown asset GHOST')", (now, now))
    run("INSERT INTO flow_run_state (flow_run_id, flow_name, state, state_name, started_at,"
        " ended_at, message, updated_at) VALUES"
        " ('r1', 'score', 'COMPLETED', 'Completed', %s - interval '2 hours',"
        "  %s - interval '119 minutes', NULL, %s - interval '119 minutes'),"
        " ('r2', 'demand', 'FAILED', 'Failed', %s - interval '1 hour', %s - interval '59 minutes',"
        "  'database unavailable', %s - interval '59 minutes'),"
        " ('r3', 'tickets', 'RUNNING', 'Running', %s - interval '1 minute', NULL, NULL, %s)",
        (now,) * 8)


def _seed_parts(conn: psycopg.Connection, now: datetime) -> None:
    """Stock, the open tickets' reservations (S1 runs short of bearings), a two-bin rule with
    a released card, and a partly received order, all through the service API."""
    from assetwatch.service.orders import approve_order, place_order, receive_order
    from assetwatch.service.replenishment import evaluate_replenishment, set_rule
    from assetwatch.service.reservations import reserve_kit
    from assetwatch.service.stock_ledger import move_stock

    conn.execute("INSERT INTO stock (part_no, site_id, on_hand) VALUES"
                 " ('BRG-6309-C3', 'S1', 1), ('BRG-6309-C3', 'S2', 5),"
                 " ('SEAL-M37G-45', 'S1', 2), ('SEAL-M37G-45', 'S2', 2)")
    conn.execute("UPDATE part SET default_lead_time_days = 14, supplier = 'Bearings & Co'")
    for (ticket_id,) in conn.execute("SELECT ticket_id FROM service_ticket"
                                     " WHERE status <> 'closed' ORDER BY ticket_id").fetchall():
        reserve_kit(conn, ticket_id, at=now)
    set_rule(conn, "SEAL-M37G-45", "S1", "kanban", bin_qty=1, cards=2)
    move_stock(conn, "SEAL-M37G-45", "S1", -1, "adjustment", at=now, reference="count")
    evaluate_replenishment(conn, at=now)
    order = place_order(conn, "BRG-6309-C3", "S2", 4, kind="reorder_point",
                        at=now - timedelta(days=3), reason="seeded")
    approve_order(conn, order, at=now - timedelta(days=3))
    receive_order(conn, order, 1, at=now - timedelta(hours=5))
    _seed_returns_and_claims(conn, now)


def _seed_returns_and_claims(conn: psycopg.Connection, now: datetime) -> None:
    """Each asset's removed bearing: PUMP-01's under warranty (a claim, an RMA credited),
    PUMP-02's repaired, COMP-01's no fault found; through the service API."""
    from assetwatch.service.returns import (
        close_rma,
        inspect_return,
        process_returns,
        register_removals,
    )
    from assetwatch.service.warranty_claims import open_warranty_claims

    conn.execute("UPDATE part SET repairable = true, repair_turnaround_days = 10,"
                 " repair_cost = 30 WHERE part_no = 'BRG-6309-C3'")
    conn.execute("UPDATE installed_component SET warranty_end = (%s - interval '10 days')::date"
                 " WHERE serial_no = 'PUMP-01-bearing-1'", (now,))
    conn.execute("INSERT INTO warranty_claim_forecast (computed_at, asset_id, component_type,"
                 " serial_no, part_no, warranty_end, failure_probability, expected_claim_cost,"
                 " month_probability, expected_month_cost) SELECT %s - interval '25 days',"
                 " asset_id, 'bearing', serial_no, part_no, warranty_end, 0.5, 22.5, 0.4, 18"
                 " FROM installed_component WHERE serial_no = 'PUMP-01-bearing-1'", (now,))
    open_warranty_claims(conn, at=now)
    register_removals(conn)
    returns = dict(conn.execute("SELECT serial_no, return_id FROM part_return").fetchall())
    inspect_return(conn, returns["COMP-01-bearing-1"], fault_found=False, at=now)
    process_returns(conn, at=now - timedelta(days=1))
    close_rma(conn, returns["PUMP-01-bearing-1"], accepted=True, at=now)


def _seed_field_service(conn: psycopg.Connection, now: datetime) -> None:
    """Two technicians, a plan with today's visit to PUMP-01, two done visits for its bearing
    (the first one repeated within 30 days), SLA events."""
    run = conn.execute
    run("UPDATE site SET latitude = 48.1 + (site_id = 'S2')::int * 0.3, longitude = 11.5,"
        " response_hours = 8, restore_hours = 48")
    run("INSERT INTO technician (technician_id, name, home_base, home_latitude, home_longitude)"
        " VALUES ('T1', 'Ana Field', 'North depot', 48.0, 11.4),"
        " ('T2', 'Ben Field', 'South depot', 48.5, 11.6)")
    run("INSERT INTO technician_skill (technician_id, model_id) VALUES ('T1', 'CP-200'),"
        " ('T1', 'SC-75'), ('T2', 'SC-75')")
    run("INSERT INTO technician_shift (technician_id, weekday, starts, ends)"
        " SELECT t, d, '07:00', '17:00' FROM unnest(ARRAY['T1', 'T2']) t,"
        " generate_series(1, 5) d")
    plan = run("INSERT INTO dispatch_plan (made_at, horizon_start, horizon_end, solver,"
               " work_items, planned_items, seconds, sla_items, sla_met, travel_minutes,"
               " work_minutes, available_minutes) VALUES (%s, %s, %s + interval '5 days',"
               " 'ortools-routing', 3, 3, 1.5, 2, 2, 80, 300, 3000) RETURNING plan_id",
               (now, now, now)).fetchone()[0]
    run("INSERT INTO dispatch_capacity (plan_id, technician_id, day, available_minutes,"
        " work_minutes, travel_minutes) VALUES (%s, 'T1', %s::date, 600, 240, 60),"
        " (%s, 'T2', %s::date, 600, 60, 20)", (plan, now, plan, now))
    pump = run("SELECT asset_id FROM asset WHERE asset_tag = 'PUMP-01'").fetchone()[0]
    tickets = [r[0] for r in run(
        "SELECT ticket_id FROM service_ticket WHERE asset_id = %s AND failure_mode ="
        " 'bearing_wear' ORDER BY opened_at", (pump,))]
    for days_ago, ticket, status in ((29, tickets[0], "done"), (21, tickets[1], "done"),
                                     (0, tickets[2], "planned")):
        visit = run(
            "INSERT INTO visit (plan_id, technician_id, site_id, starts_at, ends_at,"
            " travel_minutes, kit, status, finished_at, on_site_minutes) VALUES"
            " (%s, 'T1', 'S1', %s - make_interval(days => %s),"
            " %s - make_interval(days => %s) + interval '90 minutes', 35,"
            " '[{\"part_no\": \"BRG-6309-C3\", \"qty\": 1}]', %s,"
            " CASE WHEN %s = 'done' THEN %s - make_interval(days => %s) END,"
            " CASE WHEN %s = 'done' THEN 85 END) RETURNING visit_id",
            (plan, now, days_ago, now, days_ago, status, status, now, days_ago,
             status)).fetchone()[0]
        run("INSERT INTO visit_work (visit_id, ticket_id) VALUES (%s, %s)", (visit, ticket))
        if status == "done":
            run("INSERT INTO visit_part_return (visit_id, part_no, kit_qty, used_qty,"
                " returned_qty) VALUES (%s, 'BRG-6309-C3', 1, 1, 0)", (visit,))
    run("INSERT INTO sla_event (ticket_id, clock, state, deadline, recorded_at) VALUES"
        " (%s, 'response', 'near_breach', %s + interval '1 hour', %s - interval '1 day'),"
        " (%s, 'response', 'breached', %s - interval '2 hours', %s - interval '3 hours')",
        (tickets[2], now, now, tickets[2], now, now))


@pytest.fixture(scope="session")
def seeded_settings(make_database: Callable[[], Settings]) -> Settings:
    """A database of its own, migrated and seeded with :func:`seed_fleet`."""
    settings = make_database()
    with psycopg.connect(settings.db_url, autocommit=True) as conn:
        seeded_at = seed_fleet(conn)
    assert seeded_at.tzinfo is not None
    return settings


@pytest.fixture(scope="session")
def seeded_at(seeded_settings: Settings) -> datetime:
    """When the seeded fleet's data ends (now, at seeding)."""
    with psycopg.connect(seeded_settings.db_url) as conn:
        newest = conn.execute("SELECT max(time) FROM telemetry").fetchone()[0]
    return newest.astimezone(UTC)
