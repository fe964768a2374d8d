-- The stable read model: dashboards, planners' exports and external tools read v_* views only.
CREATE VIEW v_asset AS
SELECT a.asset_id, a.asset_tag, a.site_id, s.name AS site_name, s.customer, s.sla_hours,
       a.model_id, m.kind AS asset_kind, a.serial_no, a.commissioned_on, a.criticality,
       a.online, a.status_changed_at, a.last_seen_at
FROM asset a
JOIN site s USING (site_id)
JOIN asset_model m USING (model_id);

CREATE VIEW v_telemetry AS
SELECT t.time, a.site_id, a.asset_tag, se.name AS sensor, se.unit, t.value, t.asset_id
FROM telemetry t
JOIN asset a USING (asset_id)
JOIN sensor se USING (sensor_id);

CREATE VIEW v_anomaly_score AS
SELECT sc.time, a.site_id, a.asset_tag, sc.detector, sc.score, sc.asset_id
FROM anomaly_score sc
JOIN asset a USING (asset_id);

CREATE VIEW v_anomaly_event AS
SELECT e.anomaly_event_id, a.site_id, a.asset_tag, e.detector, e.kind, e.started_at,
       e.ended_at, e.ended_at IS NULL AS is_open, e.peak_score, e.sensors, e.asset_id
FROM anomaly_event e
JOIN asset a USING (asset_id);

CREATE VIEW v_asset_event AS
SELECT ev.event_id, a.site_id, a.asset_tag, ev.time, ev.kind, ev.component_type, ev.part_no,
       ev.serial_removed, ev.serial_installed, ev.code, ev.source, ev.asset_id
FROM asset_event ev
JOIN asset a USING (asset_id);

CREATE VIEW v_installed_component AS
SELECT a.site_id, a.asset_tag, ic.component_type, ic.serial_no, ic.part_no, ic.valid_from,
       ic.valid_to, ic.valid_to IS NULL AS is_current, ic.warranty_end,
       (ic.warranty_end IS NOT NULL AND ic.warranty_end >= current_date) AS under_warranty,
       ic.asset_id
FROM installed_component ic
JOIN asset a USING (asset_id);

CREATE VIEW v_asset_configuration AS
SELECT a.site_id, a.asset_tag, c.firmware, c.agent_version, c.config_hash, c.valid_from,
       c.valid_to, c.asset_id
FROM asset_configuration c
JOIN asset a USING (asset_id);

CREATE VIEW v_model_version AS
SELECT model_version_id, model_name, component_type, version, trained_at, train_from, train_to,
       params, features, metrics, is_current
FROM model_version;

-- The newest prediction per (asset, component, horizon).
CREATE VIEW v_failure_risk AS
SELECT DISTINCT ON (p.asset_id, p.component_type, p.horizon_days)
       p.predicted_at, a.site_id, a.asset_tag, p.component_type, p.horizon_days,
       p.failure_probability, p.rul_days, p.rul_low_days, p.rul_high_days,
       p.model_version_id, mv.version AS model_version, p.asset_id
FROM failure_prediction p
JOIN asset a USING (asset_id)
JOIN model_version mv USING (model_version_id)
ORDER BY p.asset_id, p.component_type, p.horizon_days, p.predicted_at DESC;

-- The newest demand run.
CREATE VIEW v_parts_demand AS
SELECT d.computed_at, d.part_no, p.description, d.site_id, d.period_start, d.period_end,
       d.expected_qty, d.upper_qty, d.quantile, d.planned_qty, p.unit_cost
FROM parts_demand d
JOIN part p USING (part_no)
WHERE d.computed_at = (SELECT max(computed_at) FROM parts_demand);

CREATE VIEW v_inventory_policy AS
SELECT ip.computed_at, ip.part_no, p.description, ip.site_id, ip.lead_time_days,
       ip.service_level, ip.demand_per_day, ip.demand_sd_per_day, ip.safety_stock,
       ip.reorder_point, ip.kanban_bin_qty, ip.kanban_cards, ip.on_hand, ip.stockout_risk,
       ip.overstock
FROM inventory_policy ip
JOIN part p USING (part_no)
WHERE ip.computed_at = (SELECT max(computed_at) FROM inventory_policy);

CREATE VIEW v_service_ticket AS
SELECT t.ticket_id, a.site_id, a.asset_tag, t.failure_mode, t.status, t.priority, t.risk,
       t.due_at, t.opened_at, t.updated_at, t.scheduled_for, t.closed_at, t.resolution_code,
       t.kit, t.evidence, t.opened_by, t.model_version_id,
       coalesce(t.closed_at, now()) - t.opened_at AS age, t.asset_id
FROM service_ticket t
JOIN asset a USING (asset_id);

-- Pipeline health.
CREATE VIEW v_ingest_batch AS
SELECT b.committed_at, b.received_at, a.site_id, a.asset_tag, b.seq, b.readings,
       b.first_reading_at, b.last_reading_at,
       extract(epoch FROM b.committed_at - b.last_reading_at) AS lag_s, b.asset_id
FROM ingest_batch b
JOIN asset a USING (asset_id);

CREATE VIEW v_dead_letter AS
SELECT dead_letter_id, received_at, topic, reason, octet_length(payload) AS payload_bytes,
       replayed_at, replay_result
FROM dead_letter;

-- Per-device completeness: batches missing between the first and the last seq seen.
CREATE VIEW v_device_completeness AS
SELECT a.site_id, a.asset_tag, min(b.seq) AS first_seq, max(b.seq) AS last_seq,
       count(*) AS batches, max(b.seq) - min(b.seq) + 1 - count(*) AS missing_batches,
       round(count(*)::numeric / (max(b.seq) - min(b.seq) + 1), 4) AS completeness,
       max(b.committed_at) AS last_committed_at, a.asset_id
FROM ingest_batch b
JOIN asset a USING (asset_id)
GROUP BY a.asset_id, a.site_id, a.asset_tag;
