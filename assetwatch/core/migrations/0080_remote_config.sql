-- Remote configuration of the edge agents, from the server: what an operator wants (desired,
-- published retained on .../config) and what each agent reports in its birth (accepted or
-- rejected with a reason, the hash of the active document).
CREATE TABLE asset_config_desired (
    asset_id     integer PRIMARY KEY REFERENCES asset ON DELETE CASCADE,
    document     jsonb NOT NULL,
    document_hash text NOT NULL,
    set_at       timestamptz NOT NULL DEFAULT now(),
    set_by       text,
    pushed_at    timestamptz          -- NULL: stored, not published yet
);

CREATE TABLE asset_config_reported (
    asset_id     integer PRIMARY KEY REFERENCES asset ON DELETE CASCADE,
    reported_at  timestamptz NOT NULL, -- the birth message's own time
    state        text NOT NULL,        -- local, accepted, rejected
    reason       text,                 -- why the agent rejected the last document
    active_hash  text,                 -- hash of the remote document the agent runs with
    config_hash  text                  -- the agent's effective configuration hash
);

-- Desired against reported, per asset. drift: a pushed document the agent does not run
-- (rejected, or not (yet) reported as active).
CREATE VIEW v_asset_config AS
SELECT a.site_id, a.asset_tag, d.document AS desired, d.document_hash AS desired_hash,
       d.set_at, d.set_by, d.pushed_at, r.reported_at, r.state AS reported_state, r.reason,
       r.active_hash, r.config_hash,
       (d.pushed_at IS NOT NULL
        AND (r.active_hash IS DISTINCT FROM d.document_hash OR r.state = 'rejected')) AS drift,
       a.asset_id
FROM asset a
LEFT JOIN asset_config_desired d USING (asset_id)
LEFT JOIN asset_config_reported r USING (asset_id)
WHERE d.asset_id IS NOT NULL OR r.asset_id IS NOT NULL;
