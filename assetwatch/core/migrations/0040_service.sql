-- Service management: default lead times, planned maintenance, sensor hints for failure modes,
-- inventory-policy details, ticket overflow, training labels from tickets, warranty forecast.

-- A lead time that applies to every site without a row in part_lead_time.
ALTER TABLE part ADD COLUMN default_lead_time_days numeric(6, 1)
    CHECK (default_lead_time_days >= 0);

-- Planned maintenance: every interval_days an asset of the model consumes these parts.
CREATE TABLE maintenance_plan (
    model_id       text NOT NULL REFERENCES asset_model ON DELETE CASCADE,
    task           text NOT NULL,
    interval_days  integer NOT NULL CHECK (interval_days > 0),
    part_no        text NOT NULL REFERENCES part,
    qty            integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (model_id, task, part_no)
);

-- Which sensors show a failure mode: attributes anomaly events to failure modes.
CREATE TABLE failure_mode_sensor (
    failure_mode   text NOT NULL REFERENCES failure_mode ON DELETE CASCADE,
    sensor         text NOT NULL,
    PRIMARY KEY (failure_mode, sensor)
);

ALTER TABLE inventory_policy
    ADD COLUMN on_order integer NOT NULL DEFAULT 0,
    ADD COLUMN lead_time_demand real,            -- expected demand over the lead time
    ADD COLUMN stockout_probability real,        -- P(lead-time demand > on hand + on order)
    ADD COLUMN excess_qty real NOT NULL DEFAULT 0,
    ADD COLUMN excess_value numeric(14, 2) NOT NULL DEFAULT 0;

-- Tickets the daily per-site cap kept from being opened, so planners see what was held back.
CREATE TABLE ticket_overflow (
    overflow_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    failure_mode   text NOT NULL,
    risk           real NOT NULL,
    priority       smallint NOT NULL,
    reason         text NOT NULL
);
CREATE INDEX ticket_overflow_at ON ticket_overflow (at DESC);

-- Resolutions of closed tickets as training labels for the failure predictors.
CREATE TABLE failure_label (
    label_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    component_type text NOT NULL,
    failure_mode   text NOT NULL,
    time           timestamptz NOT NULL,
    failed         boolean NOT NULL,
    resolution_code text NOT NULL,
    ticket_id      bigint UNIQUE REFERENCES service_ticket ON DELETE SET NULL,
    model_version_id integer REFERENCES model_version,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX failure_label_asset ON failure_label (asset_id, component_type, time);

CREATE TABLE warranty_claim_forecast (
    computed_at    timestamptz NOT NULL,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    component_type text NOT NULL,
    serial_no      text NOT NULL,
    part_no        text REFERENCES part,
    warranty_end   date NOT NULL,
    failure_probability real NOT NULL CHECK (failure_probability BETWEEN 0 AND 1),
    expected_claim_cost numeric(14, 2) NOT NULL,
    PRIMARY KEY (computed_at, asset_id, component_type)
);

-- Effective lead time of every stocked part at every site (site row, else the part default).
CREATE VIEW v_part_lead_time AS
SELECT p.part_no, s.site_id, coalesce(lt.lead_time_days, p.default_lead_time_days) AS lead_time_days,
       lt.lead_time_days IS NOT NULL AS site_specific
FROM part p
CROSS JOIN site s
LEFT JOIN part_lead_time lt ON lt.part_no = p.part_no AND lt.site_id = s.site_id
WHERE NOT p.is_kit;

-- The newest demand run with totals (failures + planned maintenance), for planners' exports.
CREATE VIEW v_parts_demand_export AS
SELECT d.computed_at, d.site_id, d.part_no, p.description, d.period_start, d.period_end,
       d.expected_qty, d.upper_qty, d.quantile, d.planned_qty,
       d.expected_qty + d.planned_qty AS total_expected_qty,
       d.upper_qty + d.planned_qty AS total_upper_qty,
       p.unit_cost, (d.expected_qty + d.planned_qty) * p.unit_cost AS expected_value,
       lt.lead_time_days, coalesce(st.on_hand, 0) AS on_hand
FROM parts_demand d
JOIN part p USING (part_no)
LEFT JOIN v_part_lead_time lt ON lt.part_no = d.part_no AND lt.site_id = d.site_id
LEFT JOIN stock st ON st.part_no = d.part_no AND st.site_id = d.site_id
WHERE d.computed_at = (SELECT max(computed_at) FROM parts_demand);

CREATE OR REPLACE VIEW v_inventory_policy AS
SELECT ip.computed_at, ip.part_no, p.description, ip.site_id, ip.lead_time_days,
       ip.service_level, ip.demand_per_day, ip.demand_sd_per_day, ip.safety_stock,
       ip.reorder_point, ip.kanban_bin_qty, ip.kanban_cards, ip.on_hand, ip.stockout_risk,
       ip.overstock, ip.on_order, ip.lead_time_demand, ip.stockout_probability, ip.excess_qty,
       ip.excess_value
FROM inventory_policy ip
JOIN part p USING (part_no)
WHERE ip.computed_at = (SELECT max(computed_at) FROM inventory_policy);

CREATE VIEW v_ticket_overflow AS
SELECT o.overflow_id, o.at, o.site_id, a.asset_tag, o.failure_mode, o.risk, o.priority,
       o.reason, o.asset_id
FROM ticket_overflow o
JOIN asset a USING (asset_id);

CREATE VIEW v_failure_label AS
SELECT l.label_id, a.site_id, a.asset_tag, l.component_type, l.failure_mode, l.time, l.failed,
       l.resolution_code, l.ticket_id, l.model_version_id, l.created_at, l.asset_id
FROM failure_label l
JOIN asset a USING (asset_id);

CREATE VIEW v_warranty_claim_forecast AS
SELECT w.computed_at, a.site_id, a.asset_tag, w.component_type, w.serial_no, w.part_no,
       w.warranty_end, w.failure_probability, w.expected_claim_cost, w.asset_id
FROM warranty_claim_forecast w
JOIN asset a USING (asset_id)
WHERE w.computed_at = (SELECT max(computed_at) FROM warranty_claim_forecast);

-- Bill of materials with kits expanded one level (kits cannot nest deeper in the loader's
-- output: it rejects cycles and flattens nested kits when computing demand).
CREATE VIEW v_bom AS
SELECT b.model_id, b.component_type, b.part_no AS bom_part_no, coalesce(k.part_no, b.part_no) AS part_no,
       b.qty * coalesce(k.qty, 1) AS qty, p.is_kit AS from_kit
FROM bom_item b
JOIN part p ON p.part_no = b.part_no
LEFT JOIN kit_item k ON k.kit_part_no = b.part_no;
