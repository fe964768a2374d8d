-- The ABC class of each (part, site) policy row by its expected usage value; the row's
-- service_level is its class's level (assetwatch.service.service_levels).
ALTER TABLE inventory_policy ADD COLUMN abc_class text
    CHECK (abc_class IS NULL OR abc_class IN ('A', 'B', 'C'));

CREATE OR REPLACE VIEW v_inventory_policy AS
SELECT ip.computed_at, ip.part_no, p.description, ip.site_id, ip.lead_time_days,
       ip.service_level, ip.demand_per_day, ip.demand_sd_per_day, ip.safety_stock,
       ip.reorder_point, ip.kanban_bin_qty, ip.kanban_cards, ip.on_hand, ip.stockout_risk,
       ip.overstock, ip.on_order, ip.lead_time_demand, ip.stockout_probability, ip.excess_qty,
       ip.excess_value, ip.reserved, ip.repair_pipeline, ip.abc_class
FROM inventory_policy ip
JOIN part p USING (part_no)
WHERE ip.computed_at = (SELECT max(computed_at) FROM inventory_policy);
