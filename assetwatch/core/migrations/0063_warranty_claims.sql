-- Warranty that is recorded, not only forecast: a failure of a component under warranty opens
-- a claim against the part's supplier with the evidence (the telemetry window and the anomaly
-- events before the failure); claims go open -> submitted -> accepted (recovered amount) or
-- rejected. The forecast gains the next 30 days, so forecast and actual claims compare per
-- month.

CREATE TABLE warranty_claim (
    claim_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial_no      text NOT NULL,
    part_no        text REFERENCES part,
    supplier       text,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    component_type text NOT NULL,
    failure_mode   text,
    failed_at      timestamptz NOT NULL,
    warranty_end   date NOT NULL,
    event_id       text UNIQUE,                  -- the failure event the claim is for
    state          text NOT NULL DEFAULT 'open'
                   CHECK (state IN ('open', 'submitted', 'accepted', 'rejected')),
    claimed_amount numeric(12, 2) NOT NULL CHECK (claimed_amount >= 0),
    recovered_amount numeric(12, 2) CHECK (recovered_amount >= 0),
    evidence       jsonb NOT NULL DEFAULT '{}',
    opened_at      timestamptz NOT NULL,
    submitted_at   timestamptz,
    settled_at     timestamptz,
    updated_at     timestamptz NOT NULL,
    CHECK (warranty_end >= failed_at::date),
    UNIQUE (serial_no, failed_at)
);

ALTER TABLE warranty_claim_forecast
    ADD COLUMN month_probability real CHECK (month_probability BETWEEN 0 AND 1),
    ADD COLUMN expected_month_cost numeric(14, 2);

CREATE VIEW v_warranty_claim AS
SELECT c.claim_id, 'WC-' || lpad(c.claim_id::text, 6, '0') AS claim_no, a.site_id, a.asset_tag,
       c.component_type, c.failure_mode, c.serial_no, c.part_no, c.supplier, c.failed_at,
       c.warranty_end, c.state, c.claimed_amount, c.recovered_amount,
       jsonb_array_length(coalesce(c.evidence->'anomalies', '[]')) AS anomaly_events,
       c.evidence->'window'->>'from' AS evidence_from, c.evidence->'window'->>'to' AS evidence_to,
       c.opened_at, c.submitted_at, c.settled_at, c.asset_id, c.evidence
FROM warranty_claim c
JOIN asset a USING (asset_id);

-- Per month: the forecast made at its start (the first forecast run of the month: expected
-- claims and cost within 30 days) against the claims for failures in that month.
CREATE VIEW v_warranty_claims_monthly AS
WITH runs AS (
    SELECT date_trunc('month', computed_at) AS month, min(computed_at) AS first_run
    FROM warranty_claim_forecast GROUP BY 1
), forecast AS (
    SELECT r.month, sum(f.month_probability)::real AS forecast_claims,
           sum(f.expected_month_cost) AS forecast_cost
    FROM runs r JOIN warranty_claim_forecast f ON f.computed_at = r.first_run
    GROUP BY r.month
), actual AS (
    SELECT date_trunc('month', failed_at) AS month, count(*)::integer AS actual_claims,
           sum(claimed_amount) AS claimed_amount, sum(recovered_amount) AS recovered_amount
    FROM warranty_claim GROUP BY 1
)
SELECT month, coalesce(f.forecast_claims, 0) AS forecast_claims,
       coalesce(f.forecast_cost, 0) AS forecast_cost,
       coalesce(a.actual_claims, 0) AS actual_claims,
       coalesce(a.claimed_amount, 0) AS claimed_amount,
       coalesce(a.recovered_amount, 0) AS recovered_amount
FROM forecast f FULL JOIN actual a USING (month);

CREATE OR REPLACE VIEW v_warranty_claim_forecast AS
SELECT w.computed_at, a.site_id, a.asset_tag, w.component_type, w.serial_no, w.part_no,
       w.warranty_end, w.failure_probability, w.expected_claim_cost, w.asset_id,
       w.month_probability, w.expected_month_cost
FROM warranty_claim_forecast w
JOIN asset a USING (asset_id)
WHERE w.computed_at = (SELECT max(computed_at) FROM warranty_claim_forecast);
