-- Returns and repairs: every removed serialised part gets a return record. It is tested (a
-- part that tests fine is no-fault-found and goes back to serviceable stock), then scrapped,
-- returned to its supplier under warranty (an RMA with number, state and credit), or
-- repaired (repairable parts: turnaround and cost from master data) and back into stock.

ALTER TABLE part
    ADD COLUMN repairable boolean NOT NULL DEFAULT false,
    ADD COLUMN repair_turnaround_days numeric(6, 1) CHECK (repair_turnaround_days >= 0),
    ADD COLUMN repair_cost numeric(12, 2) CHECK (repair_cost >= 0);

CREATE TABLE part_return (
    return_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial_no      text NOT NULL,
    part_no        text REFERENCES part,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    component_type text NOT NULL,
    failure_mode   text,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    event_id       text UNIQUE,                  -- the part_replaced event that removed it
    ticket_id      bigint REFERENCES service_ticket ON DELETE SET NULL,
    removed_at     timestamptz NOT NULL,
    under_warranty boolean NOT NULL,             -- warranty end on or after the removal day
    state          text NOT NULL DEFAULT 'removed'
                   CHECK (state IN ('removed', 'no_fault_found', 'scrapped', 'rma_open',
                                    'rma_credited', 'rma_rejected', 'in_repair', 'repaired')),
    fault_found    boolean,                      -- null: not tested yet
    rma_no         text UNIQUE,
    supplier       text,
    credit         numeric(12, 2) CHECK (credit >= 0),
    repair_cost    numeric(12, 2) CHECK (repair_cost >= 0),
    repair_due_at  timestamptz,
    updated_at     timestamptz NOT NULL,
    closed_at      timestamptz,
    note           text
);
CREATE INDEX part_return_serial ON part_return (serial_no);
CREATE INDEX part_return_open ON part_return (state) WHERE closed_at IS NULL;

CREATE VIEW v_part_return AS
SELECT r.return_id, 'RET-' || lpad(r.return_id::text, 6, '0') AS return_no, r.serial_no,
       r.part_no, p.description, a.asset_tag, r.site_id, r.component_type, r.failure_mode,
       r.removed_at, r.under_warranty, r.state, r.fault_found, r.rma_no, r.supplier, r.credit,
       r.repair_cost, r.repair_due_at, r.closed_at, r.ticket_id, r.asset_id,
       p.unit_cost, p.repairable
FROM part_return r
JOIN asset a USING (asset_id)
LEFT JOIN part p USING (part_no);

-- The repair pipeline per (part, site): units at repair and when they come back.
CREATE VIEW v_repair_pipeline AS
SELECT part_no, site_id, count(*)::integer AS in_repair, min(repair_due_at) AS next_due_at,
       sum(repair_cost) AS repair_cost
FROM part_return WHERE state = 'in_repair'
GROUP BY part_no, site_id;

-- No-fault-found: tested removals that tested fine, per part and per failure mode. A high rate
-- costs money (a needless swap) and hides a wrong diagnosis.
CREATE VIEW v_nff_rate AS
SELECT 'part' AS dimension, coalesce(part_no, '?') AS key,
       count(*) FILTER (WHERE fault_found IS NOT NULL)::integer AS tested,
       count(*) FILTER (WHERE NOT fault_found)::integer AS no_fault_found,
       (count(*) FILTER (WHERE NOT fault_found))::real
           / nullif(count(*) FILTER (WHERE fault_found IS NOT NULL), 0) AS nff_rate
FROM part_return GROUP BY part_no
UNION ALL
SELECT 'failure_mode', coalesce(failure_mode, '?'),
       count(*) FILTER (WHERE fault_found IS NOT NULL)::integer,
       count(*) FILTER (WHERE NOT fault_found)::integer,
       (count(*) FILTER (WHERE NOT fault_found))::real
           / nullif(count(*) FILTER (WHERE fault_found IS NOT NULL), 0)
FROM part_return GROUP BY failure_mode;

-- The repair loop in replenishment: a unit at repair that is due back within the part's lead
-- time to the site comes before any new order would, so it counts in the position.
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
      AND pr.repair_due_at <= now() + coalesce(lt.lead_time_days, 0) * interval '1 day') rp
    ON true;

-- Share of a part's settled returns that came back serviceable (repaired or no fault found).
CREATE VIEW v_repair_yield AS
SELECT part_no, count(*)::integer AS settled,
       count(*) FILTER (WHERE state IN ('repaired', 'no_fault_found'))::integer AS serviceable,
       (count(*) FILTER (WHERE state IN ('repaired', 'no_fault_found')))::real / count(*)
           AS repair_yield
FROM part_return WHERE closed_at IS NOT NULL AND part_no IS NOT NULL
GROUP BY part_no;

-- What must be bought over the newest demand run's horizon once the loops are counted: the
-- expected demand (failures + planned) less what comes back serviceable: the units at repair
-- now and the expected failures' removals times the part's repair yield (repairables only).
CREATE VIEW v_parts_net_demand AS
SELECT d.site_id, d.part_no, p.description, p.repairable,
       sum(d.expected_qty + d.planned_qty) AS total_expected_qty,
       coalesce(rp.in_repair, 0) AS in_repair,
       CASE WHEN p.repairable THEN coalesce(y.repair_yield, 0) ELSE 0 END AS repair_yield,
       CASE WHEN p.repairable THEN sum(d.expected_qty) * coalesce(y.repair_yield, 0) ELSE 0 END
           + coalesce(rp.in_repair, 0) AS expected_returns_qty,
       greatest(sum(d.expected_qty + d.planned_qty) - coalesce(rp.in_repair, 0)
                - CASE WHEN p.repairable
                       THEN sum(d.expected_qty) * coalesce(y.repair_yield, 0) ELSE 0 END, 0)
           AS net_buy_qty,
       min(d.period_start) AS horizon_start, max(d.period_end) AS horizon_end
FROM v_parts_demand_export d
JOIN part p USING (part_no)
LEFT JOIN v_repair_yield y USING (part_no)
LEFT JOIN v_repair_pipeline rp USING (part_no, site_id)
GROUP BY d.site_id, d.part_no, p.description, p.repairable, rp.in_repair, y.repair_yield;

-- The policy counts the repair pipeline: units at repair due back within the protection
-- interval (lead time + review period) are supply, like open orders.
ALTER TABLE inventory_policy ADD COLUMN repair_pipeline integer NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW v_inventory_policy AS
SELECT ip.computed_at, ip.part_no, p.description, ip.site_id, ip.lead_time_days,
       ip.service_level, ip.demand_per_day, ip.demand_sd_per_day, ip.safety_stock,
       ip.reorder_point, ip.kanban_bin_qty, ip.kanban_cards, ip.on_hand, ip.stockout_risk,
       ip.overstock, ip.on_order, ip.lead_time_demand, ip.stockout_probability, ip.excess_qty,
       ip.excess_value, ip.reserved, ip.repair_pipeline
FROM inventory_policy ip
JOIN part p USING (part_no)
WHERE ip.computed_at = (SELECT max(computed_at) FROM inventory_policy);
