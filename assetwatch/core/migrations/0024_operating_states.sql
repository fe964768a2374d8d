-- Operating states: each score carries the asset's state (stopped, starting, running,
-- stopping) and load regime; an asset model may name the sensor its state is read from.
ALTER TABLE anomaly_score
    ADD COLUMN state text CHECK (state IN ('stopped', 'starting', 'running', 'stopping')),
    ADD COLUMN regime smallint;                -- load regime while on, per asset

ALTER TABLE asset_model
    ADD COLUMN state_sensor text,              -- e.g. speed, motor_current, run; null = inferred
    ADD COLUMN state_running_above real;       -- on above this level; null = inferred

CREATE OR REPLACE VIEW v_anomaly_score AS
SELECT sc.time, a.site_id, a.asset_tag, sc.detector, sc.score, sc.asset_id, sc.state,
       sc.regime
FROM anomaly_score sc
JOIN asset a USING (asset_id);
