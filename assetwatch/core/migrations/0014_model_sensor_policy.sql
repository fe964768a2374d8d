-- Sensors belong to the asset model: ingest dead-letters a reading for a sensor that the
-- asset's model does not declare in model_sensor, unless the model allows new sensors
-- (which are then registered on first sight, without a unit).
ALTER TABLE asset_model ADD COLUMN allow_new_sensors boolean NOT NULL DEFAULT false;
