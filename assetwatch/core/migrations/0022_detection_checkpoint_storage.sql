-- Checkpoints are rewritten on every scoring commit: leave room on each page for HOT updates,
-- and keep the (compressed) state inline rather than in the TOAST table where it fits.
ALTER TABLE detector_checkpoint SET (fillfactor = 50);
ALTER TABLE detector_checkpoint ALTER COLUMN state SET STORAGE MAIN;
