-- Alarm events: when the peak was, acknowledgment with a note, the operating state at onset.
ALTER TABLE anomaly_event
    ADD COLUMN peak_at timestamptz,
    ADD COLUMN acknowledged_at timestamptz,   -- null: not acknowledged
    ADD COLUMN ack_note text,
    ADD COLUMN state text;                    -- operating state at onset, where known

CREATE OR REPLACE VIEW v_anomaly_event AS
SELECT e.anomaly_event_id, a.site_id, a.asset_tag, e.detector, e.kind, e.started_at,
       e.ended_at, e.ended_at IS NULL AS is_open, e.peak_score, e.sensors, e.asset_id,
       e.peak_at, e.acknowledged_at IS NOT NULL AS acknowledged, e.acknowledged_at,
       e.ack_note, e.state
FROM anomaly_event e
JOIN asset a USING (asset_id);
