"""Parts for planners: demand, reorder points and Kanban sizes, stock-outs, warranty; stock
committed to tickets and shortages, replenishment orders and Kanban cards."""

from __future__ import annotations

from assetwatch.dashboards.spec import DashboardSpec, PanelSpec, VariableSpec

__all__ = ["dashboard"]

_SITE = "site_id IN ($site)"


def dashboard() -> DashboardSpec:
    return DashboardSpec(
        uid="aw-parts-demand",
        title="Parts demand",
        description="Predicted spare-parts demand by part, site and period with its upper "
                    "quantile; reorder points and Kanban sizes; projected stock-outs; the "
                    "warranty-claims forecast; stock reserved by tickets and shortages; "
                    "replenishment orders and Kanban cards.",
        time_from="now-30d",
        variables=(VariableSpec("site", "Site", "SELECT site_id FROM v_asset "
                                "GROUP BY site_id ORDER BY 1", multi=True, include_all=True),),
        panels=_demand_panels() + _stock_panels(),
    )


def _demand_panels() -> tuple[PanelSpec, ...]:
    return (
        PanelSpec(
            "Predicted demand by part, site and period", "table", width=24, height=10,
            description="Newest demand run: expected quantity from predicted failures, its "
                        "upper quantile, and planned maintenance.",
            sql="SELECT part_no, description, site_id, period_start, period_end,\n"
                "       expected_qty, upper_qty, quantile, planned_qty\n"
                f"FROM v_parts_demand WHERE {_SITE}\n"
                "ORDER BY period_start, upper_qty DESC, part_no, site_id",
            columns=("part_no", "description", "site_id", "period_start", "period_end",
                     "expected_qty", "upper_qty", "quantile", "planned_qty")),
        PanelSpec(
            "Demand by part (all periods)", "barchart", width=12, height=9,
            sql="SELECT part_no, sum(expected_qty) AS expected_qty,\n"
                "       sum(upper_qty) AS upper_qty, sum(planned_qty) AS planned_qty\n"
                f"FROM v_parts_demand WHERE {_SITE}\n"
                "GROUP BY part_no ORDER BY upper_qty DESC LIMIT 20",
            columns=("part_no", "expected_qty", "upper_qty", "planned_qty")),
        PanelSpec(
            "Projected stock-outs", "table", width=12, height=9,
            description="The first period whose cumulative upper-quantile demand exceeds "
                        "stock on hand.",
            sql="SELECT * FROM (\n"
                "  SELECT DISTINCT ON (part_no, site_id) part_no, site_id, on_hand,\n"
                "         period_start AS first_short_period, cumulative_upper_qty\n"
                "  FROM (SELECT d.part_no, d.site_id, coalesce(ip.on_hand, 0) AS on_hand,\n"
                "               d.period_start,\n"
                "               sum(d.upper_qty) OVER (PARTITION BY d.part_no, d.site_id\n"
                "                   ORDER BY d.period_start) AS cumulative_upper_qty\n"
                "        FROM v_parts_demand d\n"
                "        LEFT JOIN v_inventory_policy ip USING (part_no, site_id)\n"
                f"        WHERE d.{_SITE}) running\n"
                "  WHERE cumulative_upper_qty > on_hand\n"
                "  ORDER BY part_no, site_id, period_start) short\n"
                "ORDER BY first_short_period, part_no, site_id",
            columns=("part_no", "site_id", "on_hand", "first_short_period",
                     "cumulative_upper_qty")),
        PanelSpec(
            "Reorder points and Kanban sizes", "table", width=24, height=9,
            sql="SELECT part_no, description, site_id, on_hand, reorder_point,\n"
                "       safety_stock, kanban_bin_qty, kanban_cards, lead_time_days,\n"
                "       demand_per_day, service_level, stockout_risk, overstock\n"
                f"FROM v_inventory_policy WHERE {_SITE}\n"
                "ORDER BY stockout_risk DESC, part_no, site_id",
            columns=("part_no", "description", "site_id", "on_hand", "reorder_point",
                     "safety_stock", "kanban_bin_qty", "kanban_cards", "lead_time_days",
                     "demand_per_day", "service_level", "stockout_risk", "overstock")),
        PanelSpec(
            "Warranty-claims forecast", "table", width=24, height=8,
            description="Components under warranty, their failure probability and the "
                        "expected claim cost.",
            sql="SELECT site_id, asset_tag, component_type, serial_no, part_no,\n"
                "       warranty_end, failure_probability, expected_claim_cost\n"
                f"FROM v_warranty_claim_forecast WHERE {_SITE}\n"
                "ORDER BY expected_claim_cost DESC, asset_tag",
            columns=("site_id", "asset_tag", "component_type", "serial_no", "part_no",
                     "warranty_end", "failure_probability", "expected_claim_cost"),
            asset_link="asset_tag",
            column_units=(("failure_probability", "percentunit"),
                          ("expected_claim_cost", "currencyEUR"))),
    )


def _stock_panels() -> tuple[PanelSpec, ...]:
    return (
        PanelSpec(
            "Tickets short of parts", "table", width=24, height=8,
            description="Open tickets whose kit could not be reserved at their site, with the "
                        "options: a transfer from the site with the most available stock "
                        "(transfer lead time) or an expedited order.",
            sql="SELECT ticket_id, site_id, asset_tag, failure_mode, priority, due_at,\n"
                "       part_no, required_qty, reserved_qty, short_qty, transfer_site_id,\n"
                "       transfer_lead_time_days, expedite_lead_time_days\n"
                f"FROM v_ticket_parts WHERE short_qty > 0 AND {_SITE}\n"
                "ORDER BY priority, due_at, ticket_id, part_no",
            columns=("ticket_id", "site_id", "asset_tag", "failure_mode", "priority", "due_at",
                     "part_no", "required_qty", "reserved_qty", "short_qty", "transfer_site_id",
                     "transfer_lead_time_days", "expedite_lead_time_days"),
            asset_link="asset_tag"),
        PanelSpec(
            "Stock: on hand, reserved, available, on order", "table", width=12, height=9,
            description="Available = on hand - reserved by open tickets; on order = what open "
                        "replenishment orders still bring.",
            sql="SELECT site_id, part_no, on_hand, reserved, available, short, ordered,\n"
                "       proposed\n"
                f"FROM v_stock_available WHERE {_SITE}\n"
                "ORDER BY short DESC, available, site_id, part_no",
            columns=("site_id", "part_no", "on_hand", "reserved", "available", "short",
                     "ordered", "proposed")),
        PanelSpec(
            "Open replenishment orders", "table", width=12, height=9,
            description="Proposed (awaiting the planner), ordered (due after the lead time), "
                        "partly received.",
            sql="SELECT order_no, site_id, part_no, kind, state, qty, received_qty, due_at,\n"
                "       supplier, value\n"
                "FROM v_replenishment_order\n"
                f"WHERE state IN ('proposed', 'ordered') AND {_SITE}\n"
                "ORDER BY due_at NULLS FIRST, order_no",
            columns=("order_no", "site_id", "part_no", "kind", "state", "qty", "received_qty",
                     "due_at", "supplier", "value"),
            column_units=(("value", "currencyEUR"),)),
        PanelSpec(
            "Kanban cards", "table", width=24, height=6,
            description="Each card is with a full bin, or released with an open order.",
            sql="SELECT site_id, part_no, card_no, bin_qty, state, order_state, due_at\n"
                f"FROM v_kanban_card WHERE {_SITE}\n"
                "ORDER BY site_id, part_no, card_no",
            columns=("site_id", "part_no", "card_no", "bin_qty", "state", "order_state",
                     "due_at")),
    )
