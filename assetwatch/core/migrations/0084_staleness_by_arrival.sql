-- An asset's usual reporting interval is how often its messages arrive (the median gap between
-- the arrivals of its last 20 batches), not the gap between the newest readings of its
-- batches: an agent backfilling a spool sends weeks of readings in minutes, and big batches
-- of old readings would make an asset look like it reports once every few days. Stale is still
-- judged on the newest reading: silent longer than that interval plus the site's grace.
CREATE OR REPLACE VIEW v_asset_staleness AS
WITH recent AS (
    SELECT b.asset_id, b.last_reading_at, b.received_at,
           row_number() OVER (PARTITION BY b.asset_id ORDER BY b.received_at DESC) AS k
    FROM ingest_batch b
), gaps AS (
    SELECT asset_id, last_reading_at,
           received_at - lead(received_at) OVER (PARTITION BY asset_id
                                                 ORDER BY received_at DESC) AS gap
    FROM recent WHERE k <= 21
), per_asset AS (
    SELECT asset_id, max(last_reading_at) AS last_reading_at,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM gap))
               FILTER (WHERE gap > interval '0') AS interval_s
    FROM gaps GROUP BY asset_id
), newest AS (
    SELECT asset_id, max(last_reading_at) AS last_reading_at FROM ingest_batch GROUP BY asset_id
)
SELECT a.site_id, a.asset_tag, n.last_reading_at,
       round(coalesce(p.interval_s, 0)::numeric, 1) AS interval_s,
       s.stale_grace_minutes, s.connectivity_ticket_minutes,
       extract(epoch FROM now() - n.last_reading_at) AS silent_s,
       extract(epoch FROM now() - n.last_reading_at)
           > coalesce(p.interval_s, 0) + 60 * s.stale_grace_minutes AS stale,
       a.asset_id
FROM per_asset p
JOIN newest n USING (asset_id)
JOIN asset a USING (asset_id)
JOIN site s ON s.site_id = a.site_id;
