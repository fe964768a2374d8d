-- Anomaly detection service: warm-up progress in checkpoints, open-event lookups, status view.
ALTER TABLE detector_checkpoint
    ADD COLUMN samples bigint NOT NULL DEFAULT 0,     -- samples learned so far
    ADD COLUMN warm boolean NOT NULL DEFAULT false;   -- warm-up over: scores and events flow

CREATE INDEX anomaly_event_open
    ON anomaly_event (asset_id, detector, kind) WHERE ended_at IS NULL;

-- Per asset and detector: how far scoring got and whether the model is still learning.
CREATE VIEW v_detector_status AS
SELECT a.site_id, a.asset_tag, c.detector, c.samples, c.warm, c.scored_until, c.updated_at,
       extract(epoch FROM now() - c.scored_until) AS behind_s, c.asset_id
FROM detector_checkpoint c
JOIN asset a USING (asset_id);
