-- Hourly rollup of telemetry with the Timescale-licensed features: a continuous aggregate with a
-- refresh policy (real-time, so the newest hour is current), and compression of older chunks.
CREATE MATERIALIZED VIEW telemetry_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT asset_id, sensor_id, time_bucket(INTERVAL '1 hour', time) AS bucket,
       avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS n
FROM telemetry
GROUP BY asset_id, sensor_id, time_bucket(INTERVAL '1 hour', time)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('telemetry_hourly',
    start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');

ALTER TABLE telemetry SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'asset_id, sensor_id',
    timescaledb.compress_orderby = 'time DESC');
SELECT add_compression_policy('telemetry', INTERVAL '7 days');

-- Same signature as the Apache variant; housekeeping refreshes the aggregate itself
-- (refresh_continuous_aggregate cannot run inside a function), so this only reports.
CREATE FUNCTION refresh_telemetry_hourly() RETURNS integer
LANGUAGE sql AS $$ SELECT 0 $$;
