-- Ingest: dead letters stored once per (topic, payload), ingest health views.

-- A message re-delivered after a crash between commit and acknowledgement is dead-lettered once.
ALTER TABLE dead_letter
    ADD COLUMN payload_sha256 bytea GENERATED ALWAYS AS (sha256(payload)) STORED;
CREATE UNIQUE INDEX dead_letter_once ON dead_letter (topic, payload_sha256);
CREATE INDEX dead_letter_pending ON dead_letter (dead_letter_id) WHERE replayed_at IS NULL;

-- Rows per second and lag per minute of commit time.
--   queue_s: from taking the message off the broker to the commit;
--   lag_s:   from the batch's newest reading to the commit (includes the edge's batching).
CREATE VIEW v_ingest_rate AS
SELECT time_bucket(INTERVAL '1 minute', b.committed_at) AS minute,
       count(*) AS batches,
       sum(b.readings) AS readings,
       round(sum(b.readings) / 60.0, 1) AS readings_per_s,
       count(DISTINCT b.asset_id) AS assets,
       round(avg(extract(epoch FROM b.committed_at - b.received_at)), 3) AS avg_queue_s,
       round(avg(extract(epoch FROM b.committed_at - b.last_reading_at)), 3) AS avg_lag_s,
       round(max(extract(epoch FROM b.committed_at - b.last_reading_at)), 3) AS max_lag_s
FROM ingest_batch b
GROUP BY 1;

-- Dead letters per minute and reason class (indices and quoted names folded, one example kept).
CREATE VIEW v_dead_letter_rate AS
SELECT time_bucket(INTERVAL '1 minute', d.received_at) AS minute,
       regexp_replace(regexp_replace(split_part(d.reason, ': ', 1), '\[\d+\]', '[]', 'g'),
                      '''[^'']*''', '''*''', 'g') AS reason_class,
       count(*) AS dead_letters,
       round(count(*) / 60.0, 3) AS dead_letters_per_s,
       count(*) FILTER (WHERE d.replayed_at IS NOT NULL) AS replayed,
       min(d.reason) AS example_reason
FROM dead_letter d
GROUP BY 1, 2;

-- The newest state of ingest per asset: last batch, its lag, and how long ago it arrived.
CREATE VIEW v_ingest_lag AS
SELECT a.site_id, a.asset_tag, max(b.seq) AS last_seq, max(b.committed_at) AS last_committed_at,
       max(b.last_reading_at) AS last_reading_at,
       extract(epoch FROM now() - max(b.last_reading_at)) AS staleness_s,
       a.asset_id
FROM ingest_batch b
JOIN asset a USING (asset_id)
GROUP BY a.asset_id, a.site_id, a.asset_tag;
