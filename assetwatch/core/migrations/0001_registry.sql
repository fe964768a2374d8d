-- Installed base registry: sites, asset models and their sensors, assets, components, parts.
CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE site (
    site_id        text PRIMARY KEY,
    name           text NOT NULL,
    customer       text,
    sla_hours      integer NOT NULL DEFAULT 72 CHECK (sla_hours > 0),
    timezone       text NOT NULL DEFAULT 'UTC'
);

CREATE TABLE asset_model (
    model_id       text PRIMARY KEY,
    kind           text NOT NULL,             -- centrifugal_pump, compressor, ...
    description    text
);

-- Sensor metadata comes from the asset model, not from every message.
CREATE TABLE model_sensor (
    model_id       text NOT NULL REFERENCES asset_model ON DELETE CASCADE,
    sensor         text NOT NULL,
    unit           text,
    description    text,
    PRIMARY KEY (model_id, sensor)
);

CREATE TABLE asset (
    asset_id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_tag      text NOT NULL UNIQUE,       -- the name used on the wire and in topics
    site_id        text NOT NULL REFERENCES site,
    model_id       text NOT NULL REFERENCES asset_model,
    serial_no      text,
    commissioned_on date,
    criticality    smallint NOT NULL DEFAULT 2 CHECK (criticality BETWEEN 1 AND 3), -- 1 = most critical
    online         boolean NOT NULL DEFAULT false,
    status_changed_at timestamptz,
    last_seen_at   timestamptz
);

CREATE TABLE sensor (
    sensor_id      integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    name           text NOT NULL,
    unit           text,
    UNIQUE (asset_id, name)
);

CREATE TABLE component_type (
    component_type text PRIMARY KEY,           -- bearing, seal, impeller, motor, ...
    description    text
);

-- What can go wrong; one open service ticket per (asset, failure_mode).
CREATE TABLE failure_mode (
    failure_mode   text PRIMARY KEY,
    component_type text NOT NULL REFERENCES component_type,
    description    text
);

CREATE TABLE part (
    part_no        text PRIMARY KEY,
    description    text NOT NULL,
    unit_cost      numeric(12, 2) NOT NULL CHECK (unit_cost >= 0),
    warranty_months integer NOT NULL DEFAULT 0 CHECK (warranty_months >= 0),
    is_kit         boolean NOT NULL DEFAULT false
);

CREATE TABLE kit_item (
    kit_part_no    text NOT NULL REFERENCES part ON DELETE CASCADE,
    part_no        text NOT NULL REFERENCES part,
    qty            integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (kit_part_no, part_no),
    CHECK (kit_part_no <> part_no)
);

CREATE TABLE part_lead_time (
    part_no        text NOT NULL REFERENCES part ON DELETE CASCADE,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    lead_time_days numeric(6, 1) NOT NULL CHECK (lead_time_days >= 0),
    PRIMARY KEY (part_no, site_id)
);

-- Bill of materials: which parts (and how many) a component of an asset model needs.
CREATE TABLE bom_item (
    model_id       text NOT NULL REFERENCES asset_model ON DELETE CASCADE,
    component_type text NOT NULL REFERENCES component_type,
    part_no        text NOT NULL REFERENCES part,
    qty            integer NOT NULL CHECK (qty > 0),
    PRIMARY KEY (model_id, component_type, part_no)
);

CREATE TABLE stock (
    part_no        text NOT NULL REFERENCES part ON DELETE CASCADE,
    site_id        text NOT NULL REFERENCES site ON DELETE CASCADE,
    on_hand        integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    on_order       integer NOT NULL DEFAULT 0 CHECK (on_order >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (part_no, site_id)
);

-- Configuration records: which component serial each asset had, and when.
CREATE TABLE installed_component (
    installed_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    component_type text NOT NULL REFERENCES component_type,
    serial_no      text NOT NULL,
    part_no        text REFERENCES part,
    valid_from     timestamptz NOT NULL,
    valid_to       timestamptz,                 -- null: still installed
    warranty_end   date,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE UNIQUE INDEX installed_component_current
    ON installed_component (asset_id, component_type) WHERE valid_to IS NULL;

-- Firmware, agent version and config hash over time, from birth messages.
CREATE TABLE asset_configuration (
    configuration_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    firmware       text,
    agent_version  text,
    config_hash    text,
    valid_from     timestamptz NOT NULL,
    valid_to       timestamptz
);
CREATE UNIQUE INDEX asset_configuration_current
    ON asset_configuration (asset_id) WHERE valid_to IS NULL;
