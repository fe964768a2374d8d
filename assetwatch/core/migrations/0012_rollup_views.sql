-- The hourly rollup for dashboards, the same over either rollup variant (0011).
CREATE VIEW v_telemetry_hourly AS
SELECT a.site_id, a.asset_tag, se.name AS sensor, se.unit, h.bucket, h.avg, h.min, h.max, h.n,
       h.asset_id
FROM telemetry_hourly h
JOIN asset a USING (asset_id)
JOIN sensor se USING (sensor_id);
