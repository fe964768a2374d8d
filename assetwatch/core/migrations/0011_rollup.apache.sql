-- Hourly rollup of telemetry on the Apache build of TimescaleDB: a plain table kept current by
-- refresh_telemetry_hourly(), which recomputes the (asset, hour) buckets that batches committed
-- since its last run touched (found through the ingest_batch ledger, so late data is included).
CREATE TABLE telemetry_hourly (
    asset_id       integer NOT NULL,
    sensor_id      integer NOT NULL,
    bucket         timestamptz NOT NULL,
    avg            double precision NOT NULL,
    min            double precision NOT NULL,
    max            double precision NOT NULL,
    n              bigint NOT NULL,
    PRIMARY KEY (asset_id, bucket, sensor_id)
);

CREATE TABLE telemetry_hourly_watermark (
    only_row       boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    refreshed_at   timestamptz NOT NULL
);
INSERT INTO telemetry_hourly_watermark (refreshed_at) VALUES ('-infinity');

-- Returns the number of (asset, hour) buckets recomputed. Batches committed up to five minutes
-- before the last run are looked at again, so a transaction that committed late is not missed
-- (recomputing a bucket is idempotent).
CREATE FUNCTION refresh_telemetry_hourly() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    since timestamptz;
    started timestamptz := clock_timestamp();
    touched integer;
BEGIN
    SELECT refreshed_at - INTERVAL '5 minutes' INTO since
    FROM telemetry_hourly_watermark FOR UPDATE;

    CREATE TEMP TABLE IF NOT EXISTS _dirty_hours (asset_id integer, bucket timestamptz)
        ON COMMIT DROP;
    TRUNCATE _dirty_hours;
    INSERT INTO _dirty_hours
    SELECT DISTINCT b.asset_id, h.bucket
    FROM ingest_batch b,
         generate_series(time_bucket(INTERVAL '1 hour', b.first_reading_at),
                         b.last_reading_at, INTERVAL '1 hour') AS h(bucket)
    WHERE b.committed_at >= since;
    GET DIAGNOSTICS touched = ROW_COUNT;

    DELETE FROM telemetry_hourly t USING _dirty_hours d
    WHERE t.asset_id = d.asset_id AND t.bucket = d.bucket;

    INSERT INTO telemetry_hourly (asset_id, sensor_id, bucket, avg, min, max, n)
    SELECT t.asset_id, t.sensor_id, d.bucket, avg(t.value), min(t.value), max(t.value), count(*)
    FROM _dirty_hours d
    JOIN telemetry t ON t.asset_id = d.asset_id
                    AND t.time >= d.bucket AND t.time < d.bucket + INTERVAL '1 hour'
    GROUP BY t.asset_id, t.sensor_id, d.bucket;

    UPDATE telemetry_hourly_watermark SET refreshed_at = started;
    RETURN touched;
END;
$$;
