-- v_fleet_health's predicted_risk is the asset's highest component risk (v_component_risk, 0030):
-- the higher of its 7-day and 30-day failure probabilities, so a component likely to fail within
-- 30 days is never shown as low risk. Every database converges here: a new one (0052 defined the
-- view by the shortest horizon) and one migrated before 0030 (whose upgrade block already wrote
-- this same text) alike.
CREATE OR REPLACE VIEW v_fleet_health AS
SELECT a.asset_id, a.asset_tag, a.site_id, s.name AS site_name, m.kind AS asset_kind, a.model_id,
       a.criticality, a.online, r.last_reading_at,
       extract(epoch FROM now() - r.last_reading_at) AS data_age_s,
       CASE WHEN r.last_reading_at IS NULL THEN 'no data'
            WHEN r.last_reading_at >= now() - interval '1 hour' THEN 'flowing'
            ELSE 'stale' END AS data_state,
       sc.anomaly_score,
       coalesce(cp.scored_until, sc.scored_until) AS last_scored_at,
       greatest(extract(epoch FROM r.last_reading_at
                        - coalesce(cp.scored_until, sc.scored_until)), 0) AS detector_lag_s,
       coalesce(tk.open_tickets, 0) AS open_tickets, tk.top_priority,
       rk.predicted_risk, rk.risk_horizon_days, rk.riskiest_component, rl.min_rul_days,
       CASE WHEN r.last_reading_at IS NULL THEN 'no data'
            WHEN coalesce(rk.predicted_risk, 0) >= 0.5 OR coalesce(sc.anomaly_score, 0) >= 0.9
                 OR tk.top_priority = 1 THEN 'critical'
            WHEN coalesce(rk.predicted_risk, 0) >= 0.2 OR coalesce(sc.anomaly_score, 0) >= 0.7
                 OR coalesce(tk.open_tickets, 0) > 0 THEN 'warning'
            ELSE 'ok' END AS health,
       CASE WHEN r.last_reading_at IS NULL THEN 3
            WHEN coalesce(rk.predicted_risk, 0) >= 0.5 OR coalesce(sc.anomaly_score, 0) >= 0.9
                 OR tk.top_priority = 1 THEN 2
            WHEN coalesce(rk.predicted_risk, 0) >= 0.2 OR coalesce(sc.anomaly_score, 0) >= 0.7
                 OR coalesce(tk.open_tickets, 0) > 0 THEN 1
            ELSE 0 END AS health_rank
FROM asset a
JOIN site s USING (site_id)
JOIN asset_model m USING (model_id)
LEFT JOIN LATERAL (
    SELECT max(t.time) AS last_reading_at FROM telemetry t WHERE t.asset_id = a.asset_id
) r ON true
LEFT JOIN LATERAL (
    SELECT max(l.score) AS anomaly_score, max(l.time) AS scored_until
    FROM (SELECT DISTINCT ON (x.detector) x.detector, x.time, x.score
          FROM anomaly_score x
          WHERE x.asset_id = a.asset_id
            AND x.time >= coalesce(r.last_reading_at, now()) - interval '1 day'
          ORDER BY x.detector, x.time DESC) l
) sc ON true
LEFT JOIN LATERAL (
    SELECT min(c.scored_until) AS scored_until FROM detector_checkpoint c
    WHERE c.asset_id = a.asset_id
) cp ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS open_tickets, min(st.priority) AS top_priority
    FROM service_ticket st WHERE st.asset_id = a.asset_id AND st.status <> 'closed'
) tk ON true
LEFT JOIN LATERAL (
    SELECT cr.risk AS predicted_risk, cr.risk_horizon_days,
           cr.component_type AS riskiest_component
    FROM v_component_risk cr WHERE cr.asset_id = a.asset_id
    ORDER BY cr.risk DESC, cr.component_type LIMIT 1
) rk ON true
LEFT JOIN LATERAL (
    SELECT min(fr.rul_days) AS min_rul_days FROM v_failure_risk fr WHERE fr.asset_id = a.asset_id
) rl ON true;
