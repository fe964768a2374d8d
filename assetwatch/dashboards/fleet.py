"""Fleet overview: every asset by site with its health, and whether its data is flowing."""

from __future__ import annotations

from assetwatch.dashboards.spec import DashboardSpec, PanelSpec, VariableSpec

__all__ = ["dashboard"]

_HEALTH_COLOURS = (("health", "ok", "green"), ("health", "warning", "orange"),
                   ("health", "critical", "red"), ("health", "no data", "gray"),
                   ("data_state", "flowing", "green"), ("data_state", "stale", "orange"),
                   ("data_state", "no data", "gray"))

_SITE = "site_id IN ($site)"



def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="aw-fleet-overview",
        title="Fleet overview",
        description="Assets by site with health: latest anomaly score, open tickets, predicted "
                    "failure risk, and whether data is flowing or stale.",
        variables=(VariableSpec("site", "Site", "SELECT DISTINCT site_id FROM v_fleet_health "
                                "ORDER BY 1", multi=True, include_all=True),),
        panels=(
            PanelSpec(
                "Assets", "stat", width=4, height=4,
                sql=f"SELECT count(*) AS assets FROM v_fleet_health WHERE {_SITE}",
                columns=("assets",)),
            PanelSpec(
                "Data flowing", "stat", width=4, height=4,
                sql="SELECT count(*) FILTER (WHERE data_state = 'flowing') AS flowing,\n"
                    "       count(*) FILTER (WHERE data_state <> 'flowing') AS stale\n"
                    f"FROM v_fleet_health WHERE {_SITE}",
                columns=("flowing", "stale"),
                thresholds=((None, "green"),)),
            PanelSpec(
                "Health", "stat", width=8, height=4,
                sql="SELECT count(*) FILTER (WHERE health = 'ok') AS ok,\n"
                    "       count(*) FILTER (WHERE health = 'warning') AS warning,\n"
                    "       count(*) FILTER (WHERE health = 'critical') AS critical\n"
                    f"FROM v_fleet_health WHERE {_SITE}",
                columns=("ok", "warning", "critical"),
                thresholds=((None, "blue"),)),
            PanelSpec(
                "Open tickets", "stat", width=4, height=4,
                sql="SELECT coalesce(sum(open_tickets), 0) AS open_tickets\n"
                    f"FROM v_fleet_health WHERE {_SITE}",
                columns=("open_tickets",),
                thresholds=((None, "green"), (1, "orange"), (10, "red"))),
            PanelSpec(
                "Highest predicted risk", "stat", width=4, height=4, unit="percentunit",
                decimals=1,
                sql="SELECT coalesce(max(predicted_risk), 0) AS predicted_risk\n"
                    f"FROM v_fleet_health WHERE {_SITE}",
                columns=("predicted_risk",),
                thresholds=((None, "green"), (0.2, "orange"), (0.5, "red"))),
            PanelSpec(
                "Assets by site", "table", width=24, height=10,
                description="Worst health first. Anomaly score: newest score of each detector, "
                            "the highest; risk: the riskiest component's highest failure "
                            "probability over the horizons (v_component_risk), the horizon "
                            "beside it.",
                sql="SELECT site_id, asset_tag, asset_kind, health, anomaly_score, open_tickets,\n"
                    "       predicted_risk, risk_horizon_days, riskiest_component, min_rul_days,\n"
                    "       data_state, last_reading_at\n"
                    f"FROM v_fleet_health WHERE {_SITE}\n"
                    "ORDER BY health_rank DESC, predicted_risk DESC NULLS LAST, site_id, "
                    "asset_tag",
                columns=("site_id", "asset_tag", "asset_kind", "health", "anomaly_score",
                         "open_tickets", "predicted_risk", "risk_horizon_days",
                         "riskiest_component", "min_rul_days", "data_state",
                         "last_reading_at"),
                asset_link="asset_tag",
                column_units=(("predicted_risk", "percentunit"), ("min_rul_days", "d"),
                              ("anomaly_score", "none")),
                value_colors=_HEALTH_COLOURS),
            PanelSpec(
                "Health by site", "barchart", width=12, height=8,
                sql="SELECT site_id,\n"
                    "       count(*) FILTER (WHERE health = 'ok') AS ok,\n"
                    "       count(*) FILTER (WHERE health = 'warning') AS warning,\n"
                    "       count(*) FILTER (WHERE health = 'critical') AS critical,\n"
                    "       count(*) FILTER (WHERE data_state <> 'flowing') AS stale\n"
                    f"FROM v_fleet_health WHERE {_SITE} GROUP BY site_id ORDER BY site_id",
                columns=("site_id", "ok", "warning", "critical", "stale")),
            PanelSpec(
                "Highest anomaly score by site", "timeseries", width=12, height=8,
                max_value=1,
                sql="SELECT $__timeGroupAlias(time, $__interval), site_id AS metric,\n"
                    "       max(score) AS score\n"
                    f"FROM v_anomaly_score WHERE $__timeFilter(time) AND {_SITE}\n"
                    "GROUP BY 1, 2 ORDER BY 1",
                columns=("time", "metric", "score")),
            PanelSpec(
                "Readings ingested by site", "timeseries", width=24, height=7, unit="short",
                description="Readings committed per interval: a site whose line drops to zero "
                            "has stopped sending.",
                sql="SELECT $__timeGroupAlias(committed_at, $__interval), site_id AS metric,\n"
                    "       sum(readings) AS readings\n"
                    f"FROM v_ingest_batch WHERE $__timeFilter(committed_at) AND {_SITE}\n"
                    "GROUP BY 1, 2 ORDER BY 1",
                columns=("time", "metric", "readings")),
        ),
    )
