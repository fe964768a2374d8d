-- The hourly rollup (a plain table in the Apache build) gets a block-range index on its hour.
--
-- Its primary key leads with the asset, so a fleet-wide read of the last days' hours (the score
-- flow's features, a fleet panel) scanned the whole table: 0.9 s on a year of 100 assets
-- (10 M rows), most of a daily scoring. Hours are rolled up in time order (a refresh rewrites
-- recent hours), so a BRIN on the hour finds that range at almost no cost per row written:
-- 0.02 s for the same scan. (The Timescale build's continuous aggregate is a hypertable
-- chunked by time already.)
CREATE INDEX IF NOT EXISTS telemetry_hourly_bucket_brin ON telemetry_hourly USING brin (bucket);
