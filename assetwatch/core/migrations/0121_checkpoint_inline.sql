-- Detector checkpoints: keep states up to a page inline without trying to compress them.
--
-- A checkpoint row is rewritten on every scoring round of its asset. Its state (a pickle of
-- about 2.7 kB for 8 sensors, mostly floats) is over the default 2 kB target, so PostgreSQL
-- tried to compress it on every write, failed to gain enough and stored it as it was: about a
-- fifth of the row's write cost (measured: 46-52 us per upsert against 38-40 us without).
ALTER TABLE detector_checkpoint SET (toast_tuple_target = 8160);
