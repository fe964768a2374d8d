-- Telemetry, the exactly-once batch ledger and dead letters.
CREATE TABLE telemetry (
    time           timestamptz NOT NULL,
    asset_id       integer NOT NULL,
    sensor_id      integer NOT NULL,
    value          double precision NOT NULL
);
SELECT create_hypertable('telemetry', by_range('time', INTERVAL '1 day'),
                         create_default_indexes => false);
CREATE INDEX telemetry_asset_time ON telemetry (asset_id, time DESC);

-- One row per (asset, seq) batch ever committed: a repeated batch is a no-op.
CREATE TABLE ingest_batch (
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    seq            bigint NOT NULL,
    readings       integer NOT NULL,
    first_reading_at timestamptz NOT NULL,
    last_reading_at  timestamptz NOT NULL,
    received_at    timestamptz NOT NULL,      -- when ingest took the message from the broker
    committed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset_id, seq)
);
CREATE INDEX ingest_batch_committed ON ingest_batch (committed_at);

-- Messages that failed validation, kept with the reason; replayable once fixed.
CREATE TABLE dead_letter (
    dead_letter_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at    timestamptz NOT NULL DEFAULT now(),
    topic          text NOT NULL,
    payload        bytea NOT NULL,
    reason         text NOT NULL,
    replayed_at    timestamptz,
    replay_result  text
);
CREATE INDEX dead_letter_received ON dead_letter (received_at);

-- Maintenance, part replacements, failures and controller errors, stored once per event_id.
CREATE TABLE asset_event (
    event_id       text PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    time           timestamptz NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('maintenance', 'part_replaced', 'failure',
                                                 'controller_error')),
    component_type text,
    part_no        text,
    serial_removed text,
    serial_installed text,
    code           text,
    detail         jsonb NOT NULL DEFAULT '{}',
    source         text NOT NULL DEFAULT 'edge'   -- edge, ticket, import
);
CREATE INDEX asset_event_asset_time ON asset_event (asset_id, time DESC);
