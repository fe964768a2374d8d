"""Field service: visits today and this week, SLA status, utilisation, first-time fix,
repeat visits."""

from __future__ import annotations

from assetwatch.dashboards.spec import DashboardSpec, PanelSpec

__all__ = ["dashboard"]

# A visit fixed first time: every ticket it covered is closed, and no later visit within 30
# days covers the same asset and failure mode.
_DONE_TICKET_WORK = (
    "FROM v_visit_work w\n"
    "WHERE w.visit_status = 'done' AND w.work_kind = 'ticket'\n"
    "  AND $__timeFilter(w.starts_at)"
)
_AGAIN = (
    "EXISTS (SELECT 1 FROM v_visit_work n WHERE n.asset_id = w.asset_id\n"
    "        AND n.work = w.work AND n.visit_id <> w.visit_id\n"
    "        AND n.starts_at > w.starts_at AND n.starts_at <= w.starts_at + interval '30 days')"
)
_TODAY = ("starts_at >= date_trunc('day', now())\n"
          "  AND starts_at < date_trunc('day', now()) + interval '1 day'")


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="aw-field-service",
        title="Field service",
        description="Who goes where: visits today and this week, SLA clocks, technician "
                    "utilisation, first-time fix and repeat visits.",
        time_from="now-30d",
        panels=(
            PanelSpec(
                "Visits today", "stat", width=4, height=4,
                sql=f"SELECT count(*) AS visits_today FROM v_visit\nWHERE {_TODAY}\n"
                    "  AND status <> 'cancelled'",
                columns=("visits_today",)),
            PanelSpec(
                "Visits this week", "stat", width=4, height=4,
                sql="SELECT count(*) AS visits_this_week FROM v_visit\n"
                    "WHERE starts_at >= date_trunc('week', now())\n"
                    "  AND starts_at < date_trunc('week', now()) + interval '7 days'\n"
                    "  AND status <> 'cancelled'",
                columns=("visits_this_week",)),
            PanelSpec(
                "Open SLA breaches", "stat", width=4, height=4,
                description="Active tickets past a response or restore deadline.",
                sql="SELECT count(*) AS breached FROM v_ticket_sla\n"
                    "WHERE status <> 'closed'\n"
                    "  AND 'breached' IN (response_state, restore_state)",
                columns=("breached",),
                thresholds=((None, "green"), (1, "red"))),
            PanelSpec(
                "Response SLA met", "stat", width=4, height=4, unit="percentunit",
                decimals=1,
                description="Tickets responded to in the range that met their response "
                            "deadline.",
                sql="SELECT avg(CASE WHEN response_state = 'met' THEN 1.0 ELSE 0.0 END)"
                    " AS response_sla_met\n"
                    "FROM v_ticket_sla WHERE $__timeFilter(responded_at)",
                columns=("response_sla_met",),
                thresholds=((None, "red"), (0.9, "orange"), (0.95, "green"))),
            PanelSpec(
                "First-time fix", "stat", width=4, height=4, unit="percentunit", decimals=1,
                description="Ticket work on visits done in the range that was closed on the "
                            "visit and needed no visit for the same asset and failure mode "
                            "within 30 days.",
                sql="SELECT avg(CASE WHEN w.ticket_status = 'closed' AND NOT " + _AGAIN
                    + "\n           THEN 1.0 ELSE 0.0 END) AS first_time_fix\n"
                    + _DONE_TICKET_WORK,
                columns=("first_time_fix",),
                thresholds=((None, "red"), (0.8, "orange"), (0.9, "green"))),
            PanelSpec(
                "Utilisation (plan)", "stat", width=4, height=4, unit="percentunit",
                decimals=1,
                description="Driving and time on site over working time, newest plan.",
                sql="SELECT sum(work_minutes + travel_minutes)\n"
                    "       / nullif(sum(available_minutes), 0) AS utilisation\n"
                    "FROM v_technician_utilisation",
                columns=("utilisation",)),
            PanelSpec(
                "Today's visits", "table", width=24, height=8,
                sql="SELECT technician_name, starts_at, ends_at, site_name, work_items,\n"
                    "       travel_minutes, jsonb_array_length(kit) AS kit_lines, status\n"
                    f"FROM v_visit WHERE {_TODAY}\nORDER BY technician_name, starts_at",
                columns=("technician_name", "starts_at", "ends_at", "site_name", "work_items",
                         "travel_minutes", "kit_lines", "status")),
            PanelSpec(
                "SLA clocks of active tickets", "barchart", width=12, height=8,
                sql="SELECT state, sum(response) AS response, sum(restore) AS restore FROM (\n"
                    "  SELECT response_state AS state, 1 AS response, 0 AS restore\n"
                    "  FROM v_ticket_sla WHERE status <> 'closed'\n"
                    "  UNION ALL\n"
                    "  SELECT restore_state, 0, 1 FROM v_ticket_sla\n"
                    "  WHERE status <> 'closed' AND restore_state IS NOT NULL) clocks\n"
                    "GROUP BY state ORDER BY state",
                columns=("state", "response", "restore")),
            PanelSpec(
                "Utilisation per technician", "table", width=12, height=8,
                description="Newest plan: hours available, on site and driving.",
                sql="SELECT technician_name, sum(available_minutes) / 60 AS available_h,\n"
                    "       sum(work_minutes) / 60 AS on_site_h,"
                    " sum(travel_minutes) / 60 AS driving_h,\n"
                    "       sum(work_minutes + travel_minutes)\n"
                    "       / nullif(sum(available_minutes), 0) AS utilisation\n"
                    "FROM v_technician_utilisation GROUP BY technician_name\n"
                    "ORDER BY technician_name",
                columns=("technician_name", "available_h", "on_site_h", "driving_h",
                         "utilisation"),
                column_units=(("utilisation", "percentunit"),)),
            PanelSpec(
                "SLA breaches and near-breaches", "table", width=12, height=8,
                sql="SELECT recorded_at, site_id, asset_tag, failure_mode, clock, state,"
                    " deadline\n"
                    "FROM v_sla_event WHERE $__timeFilter(recorded_at)\n"
                    "ORDER BY recorded_at DESC LIMIT 200",
                columns=("recorded_at", "site_id", "asset_tag", "failure_mode", "clock",
                         "state", "deadline"),
                asset_link="asset_tag",
                value_colors=(("state", "breached", "red"), ("state", "near_breach",
                                                               "orange"))),
            PanelSpec(
                "Repeat visits", "table", width=12, height=8,
                description="Ticket work done on a visit and visited again for the same "
                            "asset and failure mode within 30 days.",
                sql="SELECT w.visit_id, w.technician_id, w.asset_tag, w.work, w.starts_at\n"
                    + _DONE_TICKET_WORK + "\n  AND " + _AGAIN + "\nORDER BY w.starts_at DESC",
                columns=("visit_id", "technician_id", "asset_tag", "work", "starts_at"),
                asset_link="asset_tag"),
        ),
    )
