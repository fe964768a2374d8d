"""Parts for planners: demand, reorder points and Kanban sizes, stock-outs, warranty; stock
committed to tickets and shortages, replenishment orders and Kanban cards; returns, repairs,
no-fault-found rate, warranty claims."""

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
                    "replenishment orders and Kanban cards; returns, repairs and the "
                    "no-fault-found rate; warranty claims against their forecast.",
        time_from="now-30d",
        variables=(VariableSpec("site", "Site", "SELECT site_id FROM v_asset "
                                "GROUP BY site_id ORDER BY 1", multi=True, include_all=True),),
        panels=_demand_panels() + _stock_panels() + _loop_panels(),
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
                "       demand_per_day, abc_class, service_level, stockout_risk, overstock\n"
                f"FROM v_inventory_policy WHERE {_SITE}\n"
                "ORDER BY stockout_risk DESC, part_no, site_id",
            columns=("part_no", "description", "site_id", "on_hand", "reorder_point",
                     "safety_stock", "kanban_bin_qty", "kanban_cards", "lead_time_days",
                     "demand_per_day", "abc_class", "service_level", "stockout_risk",
                     "overstock")),
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


def _loop_panels() -> tuple[PanelSpec, ...]:
    return (
        PanelSpec(
            "Returns and repair pipeline", "table", width=24, height=8,
            description="Every removed serial: tested (no fault found goes back to stock), "
                        "returned to the supplier under warranty (RMA, credit), repaired (due "
                        "back, cost) or scrapped.",
            sql="SELECT return_no, serial_no, part_no, site_id, asset_tag, failure_mode,\n"
                "       removed_at, under_warranty, state, rma_no, credit, repair_cost,\n"
                "       repair_due_at\n"
                f"FROM v_part_return WHERE {_SITE}\n"
                "ORDER BY closed_at IS NULL DESC, removed_at DESC LIMIT 100",
            columns=("return_no", "serial_no", "part_no", "site_id", "asset_tag",
                     "failure_mode", "removed_at", "under_warranty", "state", "rma_no",
                     "credit", "repair_cost", "repair_due_at"),
            asset_link="asset_tag",
            column_units=(("credit", "currencyEUR"), ("repair_cost", "currencyEUR"))),
        PanelSpec(
            "No-fault-found rate", "table", width=12, height=8,
            description="Removed parts that tested fine, per part and per failure mode: a "
                        "needless swap that costs money and hides a wrong diagnosis.",
            sql="SELECT dimension, key, tested, no_fault_found, nff_rate\n"
                "FROM v_nff_rate WHERE tested > 0\n"
                "ORDER BY dimension DESC, nff_rate DESC, key",
            columns=("dimension", "key", "tested", "no_fault_found", "nff_rate"),
            column_units=(("nff_rate", "percentunit"),)),
        PanelSpec(
            "Net buy after the repair loop", "table", width=12, height=8,
            description="Expected demand over the newest demand run's horizon less what comes "
                        "back serviceable: units at repair and expected removals times the "
                        "part's repair yield.",
            sql="SELECT site_id, part_no, repairable, total_expected_qty, in_repair,\n"
                "       repair_yield, expected_returns_qty, net_buy_qty\n"
                f"FROM v_parts_net_demand WHERE {_SITE}\n"
                "ORDER BY net_buy_qty DESC, site_id, part_no",
            columns=("site_id", "part_no", "repairable", "total_expected_qty", "in_repair",
                     "repair_yield", "expected_returns_qty", "net_buy_qty")),
        PanelSpec(
            "Warranty claims", "table", width=24, height=8,
            description="Failures under warranty claimed from the supplier with the evidence "
                        "window and anomaly events before the failure; recovered amounts.",
            sql="SELECT claim_no, site_id, asset_tag, serial_no, part_no, supplier,\n"
                "       failure_mode, failed_at, state, claimed_amount, recovered_amount,\n"
                "       anomaly_events\n"
                f"FROM v_warranty_claim WHERE {_SITE}\n"
                "ORDER BY failed_at DESC, claim_no",
            columns=("claim_no", "site_id", "asset_tag", "serial_no", "part_no", "supplier",
                     "failure_mode", "failed_at", "state", "claimed_amount",
                     "recovered_amount", "anomaly_events"),
            asset_link="asset_tag",
            column_units=(("claimed_amount", "currencyEUR"),
                          ("recovered_amount", "currencyEUR"))),
        PanelSpec(
            "Warranty claims: forecast against actual per month", "barchart", width=24,
            height=8,
            description="Expected claims in the 30 days after the month's first forecast run "
                        "against the claims for failures in that month.",
            sql="SELECT to_char(month, 'YYYY-MM') AS month, forecast_claims,\n"
                "       actual_claims, forecast_cost, claimed_amount, recovered_amount\n"
                "FROM v_warranty_claims_monthly ORDER BY month",
            columns=("month", "forecast_claims", "actual_claims", "forecast_cost",
                     "claimed_amount", "recovered_amount")),
    )
