-- The hourly rollup keeps the within-hour spread: sum_sq, the sum of the squared readings, so
-- the standard deviation of any run of whole hours is exact (see the apache variant). A
-- continuous aggregate cannot gain a column, so it is made again with it; hours whose raw
-- chunks were already dropped by retention are not in the new aggregate.
DROP VIEW IF EXISTS v_telemetry_hourly;
DROP MATERIALIZED VIEW telemetry_hourly;

CREATE MATERIALIZED VIEW telemetry_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT asset_id, sensor_id, time_bucket(INTERVAL '1 hour', time) AS bucket,
       avg(value) AS avg, min(value) AS min, max(value) AS max, count(*) AS n,
       sum(value * value) AS sum_sq
FROM telemetry
GROUP BY asset_id, sensor_id, time_bucket(INTERVAL '1 hour', time)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('telemetry_hourly',
    start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');

-- Same signature as the apache variant; the aggregate is real-time, so readings loaded without
-- the ingest ledger are in it already.
CREATE FUNCTION refresh_telemetry_hourly_range(t_from timestamptz, t_to timestamptz,
                                               assets integer[] DEFAULT NULL)
RETURNS integer
LANGUAGE sql AS $$ SELECT 0 $$;

CREATE VIEW v_telemetry_hourly AS
SELECT a.site_id, a.asset_tag, se.name AS sensor, se.unit, h.bucket, h.avg, h.min, h.max, h.n,
       h.asset_id, h.sum_sq
FROM telemetry_hourly h
JOIN asset a USING (asset_id)
JOIN sensor se USING (sensor_id);
