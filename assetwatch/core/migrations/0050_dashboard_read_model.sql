-- Read model for the dashboards and the report: a per-asset health roll-up and flow run states.

-- Flow run states, written by a Prefect state hook (assetwatch.dashboards.flow_runs) so the
-- pipeline-health dashboard can show them without reading Prefect's own database.
CREATE TABLE flow_run_state (
    flow_run_id    text PRIMARY KEY,
    flow_name      text NOT NULL,
    deployment     text,
    state          text NOT NULL,             -- Prefect state type: COMPLETED, FAILED, RUNNING, ...
    state_name     text,
    started_at     timestamptz,
    ended_at       timestamptz,
    message        text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flow_run_state_updated ON flow_run_state (updated_at DESC);

CREATE VIEW v_flow_run AS
SELECT flow_run_id, flow_name, deployment, state, state_name, started_at, ended_at,
       extract(epoch FROM ended_at - started_at) AS duration_s, message, updated_at
FROM flow_run_state;

-- One row per asset: is data flowing, how anomalous is it now, what is open, what is predicted.
-- anomaly_score: the newest score of each detector, the highest of them.
-- predicted_risk: the highest failure probability at the asset's shortest horizon.
-- health: 'no data', 'critical', 'warning' or 'ok' (health_rank 3, 2, 1, 0).
CREATE VIEW v_fleet_health AS
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
          FROM anomaly_score x WHERE x.asset_id = a.asset_id
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
    SELECT fr.failure_probability AS predicted_risk, fr.horizon_days AS risk_horizon_days,
           fr.component_type AS riskiest_component
    FROM v_failure_risk fr WHERE fr.asset_id = a.asset_id
    ORDER BY fr.horizon_days, fr.failure_probability DESC LIMIT 1
) rk ON true
LEFT JOIN LATERAL (
    SELECT min(fr.rul_days) AS min_rul_days FROM v_failure_risk fr WHERE fr.asset_id = a.asset_id
) rl ON true;
