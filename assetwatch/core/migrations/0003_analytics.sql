-- Anomaly scores and events, detector checkpoints, model registry, predictions,
-- parts demand, inventory policy and service tickets.
CREATE TABLE anomaly_score (
    time           timestamptz NOT NULL,
    asset_id       integer NOT NULL,
    detector       text NOT NULL,
    score          real NOT NULL CHECK (score >= 0 AND score <= 1),  -- higher = more anomalous
    UNIQUE (asset_id, detector, time)
);
SELECT create_hypertable('anomaly_score', by_range('time', INTERVAL '7 days'));

CREATE TABLE anomaly_event (
    anomaly_event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    detector       text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('anomaly', 'stale')),
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,                -- null: still open
    peak_score     real,
    sensors        text[] NOT NULL DEFAULT '{}' -- sensors that contributed most
);
CREATE INDEX anomaly_event_asset ON anomaly_event (asset_id, started_at DESC);

-- Per-asset detector state, so a restart resumes instead of relearning.
CREATE TABLE detector_checkpoint (
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    detector       text NOT NULL,
    state          bytea NOT NULL,
    scored_until   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset_id, detector)
);

CREATE TABLE model_version (
    model_version_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name     text NOT NULL,             -- e.g. failure-risk
    component_type text,
    version        integer NOT NULL,
    trained_at     timestamptz NOT NULL DEFAULT now(),
    train_from     timestamptz,
    train_to       timestamptz,
    params         jsonb NOT NULL DEFAULT '{}',
    features       text[] NOT NULL DEFAULT '{}',
    metrics        jsonb NOT NULL DEFAULT '{}',
    artifact       bytea,
    is_current     boolean NOT NULL DEFAULT false,
    UNIQUE (model_name, component_type, version)
);
CREATE UNIQUE INDEX model_version_current
    ON model_version (model_name, coalesce(component_type, '')) WHERE is_current;

CREATE TABLE failure_prediction (
    predicted_at   timestamptz NOT NULL,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    component_type text NOT NULL,
    horizon_days   integer NOT NULL CHECK (horizon_days > 0),
    failure_probability real NOT NULL CHECK (failure_probability BETWEEN 0 AND 1),
    rul_days       real,
    rul_low_days   real,
    rul_high_days  real,
    model_version_id integer NOT NULL REFERENCES model_version,
    PRIMARY KEY (asset_id, component_type, horizon_days, predicted_at)
);
CREATE INDEX failure_prediction_time ON failure_prediction (predicted_at DESC);

CREATE TABLE parts_demand (
    computed_at    timestamptz NOT NULL,
    part_no        text NOT NULL REFERENCES part,
    site_id        text NOT NULL REFERENCES site,
    period_start   date NOT NULL,
    period_end     date NOT NULL,
    expected_qty   real NOT NULL CHECK (expected_qty >= 0),
    upper_qty      real NOT NULL CHECK (upper_qty >= 0),   -- upper quantile (see quantile)
    quantile       real NOT NULL DEFAULT 0.95,
    planned_qty    real NOT NULL DEFAULT 0,                -- baseline from planned maintenance
    PRIMARY KEY (computed_at, part_no, site_id, period_start)
);

CREATE TABLE inventory_policy (
    computed_at    timestamptz NOT NULL,
    part_no        text NOT NULL REFERENCES part,
    site_id        text NOT NULL REFERENCES site,
    lead_time_days real NOT NULL,
    service_level  real NOT NULL,
    demand_per_day real NOT NULL,
    demand_sd_per_day real NOT NULL,
    safety_stock   real NOT NULL,
    reorder_point  real NOT NULL,
    kanban_bin_qty integer NOT NULL,
    kanban_cards   integer NOT NULL,
    on_hand        integer NOT NULL,
    stockout_risk  boolean NOT NULL,
    overstock      boolean NOT NULL,
    PRIMARY KEY (computed_at, part_no, site_id)
);

CREATE TABLE service_ticket (
    ticket_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    failure_mode   text NOT NULL,
    status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'scheduled', 'in_progress', 'closed')),
    priority       smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),  -- 1 = most urgent
    risk           real NOT NULL CHECK (risk BETWEEN 0 AND 1),
    due_at         timestamptz,
    opened_at      timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    scheduled_for  timestamptz,
    closed_at      timestamptz,
    resolution_code text CHECK (resolution_code IN ('confirmed_failure', 'no_fault_found',
                                'preventive_replacement', 'duplicate', 'cancelled')),
    kit            jsonb NOT NULL DEFAULT '[]',  -- [{"part_no": ..., "qty": ...}]
    evidence       jsonb NOT NULL DEFAULT '{}',  -- telemetry window, scores, model version
    opened_by      text NOT NULL DEFAULT 'auto',
    model_version_id integer REFERENCES model_version,
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX service_ticket_one_open
    ON service_ticket (asset_id, failure_mode) WHERE status <> 'closed';

CREATE TABLE ticket_history (
    ticket_id      bigint NOT NULL REFERENCES service_ticket ON DELETE CASCADE,
    at             timestamptz NOT NULL DEFAULT now(),
    change         text NOT NULL,
    detail         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_history_ticket ON ticket_history (ticket_id, at);
