"""Service tickets: open tickets by priority and age, tickets per true failure, first-time fix."""

from __future__ import annotations

from assetwatch.dashboards.spec import DashboardSpec, PanelSpec

__all__ = ["dashboard"]

# A fix is "first time" when no ticket for the same asset and failure mode opens again within
# 30 days of closing; only tickets that replaced something (confirmed or preventive) count.
_FIXES = (
    "FROM v_service_ticket t\n"
    "WHERE t.status = 'closed'\n"
    "  AND t.resolution_code IN ('confirmed_failure', 'preventive_replacement')\n"
    "  AND $__timeFilter(t.closed_at)"
)
_REPEAT = (
    "EXISTS (SELECT 1 FROM v_service_ticket n WHERE n.asset_id = t.asset_id\n"
    "        AND n.failure_mode = t.failure_mode AND n.ticket_id <> t.ticket_id\n"
    "        AND n.opened_at > t.closed_at AND n.opened_at <= t.closed_at + interval '30 days')"
)


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="aw-service-tickets",
        title="Service tickets",
        description="Open tickets by priority and age; tickets per true failure; first-time-"
                    "fix rate.",
        time_from="now-90d",
        panels=(
            PanelSpec(
                "Open tickets", "stat", width=6, height=4,
                sql="SELECT count(*) AS open_tickets FROM v_service_ticket "
                    "WHERE status <> 'closed'",
                columns=("open_tickets",),
                thresholds=((None, "green"), (1, "orange"), (10, "red"))),
            PanelSpec(
                "Overdue", "stat", width=6, height=4,
                sql="SELECT count(*) AS overdue FROM v_service_ticket\n"
                    "WHERE status <> 'closed' AND due_at < now()",
                columns=("overdue",),
                thresholds=((None, "green"), (1, "red"))),
            PanelSpec(
                "Tickets per true failure", "stat", width=6, height=4, decimals=2,
                description="Tickets closed in the range per ticket closed as a confirmed "
                            "failure: 1.0 means every ticket found a real failure.",
                sql="SELECT count(*)::double precision\n"
                    "       / nullif(count(*) FILTER (WHERE resolution_code = "
                    "'confirmed_failure'), 0)\n"
                    "       AS tickets_per_true_failure\n"
                    "FROM v_service_ticket WHERE status = 'closed' AND $__timeFilter(closed_at)",
                columns=("tickets_per_true_failure",),
                thresholds=((None, "green"), (1.5, "orange"), (3, "red"))),
            PanelSpec(
                "First-time-fix rate", "stat", width=6, height=4, unit="percentunit",
                decimals=1,
                description="Share of repairs closed in the range after which no ticket for "
                            "the same asset and failure mode opened within 30 days.",
                sql="SELECT avg(CASE WHEN " + _REPEAT + "\n"
                    "           THEN 0.0 ELSE 1.0 END) AS first_time_fix_rate\n" + _FIXES,
                columns=("first_time_fix_rate",),
                thresholds=((None, "red"), (0.7, "orange"), (0.9, "green"))),
            PanelSpec(
                "Open tickets by priority and age", "barchart", width=12, height=8,
                description="Priority 1 is the most urgent.",
                sql="SELECT 'P' || priority AS priority,\n"
                    "       count(*) FILTER (WHERE age < interval '1 day') AS under_1d,\n"
                    "       count(*) FILTER (WHERE age >= interval '1 day'\n"
                    "                        AND age < interval '7 days') AS d1_to_7,\n"
                    "       count(*) FILTER (WHERE age >= interval '7 days') AS over_7d\n"
                    "FROM v_service_ticket WHERE status <> 'closed'\n"
                    "GROUP BY priority ORDER BY priority",
                columns=("priority", "under_1d", "d1_to_7", "over_7d")),
            PanelSpec(
                "Tickets opened and closed", "timeseries", width=12, height=8,
                sql="SELECT time, metric, sum(n) AS tickets FROM (\n"
                    "  SELECT $__timeGroup(opened_at, $__interval) AS time, 'opened' AS metric,"
                    " 1 AS n\n"
                    "  FROM v_service_ticket WHERE $__timeFilter(opened_at)\n"
                    "  UNION ALL\n"
                    "  SELECT $__timeGroup(closed_at, $__interval) AS time, 'closed' AS metric,"
                    " 1 AS n\n"
                    "  FROM v_service_ticket WHERE $__timeFilter(closed_at)) events\n"
                    "GROUP BY 1, 2 ORDER BY 1",
                columns=("time", "metric", "tickets")),
            PanelSpec(
                "Open tickets", "table", width=24, height=9,
                description="Kind 'connectivity': the asset stopped reporting (no parts kit).",
                sql="SELECT ticket_id, site_id, asset_tag, kind, failure_mode, status, priority,"
                    " risk,\n"
                    "       due_at, opened_at, extract(epoch FROM age) / 86400 AS age_days,\n"
                    "       jsonb_array_length(kit) AS kit_lines\n"
                    "FROM v_service_ticket WHERE status <> 'closed'\n"
                    "ORDER BY priority, due_at NULLS LAST, opened_at",
                columns=("ticket_id", "site_id", "asset_tag", "kind", "failure_mode", "status",
                         "priority", "risk", "due_at", "opened_at", "age_days", "kit_lines"),
                asset_link="asset_tag"),
            PanelSpec(
                "Held back by the daily cap", "table", width=24, height=7,
                description="Tickets the per-site daily cap kept from opening.",
                sql="SELECT at, site_id, asset_tag, failure_mode, priority, risk, reason\n"
                    "FROM v_ticket_overflow WHERE $__timeFilter(at)\n"
                    "ORDER BY at DESC LIMIT 200",
                columns=("at", "site_id", "asset_tag", "failure_mode", "priority", "risk",
                         "reason"),
                asset_link="asset_tag"),
            PanelSpec(
                "Resolutions", "table", width=12, height=8,
                sql="SELECT resolution_code, count(*) AS tickets,\n"
                    "       avg(extract(epoch FROM closed_at - opened_at)) / 86400 AS "
                    "mean_days_to_close\n"
                    "FROM v_service_ticket WHERE status = 'closed' AND $__timeFilter(closed_at)\n"
                    "GROUP BY resolution_code ORDER BY tickets DESC",
                columns=("resolution_code", "tickets", "mean_days_to_close")),
            PanelSpec(
                "Repeat repairs", "table", width=12, height=8,
                description="Repairs followed within 30 days by another ticket for the same "
                            "asset and failure mode.",
                sql="SELECT t.ticket_id, t.asset_tag, t.failure_mode, t.closed_at,\n"
                    "       t.resolution_code\n" + _FIXES + "\n  AND " + _REPEAT + "\n"
                    "ORDER BY t.closed_at DESC",
                columns=("ticket_id", "asset_tag", "failure_mode", "closed_at",
                         "resolution_code")),
        ),
    )
