-- Exactly once per reading: (asset, time, sensor) is the key of a reading.
--
-- The UNIQUE index replaces telemetry_asset_time (asset_id, time DESC) and serves the same
-- queries (it starts with the same two columns). TimescaleDB requires the time column in a
-- unique index of a hypertable, which it is. Readings stored more than once before this
-- migration are reduced to their first stored copy (lowest physical position in its chunk;
-- telemetry is never updated, so that is the first one written), chunk by chunk.
DO $$
DECLARE
    chunk regclass;
    removed bigint := 0;
    n bigint;
BEGIN
    -- Compressed chunks (Timescale licence) are decompressed first; the compression policy
    -- compresses them again later.
    IF EXISTS (SELECT 1 FROM timescaledb_information.chunks
               WHERE hypertable_name = 'telemetry' AND is_compressed) THEN
        EXECUTE 'SELECT count(decompress_chunk(format(''%I.%I'', chunk_schema, chunk_name)::regclass))'
                ' FROM timescaledb_information.chunks'
                ' WHERE hypertable_name = ''telemetry'' AND is_compressed';
    END IF;
    FOR chunk IN SELECT c FROM show_chunks('telemetry') AS c LOOP
        EXECUTE format(
            'DELETE FROM %s WHERE ctid IN (SELECT ctid FROM (SELECT ctid, row_number() OVER'
            ' (PARTITION BY asset_id, time, sensor_id ORDER BY ctid) AS copy FROM %s) AS d'
            ' WHERE d.copy > 1)', chunk, chunk);
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := removed + n;
    END LOOP;
    IF removed > 0 THEN
        RAISE NOTICE 'telemetry: % repeated readings removed (the first stored copy kept)',
            removed;
    END IF;
END
$$;

DROP INDEX telemetry_asset_time;
CREATE UNIQUE INDEX telemetry_reading ON telemetry (asset_id, time DESC, sensor_id);

-- Readings of a batch that were already stored (the same asset, time and sensor earlier in
-- the batch, in an earlier batch, or from a device re-sending under a new seq): not stored
-- again, counted here. Stored readings of a batch = readings - duplicate_readings.
ALTER TABLE ingest_batch ADD COLUMN duplicate_readings integer NOT NULL DEFAULT 0
    CHECK (duplicate_readings >= 0);

CREATE OR REPLACE VIEW v_ingest_batch AS
SELECT b.committed_at, b.received_at, a.site_id, a.asset_tag, b.seq, b.readings,
       b.first_reading_at, b.last_reading_at,
       extract(epoch FROM b.committed_at - b.last_reading_at) AS lag_s, b.asset_id,
       b.duplicate_readings
FROM ingest_batch b
JOIN asset a USING (asset_id);

-- readings counts what the batches carried; stored_readings what was new.
CREATE OR REPLACE VIEW v_ingest_rate AS
SELECT time_bucket(INTERVAL '1 minute', b.committed_at) AS minute,
       count(*) AS batches,
       sum(b.readings) AS readings,
       round(sum(b.readings) / 60.0, 1) AS readings_per_s,
       count(DISTINCT b.asset_id) AS assets,
       round(avg(extract(epoch FROM b.committed_at - b.received_at)), 3) AS avg_queue_s,
       round(avg(extract(epoch FROM b.committed_at - b.last_reading_at)), 3) AS avg_lag_s,
       round(max(extract(epoch FROM b.committed_at - b.last_reading_at)), 3) AS max_lag_s,
       sum(b.duplicate_readings) AS duplicate_readings,
       sum(b.readings - b.duplicate_readings) AS stored_readings,
       count(*) FILTER (WHERE b.duplicate_readings > 0) AS batches_with_duplicates
FROM ingest_batch b
GROUP BY 1;
