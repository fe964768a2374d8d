-- Stock committed to tickets. Every change of a site's on-hand stock is a row of the stock
-- ledger (stock_movement, written only by assetwatch/service/stock_ledger.py), so on_hand is
-- explained by its movements and never goes negative. An open ticket reserves its kit
-- (stock_reservation): available = on hand - reserved. What cannot be reserved is a shortage,
-- flagged on the ticket with the options to cover it (a transfer from another site, an
-- expedited order).

CREATE TABLE stock_movement (
    movement_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL,
    part_no        text NOT NULL REFERENCES part,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    qty            integer NOT NULL CHECK (qty <> 0),      -- + into stock, - out of stock
    kind           text NOT NULL CHECK (kind IN ('receipt', 'consumption', 'transfer_in',
                                                 'transfer_out', 'repair_return', 'adjustment')),
    ticket_id      bigint REFERENCES service_ticket ON DELETE SET NULL,
    reference      text,                                  -- order, transfer or repair
    on_hand_after  integer NOT NULL CHECK (on_hand_after >= 0)
);
CREATE INDEX stock_movement_key ON stock_movement (part_no, site_id, at);

CREATE TABLE stock_reservation (
    ticket_id      bigint NOT NULL REFERENCES service_ticket ON DELETE CASCADE,
    part_no        text NOT NULL REFERENCES part,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    required_qty   integer NOT NULL CHECK (required_qty > 0),
    reserved_qty   integer NOT NULL CHECK (reserved_qty >= 0 AND reserved_qty <= required_qty),
    state          text NOT NULL DEFAULT 'active'
                   CHECK (state IN ('active', 'consumed', 'released')),
    reserved_at    timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, part_no)
);
CREATE INDEX stock_reservation_active ON stock_reservation (part_no, site_id)
    WHERE state = 'active';

-- The shortage flag on the ticket, with the options found when it was last reserved.
ALTER TABLE service_ticket
    ADD COLUMN parts_short boolean NOT NULL DEFAULT false,
    ADD COLUMN shortage jsonb;

-- Days for stock sent from another site to arrive at this one; days for an expedited order.
ALTER TABLE site ADD COLUMN transfer_lead_time_days numeric(6, 1) NOT NULL DEFAULT 2
    CHECK (transfer_lead_time_days >= 0);
ALTER TABLE part ADD COLUMN expedite_lead_time_days numeric(6, 1)
    CHECK (expedite_lead_time_days >= 0);

-- Reserved quantity per (part, site): active reservations only.
CREATE VIEW v_stock_reserved AS
SELECT part_no, site_id, sum(reserved_qty)::integer AS reserved,
       sum(required_qty)::integer AS required
FROM stock_reservation WHERE state = 'active'
GROUP BY part_no, site_id;

-- Stock per (part, site): on hand, reserved by open tickets, available to promise, on order.
CREATE VIEW v_stock_available AS
SELECT st.part_no, p.description, st.site_id, st.on_hand,
       coalesce(r.reserved, 0) AS reserved,
       st.on_hand - coalesce(r.reserved, 0) AS available,
       coalesce(r.required, 0) - coalesce(r.reserved, 0) AS short,
       st.on_order, st.updated_at
FROM stock st
JOIN part p USING (part_no)
LEFT JOIN v_stock_reserved r USING (part_no, site_id);

-- Every part of every open ticket's kit: what is reserved, what is short, and the options to
-- cover a shortage: the other site with the most available stock (transfer, with the
-- receiving site's transfer lead time) and an expedited order (expedite lead time, else the
-- normal lead time).
CREATE VIEW v_ticket_parts AS
SELECT r.ticket_id, r.site_id, a.asset_tag, t.failure_mode, t.status, t.priority, t.due_at,
       r.part_no, p.description, r.required_qty, r.reserved_qty,
       r.required_qty - r.reserved_qty AS short_qty, r.state,
       coalesce(sa.on_hand, 0) AS on_hand, coalesce(sa.available, 0) AS available,
       tr.site_id AS transfer_site_id, tr.available AS transfer_available,
       CASE WHEN tr.site_id IS NOT NULL THEN s.transfer_lead_time_days END
           AS transfer_lead_time_days,
       coalesce(p.expedite_lead_time_days, lt.lead_time_days) AS expedite_lead_time_days,
       r.reserved_at, r.updated_at, t.asset_id
FROM stock_reservation r
JOIN service_ticket t USING (ticket_id)
JOIN asset a ON a.asset_id = t.asset_id
JOIN site s ON s.site_id = r.site_id
JOIN part p ON p.part_no = r.part_no
LEFT JOIN v_stock_available sa ON sa.part_no = r.part_no AND sa.site_id = r.site_id
LEFT JOIN v_part_lead_time lt ON lt.part_no = r.part_no AND lt.site_id = r.site_id
LEFT JOIN LATERAL (
    SELECT o.site_id, o.available FROM v_stock_available o
    WHERE o.part_no = r.part_no AND o.site_id <> r.site_id
      AND o.available >= r.required_qty - r.reserved_qty AND o.available > 0
    ORDER BY o.available DESC, o.site_id LIMIT 1) tr ON r.required_qty > r.reserved_qty
WHERE r.state = 'active';

-- Open tickets whose kit is not fully reserved: the shortage list a planner works from.
CREATE VIEW v_ticket_shortage AS
SELECT ticket_id, site_id, asset_tag, failure_mode, status, priority, due_at,
       count(*)::integer AS parts_short, sum(short_qty)::integer AS short_qty,
       bool_and(transfer_site_id IS NOT NULL) AS transfer_covers,
       max(transfer_lead_time_days) AS transfer_lead_time_days,
       max(expedite_lead_time_days) AS expedite_lead_time_days,
       string_agg(part_no || ' x' || short_qty
                  || coalesce(' (transfer from ' || transfer_site_id || ')', ''), ', '
                  ORDER BY part_no) AS options,
       asset_id
FROM v_ticket_parts
WHERE short_qty > 0
GROUP BY ticket_id, site_id, asset_tag, failure_mode, status, priority, due_at, asset_id;

CREATE VIEW v_stock_movement AS
SELECT m.movement_id, m.at, m.part_no, m.site_id, m.qty, m.kind, m.ticket_id, m.reference,
       m.on_hand_after
FROM stock_movement m;

-- The inventory policy counts reservations: the kits committed to open tickets.
ALTER TABLE inventory_policy ADD COLUMN reserved integer NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW v_inventory_policy AS
SELECT ip.computed_at, ip.part_no, p.description, ip.site_id, ip.lead_time_days,
       ip.service_level, ip.demand_per_day, ip.demand_sd_per_day, ip.safety_stock,
       ip.reorder_point, ip.kanban_bin_qty, ip.kanban_cards, ip.on_hand, ip.stockout_risk,
       ip.overstock, ip.on_order, ip.lead_time_demand, ip.stockout_probability, ip.excess_qty,
       ip.excess_value, ip.reserved
FROM inventory_policy ip
JOIN part p USING (part_no)
WHERE ip.computed_at = (SELECT max(computed_at) FROM inventory_policy);
