-- The supervised ingest worker pool (`assetwatch ingest run --workers N`): one row per worker,
-- written by the pool's parent process on every start, exit and restart, and every
-- heartbeat (seen_at) while the pool runs.
CREATE TABLE ingest_worker (
    client_id      text PRIMARY KEY,          -- the worker's MQTT client id (kept on restart)
    host           text NOT NULL,
    pool_pid       integer NOT NULL,          -- the supervising parent process
    pid            integer,                   -- the worker process now (or last)
    state          text NOT NULL CHECK (state IN ('running', 'restarting', 'stopped')),
    restarts       integer NOT NULL DEFAULT 0,
    last_exit      text,                      -- 'exit code 1', 'killed by SIGKILL', ...
    last_exit_code integer,                   -- negative: killed by that signal number
    last_exit_at   timestamptz,
    last_restart_at timestamptz,
    started_at     timestamptz,               -- when the current process was started
    seen_at        timestamptz NOT NULL DEFAULT now()
);

-- A worker whose pool has not reported for a minute is shown as 'lost' (the parent is gone).
CREATE VIEW v_ingest_worker AS
SELECT w.client_id, w.host, w.pid,
       CASE WHEN w.state <> 'stopped' AND w.seen_at < now() - INTERVAL '1 minute'
            THEN 'lost' ELSE w.state END AS state,
       w.restarts, w.last_exit, w.last_exit_code, w.last_exit_at, w.last_restart_at,
       w.started_at,
       CASE WHEN w.state = 'running' THEN extract(epoch FROM now() - w.started_at) END
           AS up_s,
       w.seen_at, w.pool_pid
FROM ingest_worker w;

-- On a database migrated before the read-only role existed, 0051 grants this view; on one
-- migrated after, grant it now (the event trigger does it too where it could be installed).
DO $$
BEGIN
    IF to_regprocedure('assetwatch_grant_reader()') IS NOT NULL THEN
        PERFORM assetwatch_grant_reader();
    END IF;
END
$$;
