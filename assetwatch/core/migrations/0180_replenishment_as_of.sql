-- The replenishment rules evaluated at a given time: a unit at repair counts in the position
-- when it is due back within the part's lead time *of the evaluation*, which is now() unless
-- the transaction sets `assetwatch.as_of` (evaluate_replenishment(at=...) does, so a
-- back-dated or simulated evaluation does not count repairs due long after it).
CREATE OR REPLACE FUNCTION assetwatch_as_of() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('assetwatch.as_of', true), '')::timestamptz, now())
$$;

CREATE OR REPLACE VIEW v_replenishment_rule AS
SELECT r.part_no, r.site_id, r.method,
       coalesce(r.reorder_point, ceil(ip.reorder_point)::integer) AS reorder_point,
       coalesce(r.order_up_to, ceil(ip.reorder_point)::integer + ip.kanban_bin_qty)
           AS order_up_to,
       r.bin_qty, r.cards,
       coalesce(s.on_hand, 0) AS on_hand, coalesce(s.available, 0) AS available,
       coalesce(s.short, 0) AS short, coalesce(s.on_order, 0) AS on_order,
       coalesce(s.on_hand, 0) - coalesce(rs.required, 0) + coalesce(s.on_order, 0)
           + coalesce(rp.due_in_lead_time, 0) AS position,
       r.reorder_point IS NULL AS from_policy, r.updated_at,
       coalesce(rp.due_in_lead_time, 0) AS in_repair
FROM replenishment_rule r
LEFT JOIN v_stock_available s USING (part_no, site_id)
LEFT JOIN v_stock_reserved rs USING (part_no, site_id)
LEFT JOIN v_inventory_policy ip USING (part_no, site_id)
LEFT JOIN v_part_lead_time lt USING (part_no, site_id)
LEFT JOIN LATERAL (
    SELECT count(*)::integer AS due_in_lead_time FROM part_return pr
    WHERE pr.part_no = r.part_no AND pr.site_id = r.site_id AND pr.state = 'in_repair'
      AND pr.repair_due_at <= assetwatch_as_of()
                              + coalesce(lt.lead_time_days, 0) * interval '1 day') rp
    ON true;
