"""Asset detail: one asset's telemetry, anomaly scores and events, risks and configuration."""

from __future__ import annotations

from assetwatch.dashboards.spec import AnnotationSpec, DashboardSpec, PanelSpec, VariableSpec

__all__ = ["dashboard"]

_ASSET = "asset_tag = '$asset'"


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="aw-asset-detail",
        title="Asset detail",
        description="One asset: raw and downsampled telemetry per sensor, anomaly scores with "
                    "anomaly events as annotations, alarm events and operating states, "
                    "component risks and remaining life with intervals, installed components "
                    "and their history.",
        variables=(VariableSpec("asset", "Asset", "SELECT asset_tag FROM v_asset ORDER BY 1"),),
        annotations=(AnnotationSpec(
            "Anomaly events",
            "SELECT started_at AS time, coalesce(ended_at, now()) AS timeend,\n"
            "       detector || ' ' || kind || ', peak ' || round(peak_score::numeric, 2)\n"
            "         || coalesce(': ' || array_to_string(sensors, ', '), '') AS text,\n"
            "       kind AS tags\n"
            f"FROM v_anomaly_event WHERE {_ASSET}\n"
            "  AND started_at <= $__timeTo() AND coalesce(ended_at, now()) >= $__timeFrom()\n"
            "ORDER BY started_at"),),
        panels=(
            PanelSpec(
                "Telemetry (hourly means)", "timeseries", width=24, height=9,
                description="Hourly mean per sensor: the stored rollup (a continuous "
                            "aggregate where licensed) and, past its newest hour, computed live.",
                sql="SELECT time, metric, value FROM (\n"
                    "  SELECT bucket AS time, sensor AS metric, avg AS value\n"
                    f"  FROM v_telemetry_hourly WHERE {_ASSET} AND $__timeFilter(bucket)\n"
                    "  UNION ALL\n"
                    "  SELECT time_bucket('1 hour', time), sensor, avg(value)\n"
                    f"  FROM v_telemetry WHERE {_ASSET} AND $__timeFilter(time)\n"
                    "    AND time >= coalesce((SELECT max(bucket) + interval '1 hour'\n"
                    "                          FROM v_telemetry_hourly\n"
                    f"                          WHERE {_ASSET}), '-infinity')\n"
                    "  GROUP BY 1, 2) hourly\n"
                    "ORDER BY 1",
                columns=("time", "metric", "value")),
            PanelSpec(
                "Telemetry (raw readings)", "timeseries", width=24, height=9,
                description="Readings as stored (newest 20,000 in the range).",
                sql="SELECT time, sensor AS metric, value FROM (\n"
                    "  SELECT time, sensor, value FROM v_telemetry\n"
                    f"  WHERE {_ASSET} AND $__timeFilter(time)\n"
                    "  ORDER BY time DESC LIMIT 20000) newest\n"
                    "ORDER BY time",
                columns=("time", "metric", "value")),
            PanelSpec(
                "Anomaly score", "timeseries", width=24, height=7, max_value=1,
                thresholds=((None, "green"), (0.7, "orange"), (0.9, "red")),
                sql="SELECT $__timeGroupAlias(time, $__interval), detector AS metric,\n"
                    "       max(score) AS score\n"
                    f"FROM v_anomaly_score WHERE {_ASSET} AND $__timeFilter(time)\n"
                    "GROUP BY 1, 2 ORDER BY 1",
                columns=("time", "metric", "score")),
            PanelSpec(
                "Component risk and remaining life", "table", width=14, height=8,
                description="Newest prediction per component and horizon; remaining life with "
                            "its interval (days).",
                sql="SELECT component_type, horizon_days, failure_probability, rul_days,\n"
                    "       rul_low_days, rul_high_days, model_version, predicted_at\n"
                    f"FROM v_failure_risk WHERE {_ASSET}\n"
                    "ORDER BY failure_probability DESC, component_type, horizon_days",
                columns=("component_type", "horizon_days", "failure_probability", "rul_days",
                         "rul_low_days", "rul_high_days", "model_version", "predicted_at"),
                column_units=(("failure_probability", "percentunit"), ("rul_days", "d"),
                              ("rul_low_days", "d"), ("rul_high_days", "d"))),
            PanelSpec(
                "Remaining life (days)", "bargauge", width=10, height=8, unit="d",
                sql="SELECT component_type, min(rul_days) AS rul_days\n"
                    f"FROM v_failure_risk WHERE {_ASSET} AND rul_days IS NOT NULL\n"
                    "GROUP BY component_type ORDER BY 2",
                columns=("component_type", "rul_days"),
                thresholds=((None, "red"), (30, "orange"), (90, "green"))),
            PanelSpec(
                "Anomaly events", "table", width=12, height=8,
                description="Alarm events: onset, peak and end, the sensors that contributed "
                            "most, the operating state at onset, and acknowledgments with "
                            "their notes ('assetwatch detect ack EVENT --note ...'). An "
                            "acknowledged event that persists raises no new alarm until the "
                            "deviation changes.",
                sql="SELECT anomaly_event_id AS event, started_at, peak_at, ended_at, detector,\n"
                    "       kind, peak_score, array_to_string(sensors, ', ') AS sensors, state,\n"
                    "       acknowledged, ack_note\n"
                    f"FROM v_anomaly_event WHERE {_ASSET}\n"
                    "  AND started_at <= $__timeTo()\n"
                    "  AND coalesce(ended_at, now()) >= $__timeFrom()\n"
                    "ORDER BY started_at DESC",
                columns=("event", "started_at", "peak_at", "ended_at", "detector", "kind",
                         "peak_score", "sensors", "state", "acknowledged", "ack_note"),
                value_colors=(("acknowledged", "false", "red"),
                              ("acknowledged", "true", "green"))),
            PanelSpec(
                "Operating states", "table", width=12, height=8,
                description="Periods of operating state (stopped, starting, running, "
                            "stopping) and load regime, as the detector classified them: "
                            "standstill and start-up/shut-down transients are neither learned "
                            "nor alarmed on, and each load regime has its own baseline.",
                sql="SELECT min(time) AS started_at, max(time) AS last_seen, detector, state,\n"
                    "       regime, count(*) AS samples\n"
                    "FROM (SELECT time, detector, state, regime,\n"
                    "             count(*) FILTER (WHERE changed)\n"
                    "               OVER (PARTITION BY detector ORDER BY time) AS period\n"
                    "      FROM (SELECT time, detector, state, regime,\n"
                    "                   (state, regime) IS DISTINCT FROM\n"
                    "                   (lag(state) OVER w, lag(regime) OVER w) AS changed\n"
                    f"            FROM v_anomaly_score WHERE {_ASSET} AND state IS NOT NULL\n"
                    "              AND $__timeFilter(time)\n"
                    "            WINDOW w AS (PARTITION BY detector ORDER BY time)) marked\n"
                    "     ) periods\n"
                    "GROUP BY detector, period, state, regime\n"
                    "ORDER BY started_at DESC, detector LIMIT 200",
                columns=("started_at", "last_seen", "detector", "state", "regime", "samples"),
                value_colors=(("state", "running", "green"), ("state", "stopped", "blue"),
                              ("state", "starting", "orange"),
                              ("state", "stopping", "orange"))),
            PanelSpec(
                "Service tickets", "table", width=12, height=8,
                sql="SELECT ticket_id, failure_mode, status, priority, risk, due_at, opened_at,\n"
                    "       closed_at, resolution_code\n"
                    f"FROM v_service_ticket WHERE {_ASSET}\n"
                    "ORDER BY status = 'closed', priority, opened_at DESC",
                columns=("ticket_id", "failure_mode", "status", "priority", "risk", "due_at",
                         "opened_at", "closed_at", "resolution_code")),
            PanelSpec(
                "Installed components and history", "table", width=12, height=8,
                sql="SELECT component_type, serial_no, part_no, valid_from, valid_to, is_current,\n"
                    "       warranty_end, under_warranty\n"
                    f"FROM v_installed_component WHERE {_ASSET}\n"
                    "ORDER BY component_type, valid_from DESC",
                columns=("component_type", "serial_no", "part_no", "valid_from", "valid_to",
                         "is_current", "warranty_end", "under_warranty")),
            PanelSpec(
                "Configuration history", "table", width=12, height=8,
                description="Firmware, agent version and configuration hash over time, from "
                            "the device's birth messages.",
                sql="SELECT valid_from, valid_to, firmware, agent_version, config_hash\n"
                    f"FROM v_asset_configuration WHERE {_ASSET}\n"
                    "ORDER BY valid_from DESC",
                columns=("valid_from", "valid_to", "firmware", "agent_version", "config_hash")),
            PanelSpec(
                "Remote configuration", "table", width=12, height=8,
                description="What the server wants the agent to run (set and pushed with "
                            "'assetwatch edge config') against what the agent reported in "
                            "its last birth: accepted, or rejected with the reason. Drift: a "
                            "pushed configuration the agent does not run.",
                sql="SELECT drift, reported_state, reason, desired::text AS desired,\n"
                    "       desired_hash, active_hash, pushed_at, reported_at\n"
                    f"FROM v_asset_config WHERE {_ASSET}",
                columns=("drift", "reported_state", "reason", "desired", "desired_hash",
                         "active_hash", "pushed_at", "reported_at"),
                value_colors=(("drift", "true", "red"), ("drift", "false", "green"),
                              ("reported_state", "rejected", "red"))),
            PanelSpec(
                "Maintenance and failure events", "table", width=12, height=8,
                sql="SELECT time, kind, component_type, part_no, serial_removed,\n"
                    "       serial_installed, code, source\n"
                    f"FROM v_asset_event WHERE {_ASSET} AND $__timeFilter(time)\n"
                    "ORDER BY time DESC",
                columns=("time", "kind", "component_type", "part_no", "serial_removed",
                         "serial_installed", "code", "source")),
        ),
    )
