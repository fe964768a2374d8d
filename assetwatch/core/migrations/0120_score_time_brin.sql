-- Anomaly scores: a BRIN index on time instead of the B-tree the hypertable was created with.
--
-- Every stored score also went into a B-tree on time, about a third of the database's work per
-- score written by the detection service (measured: binary COPY of 60,000 scores). Scores
-- arrive in time order (each round writes the newest samples of its assets), so a block-range
-- index finds the time ranges that fleet-wide panels ask for, at almost no cost per row.
-- Queries per asset keep using the unique (asset_id, detector, time) index.
DROP INDEX IF EXISTS anomaly_score_time_idx;
CREATE INDEX anomaly_score_time_brin ON anomaly_score USING brin (time);
