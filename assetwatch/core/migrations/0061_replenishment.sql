-- Replenishment that runs: a rule per stocked (part, site), orders raised by the replenish
-- flow (proposed -> ordered -> received, partial receipts), on_order derived from open orders,
-- Kanban cards released one order per card.

ALTER TABLE part ADD COLUMN supplier text;

-- method 'reorder_point': order up to order_up_to when the position falls to reorder_point
-- (null: from the newest inventory policy). method 'kanban': cards x bin_qty in circulation;
-- an emptied bin releases its card, one order of bin_qty per card (2 cards = two-bin).
CREATE TABLE replenishment_rule (
    part_no        text NOT NULL REFERENCES part ON DELETE CASCADE,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    method         text NOT NULL CHECK (method IN ('reorder_point', 'kanban')),
    reorder_point  integer CHECK (reorder_point >= 0),
    order_up_to    integer CHECK (order_up_to > 0),
    bin_qty        integer CHECK (bin_qty > 0),
    cards          integer CHECK (cards >= 2),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (part_no, site_id),
    CHECK (method <> 'kanban' OR (bin_qty IS NOT NULL AND cards IS NOT NULL)),
    CHECK (order_up_to IS NULL OR reorder_point IS NULL OR order_up_to > reorder_point)
);

CREATE TABLE replenishment_order (
    order_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    part_no        text NOT NULL REFERENCES part,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    qty            integer NOT NULL CHECK (qty > 0),
    received_qty   integer NOT NULL DEFAULT 0 CHECK (received_qty >= 0 AND received_qty <= qty),
    state          text NOT NULL DEFAULT 'proposed'
                   CHECK (state IN ('proposed', 'ordered', 'received', 'cancelled')),
    kind           text NOT NULL CHECK (kind IN ('reorder_point', 'kanban', 'expedite', 'opening')),
    supplier       text,
    lead_time_days numeric(6, 1) NOT NULL CHECK (lead_time_days >= 0),
    card_no        integer,                 -- the Kanban card this order travels with
    ticket_id      bigint REFERENCES service_ticket ON DELETE SET NULL,  -- expedited for
    reason         text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    ordered_at     timestamptz,
    due_at         timestamptz,
    received_at    timestamptz,
    CHECK ((state = 'received') = (received_qty = qty))
);
CREATE INDEX replenishment_order_open ON replenishment_order (part_no, site_id)
    WHERE state IN ('proposed', 'ordered');
CREATE UNIQUE INDEX replenishment_order_card ON replenishment_order (part_no, site_id, card_no)
    WHERE state IN ('proposed', 'ordered') AND card_no IS NOT NULL;

-- Open orders per (part, site): ordered (with the supplier) and proposed (awaiting approval).
CREATE VIEW v_stock_on_order AS
SELECT part_no, site_id,
       coalesce(sum(qty - received_qty) FILTER (WHERE state = 'ordered'), 0)::integer AS ordered,
       coalesce(sum(qty - received_qty) FILTER (WHERE state = 'proposed'), 0)::integer AS proposed
FROM replenishment_order WHERE state IN ('proposed', 'ordered')
GROUP BY part_no, site_id;

-- on_order is now derived: what open orders (proposed or ordered) still bring.
CREATE OR REPLACE VIEW v_stock_available AS
SELECT st.part_no, p.description, st.site_id, st.on_hand,
       coalesce(r.reserved, 0) AS reserved,
       st.on_hand - coalesce(r.reserved, 0) AS available,
       coalesce(r.required, 0) - coalesce(r.reserved, 0) AS short,
       coalesce(o.ordered, 0) + coalesce(o.proposed, 0) AS on_order,
       st.updated_at,
       coalesce(o.ordered, 0) AS ordered, coalesce(o.proposed, 0) AS proposed
FROM stock st
JOIN part p USING (part_no)
LEFT JOIN v_stock_reserved r USING (part_no, site_id)
LEFT JOIN v_stock_on_order o USING (part_no, site_id);

CREATE VIEW v_replenishment_order AS
SELECT o.order_id, 'RO-' || lpad(o.order_id::text, 6, '0') AS order_no, o.part_no,
       p.description, o.site_id, o.kind, o.state, o.qty, o.received_qty,
       o.qty - o.received_qty AS outstanding_qty, o.supplier, o.lead_time_days, o.card_no,
       o.ticket_id, o.reason, o.created_at, o.ordered_at, o.due_at, o.received_at,
       o.qty * p.unit_cost AS value
FROM replenishment_order o
JOIN part p USING (part_no);

-- Each rule with the numbers it is judged on now: position = on hand - every open ticket's
-- kit (reserved or short) + open orders. Rules without numbers take the newest policy's
-- reorder point (rounded up) and order up to it plus one Kanban container.
CREATE VIEW v_replenishment_rule AS
SELECT r.part_no, r.site_id, r.method,
       coalesce(r.reorder_point, ceil(ip.reorder_point)::integer) AS reorder_point,
       coalesce(r.order_up_to, ceil(ip.reorder_point)::integer + ip.kanban_bin_qty)
           AS order_up_to,
       r.bin_qty, r.cards,
       coalesce(s.on_hand, 0) AS on_hand, coalesce(s.available, 0) AS available,
       coalesce(s.short, 0) AS short, coalesce(s.on_order, 0) AS on_order,
       coalesce(s.on_hand, 0) - coalesce(rs.required, 0) + coalesce(s.on_order, 0) AS position,
       r.reorder_point IS NULL AS from_policy, r.updated_at
FROM replenishment_rule r
LEFT JOIN v_stock_available s USING (part_no, site_id)
LEFT JOIN v_stock_reserved rs USING (part_no, site_id)
LEFT JOIN v_inventory_policy ip USING (part_no, site_id);

-- Kanban cards: each card is with a full bin at the site, or released (travelling with an
-- open order).
CREATE VIEW v_kanban_card AS
SELECT r.part_no, r.site_id, c.card_no, r.bin_qty,
       CASE WHEN o.order_id IS NULL THEN 'full' ELSE 'released' END AS state,
       o.order_id, o.state AS order_state, o.due_at
FROM replenishment_rule r
CROSS JOIN LATERAL generate_series(1, r.cards) AS c(card_no)
LEFT JOIN replenishment_order o ON o.part_no = r.part_no AND o.site_id = r.site_id
    AND o.card_no = c.card_no AND o.state IN ('proposed', 'ordered')
WHERE r.method = 'kanban';

-- The planner's export: open orders and every rule's signal, one row per (part, site).
CREATE VIEW v_replenishment_plan AS
SELECT r.site_id, r.part_no, p.description, r.method, r.reorder_point, r.order_up_to,
       r.bin_qty, r.cards, r.on_hand, r.available, r.short, r.on_order, r.position,
       coalesce(o.open_orders, 0) AS open_orders, o.next_due_at, p.supplier, lt.lead_time_days,
       p.unit_cost
FROM v_replenishment_rule r
JOIN part p USING (part_no)
LEFT JOIN v_part_lead_time lt USING (part_no, site_id)
LEFT JOIN (SELECT part_no, site_id, count(*)::integer AS open_orders, min(due_at) AS next_due_at
           FROM replenishment_order WHERE state IN ('proposed', 'ordered')
           GROUP BY part_no, site_id) o USING (part_no, site_id);
