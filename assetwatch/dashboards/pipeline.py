"""Pipeline health: ingest throughput and lag, repeated readings, the ingest worker pool, dead
letters, completeness, detectors, flows."""

from __future__ import annotations

from assetwatch.dashboards.spec import DashboardSpec, PanelSpec

__all__ = ["dashboard"]


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="aw-pipeline-health",
        title="Pipeline health",
        description="Ingest rows per second and lag, repeated readings, the ingest worker "
                    "pool, dead letters with reasons, per-device completeness (sequence gaps), "
                    "detector lag and flow run states.",
        time_from="now-24h",
        refresh="30s",
        panels=(
            PanelSpec(
                "Ingest rows/s", "timeseries", width=12, height=8, unit="rowsps",
                sql="SELECT $__timeGroupAlias(committed_at, $__interval),\n"
                    "       sum(readings) / ($__interval_ms / 1000.0) AS rows_per_s\n"
                    "FROM v_ingest_batch WHERE $__timeFilter(committed_at)\n"
                    "GROUP BY 1 ORDER BY 1",
                columns=("time", "rows_per_s")),
            PanelSpec(
                "Ingest lag", "timeseries", width=12, height=8, unit="s",
                description="From a batch's newest reading to its commit.",
                sql="SELECT $__timeGroupAlias(committed_at, $__interval),\n"
                    "       avg(lag_s) AS mean_lag_s, max(lag_s) AS max_lag_s\n"
                    "FROM v_ingest_batch WHERE $__timeFilter(committed_at)\n"
                    "GROUP BY 1 ORDER BY 1",
                columns=("time", "mean_lag_s", "max_lag_s")),
            PanelSpec(
                "Repeated readings", "timeseries", width=12, height=8, unit="short",
                description="Readings that arrived again (same asset, time and sensor) and "
                            "were not stored a second time: inside a batch, or re-sent by a "
                            "device under a new sequence number. The first value is kept.",
                sql="SELECT $__timeGroupAlias(committed_at, $__interval),\n"
                    "       sum(duplicate_readings) AS repeated_readings,\n"
                    "       count(*) FILTER (WHERE duplicate_readings > 0) AS batches\n"
                    "FROM v_ingest_batch WHERE $__timeFilter(committed_at)\n"
                    "GROUP BY 1 ORDER BY 1",
                columns=("time", "repeated_readings", "batches")),
            PanelSpec(
                "Ingest workers", "table", width=12, height=8,
                description="The supervised worker pool: a worker that dies is restarted with "
                            "its client id (back-off 1 s doubling to 60 s); 'lost': its pool has "
                            "not reported for a minute.",
                sql="SELECT client_id, host, pid, state, restarts, last_exit, last_exit_at,\n"
                    "       last_restart_at, started_at, up_s\n"
                    "FROM v_ingest_worker\n"
                    "ORDER BY state <> 'running' DESC, client_id",
                columns=("client_id", "host", "pid", "state", "restarts", "last_exit",
                         "last_exit_at", "last_restart_at", "started_at", "up_s"),
                column_units=(("up_s", "s"),),
                value_colors=(("state", "running", "green"), ("state", "restarting", "orange"),
                              ("state", "lost", "red"))),
            PanelSpec(
                "Dead letters by reason", "table", width=12, height=8,
                description="Reasons with indices and quoted names folded into classes.",
                sql="SELECT reason_class, sum(dead_letters) AS messages,\n"
                    "       sum(replayed) AS replayed, min(example_reason) AS example_reason,\n"
                    "       max(minute) AS last_minute\n"
                    "FROM v_dead_letter_rate WHERE $__timeFilter(minute)\n"
                    "GROUP BY reason_class ORDER BY messages DESC",
                columns=("reason_class", "messages", "replayed", "example_reason",
                         "last_minute")),
            PanelSpec(
                "Dead letters", "timeseries", width=12, height=8,
                sql="SELECT $__timeGroupAlias(received_at, $__interval), count(*) AS "
                    "dead_letters\n"
                    "FROM v_dead_letter WHERE $__timeFilter(received_at)\n"
                    "GROUP BY 1 ORDER BY 1",
                columns=("time", "dead_letters")),
            PanelSpec(
                "Per-device completeness", "table", width=12, height=9,
                description="Batches missing between the first and the newest sequence number.",
                sql="SELECT site_id, asset_tag, first_seq, last_seq, batches, missing_batches,\n"
                    "       completeness, last_committed_at\n"
                    "FROM v_device_completeness\n"
                    "ORDER BY completeness, site_id, asset_tag",
                columns=("site_id", "asset_tag", "first_seq", "last_seq", "batches",
                         "missing_batches", "completeness", "last_committed_at"),
                asset_link="asset_tag"),
            PanelSpec(
                "Detector lag", "table", width=12, height=9,
                description="How far each detector's scoring trails the asset's newest "
                            "ingested reading; warm: past its learning phase.",
                sql="SELECT d.site_id, d.asset_tag, d.detector, d.warm, d.samples,\n"
                    "       l.last_reading_at, d.scored_until,\n"
                    "       greatest(extract(epoch FROM l.last_reading_at - d.scored_until), 0)"
                    "\n         AS detector_lag_s\n"
                    "FROM v_detector_status d LEFT JOIN v_ingest_lag l USING (asset_id)\n"
                    "ORDER BY detector_lag_s DESC NULLS FIRST, d.asset_tag, d.detector",
                columns=("site_id", "asset_tag", "detector", "warm", "samples",
                         "last_reading_at", "scored_until", "detector_lag_s"),
                asset_link="asset_tag",
                column_units=(("detector_lag_s", "s"),)),
            PanelSpec(
                "Flow runs by state", "barchart", width=8, height=8,
                sql="SELECT flow_name,\n"
                    "       count(*) FILTER (WHERE state = 'COMPLETED') AS completed,\n"
                    "       count(*) FILTER (WHERE state IN ('FAILED', 'CRASHED')) AS failed,\n"
                    "       count(*) FILTER (WHERE state NOT IN ('COMPLETED', 'FAILED', "
                    "'CRASHED')) AS other\n"
                    "FROM v_flow_run WHERE $__timeFilter(updated_at)\n"
                    "GROUP BY flow_name ORDER BY flow_name",
                columns=("flow_name", "completed", "failed", "other")),
            PanelSpec(
                "Flow runs", "table", width=16, height=8,
                sql="SELECT flow_name, state, state_name, started_at, ended_at, duration_s,\n"
                    "       message\n"
                    "FROM v_flow_run WHERE $__timeFilter(updated_at)\n"
                    "ORDER BY updated_at DESC LIMIT 100",
                columns=("flow_name", "state", "state_name", "started_at", "ended_at",
                         "duration_s", "message")),
        ),
    )
