-- Model governance: a trained version that validates better than the champion does not take
-- over at once; it is scored in shadow next to the champion, and the two are compared on the
-- outcomes that arrive (failures, or none, once each prediction's horizon has passed). Every
-- change of champion is in the audit trail with who or what made it and why.

ALTER TABLE model_version
    ADD COLUMN shadow_from  timestamptz,   -- set: a challenger scored in shadow since then
    ADD COLUMN shadow_until timestamptz,   -- the earliest time the comparison may decide
    ADD COLUMN retired_at   timestamptz;   -- a challenger that lost, or was retired by hand

-- At most one live challenger per model and component type.
CREATE UNIQUE INDEX model_version_challenger
    ON model_version (model_name, coalesce(component_type, ''))
    WHERE shadow_from IS NOT NULL AND retired_at IS NULL AND NOT is_current;

-- The challenger's predictions: the same rows as failure_prediction, kept apart so tickets,
-- demand and dashboards read only the champion's.
CREATE TABLE shadow_prediction (
    predicted_at   timestamptz NOT NULL,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    component_type text NOT NULL,
    horizon_days   integer NOT NULL CHECK (horizon_days > 0),
    failure_probability real NOT NULL CHECK (failure_probability BETWEEN 0 AND 1),
    rul_days       real,
    rul_low_days   real,
    rul_high_days  real,
    model_version_id integer NOT NULL REFERENCES model_version ON DELETE CASCADE,
    PRIMARY KEY (model_version_id, asset_id, component_type, horizon_days, predicted_at)
);

-- Each review of a challenger against the champion on live outcomes.
CREATE TABLE model_comparison (
    compared_at    timestamptz NOT NULL DEFAULT now(),
    challenger_id  integer NOT NULL REFERENCES model_version ON DELETE CASCADE,
    champion_id    integer NOT NULL REFERENCES model_version ON DELETE CASCADE,
    predictions    integer NOT NULL,   -- matured prediction rows compared (both models)
    outcomes       integer NOT NULL,   -- failures those predictions were followed by
    challenger_score double precision,
    champion_score double precision,
    decision       text NOT NULL CHECK (decision IN ('wait', 'promote', 'retire')),
    reason         text NOT NULL,
    PRIMARY KEY (challenger_id, compared_at)
);

CREATE TABLE model_audit (
    audit_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    model_version_id integer NOT NULL REFERENCES model_version ON DELETE CASCADE,
    action         text NOT NULL CHECK (action IN ('promoted', 'rolled_back', 'shadow_started',
                                                   'retired', 'kept')),
    actor          text NOT NULL,      -- 'train flow', 'score flow', or the user at a command
    reason         text NOT NULL,
    previous_id    integer REFERENCES model_version ON DELETE SET NULL
);
CREATE INDEX model_audit_version ON model_audit (model_version_id, at);

CREATE OR REPLACE VIEW v_model_version AS
SELECT v.model_version_id, v.model_name, v.component_type, v.version, v.trained_at,
       v.train_from, v.train_to, v.params, v.features, v.metrics, v.is_current,
       CASE WHEN v.is_current THEN 'champion'
            WHEN v.retired_at IS NOT NULL THEN 'retired'
            WHEN v.shadow_from IS NOT NULL THEN 'challenger'
            ELSE 'candidate' END AS stage,
       v.params ->> 'kind' AS kind, (v.metrics ->> 'score')::double precision AS score,
       v.shadow_from, v.shadow_until, v.retired_at,
       c.compared_at, c.predictions, c.outcomes, c.challenger_score, c.champion_score,
       c.decision AS last_decision
FROM model_version v
LEFT JOIN LATERAL (SELECT * FROM model_comparison mc WHERE mc.challenger_id = v.model_version_id
                   ORDER BY mc.compared_at DESC LIMIT 1) c ON true;

CREATE VIEW v_model_audit AS
SELECT au.at, v.model_name, v.component_type, v.version, au.action, au.actor, au.reason,
       p.version AS previous_version, au.model_version_id
FROM model_audit au
JOIN model_version v USING (model_version_id)
LEFT JOIN model_version p ON p.model_version_id = au.previous_id;
