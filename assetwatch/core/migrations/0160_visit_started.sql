-- A visit under way: the technician is on site (status 'started' from started_at). A new
-- dispatch plan replaces only the visits still 'planned'; the close-out closes a planned or
-- a started visit.
ALTER TABLE visit DROP CONSTRAINT visit_status_check;
ALTER TABLE visit
    ADD CONSTRAINT visit_status_check
        CHECK (status IN ('planned', 'started', 'done', 'cancelled')),
    ADD COLUMN started_at timestamptz;

CREATE OR REPLACE VIEW v_visit AS
SELECT v.visit_id, v.plan_id, v.technician_id, t.name AS technician_name, v.site_id,
       s.name AS site_name, s.latitude, s.longitude, v.starts_at, v.ends_at, v.travel_minutes,
       extract(epoch FROM v.ends_at - v.starts_at) / 60 AS work_minutes, v.kit, v.status,
       v.finished_at, v.on_site_minutes, v.parts_used,
       (SELECT count(*) FROM visit_work w WHERE w.visit_id = v.visit_id) AS work_items,
       v.started_at
FROM visit v
JOIN technician t USING (technician_id)
JOIN site s ON s.site_id = v.site_id;
