-- The hourly rollup keeps the within-hour spread: sum_sq, the sum of the squared readings, so
-- the standard deviation of any run of whole hours is exact:
--   var = (sum(sum_sq) - sum(n) * mean^2) / (sum(n) - 1),  mean = sum(avg * n) / sum(n).
-- Existing rows get it from the raw readings where those are still kept, else as if every
-- reading of the hour had been the hour's mean (no spread).
ALTER TABLE telemetry_hourly ADD COLUMN sum_sq double precision;

UPDATE telemetry_hourly h SET sum_sq = coalesce((
    SELECT sum(t.value * t.value) FROM telemetry t
    WHERE t.asset_id = h.asset_id AND t.sensor_id = h.sensor_id
      AND t.time >= h.bucket AND t.time < h.bucket + INTERVAL '1 hour'), h.n * h.avg * h.avg);

ALTER TABLE telemetry_hourly ALTER COLUMN sum_sq SET NOT NULL;

-- Recompute the rollup of the (asset, hour) buckets in _dirty_hours (a temporary table).
CREATE FUNCTION _rollup_dirty_hours() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM telemetry_hourly t USING _dirty_hours d
    WHERE t.asset_id = d.asset_id AND t.bucket = d.bucket;

    INSERT INTO telemetry_hourly (asset_id, sensor_id, bucket, avg, min, max, n, sum_sq)
    SELECT t.asset_id, t.sensor_id, d.bucket, avg(t.value), min(t.value), max(t.value), count(*),
           sum(t.value * t.value)
    FROM _dirty_hours d
    JOIN telemetry t ON t.asset_id = d.asset_id
                    AND t.time >= d.bucket AND t.time < d.bucket + INTERVAL '1 hour'
    GROUP BY t.asset_id, t.sensor_id, d.bucket;
END;
$$;

-- As in 0011: the buckets touched by batches committed since the last run (ingest ledger).
CREATE OR REPLACE FUNCTION refresh_telemetry_hourly() RETURNS integer
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

    PERFORM _rollup_dirty_hours();

    UPDATE telemetry_hourly_watermark SET refreshed_at = started;
    RETURN touched;
END;
$$;

-- Every hour that [t_from, t_to) touches, of ``assets`` (all when NULL), recomputed from the
-- raw readings in one pass: for readings that did not come through ingest (imports,
-- benchmarks loading by COPY), which the ledger does not know. Returns the rollup rows written.
CREATE FUNCTION refresh_telemetry_hourly_range(t_from timestamptz, t_to timestamptz,
                                               assets integer[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := time_bucket(INTERVAL '1 hour', t_from);
    hi timestamptz := time_bucket(INTERVAL '1 hour', t_to - INTERVAL '1 microsecond')
                      + INTERVAL '1 hour';
    written integer;
BEGIN
    DELETE FROM telemetry_hourly
    WHERE bucket >= lo AND bucket < hi AND (assets IS NULL OR asset_id = ANY(assets));

    INSERT INTO telemetry_hourly (asset_id, sensor_id, bucket, avg, min, max, n, sum_sq)
    SELECT asset_id, sensor_id, time_bucket(INTERVAL '1 hour', time), avg(value), min(value),
           max(value), count(*), sum(value * value)
    FROM telemetry
    WHERE time >= lo AND time < hi AND (assets IS NULL OR asset_id = ANY(assets))
    GROUP BY 1, 2, 3;
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END;
$$;

CREATE OR REPLACE VIEW v_telemetry_hourly AS
SELECT a.site_id, a.asset_tag, se.name AS sensor, se.unit, h.bucket, h.avg, h.min, h.max, h.n,
       h.asset_id, h.sum_sq
FROM telemetry_hourly h
JOIN asset a USING (asset_id)
JOIN sensor se USING (sensor_id);
