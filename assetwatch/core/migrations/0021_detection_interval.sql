-- Each asset's typical reporting interval, so staleness is judged against its own cadence.
ALTER TABLE detector_checkpoint ADD COLUMN sample_interval_s real;
