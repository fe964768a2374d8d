-- A failure mode's expected share of its component's failures (master data, optional): the
-- likeliest mode is the diagnosis a component's predicted risk is ticketed under when no
-- anomaly event and no open ticket points to another.
ALTER TABLE failure_mode ADD COLUMN share real CHECK (share > 0 AND share <= 1);
