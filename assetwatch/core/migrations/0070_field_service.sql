-- Field service: where sites are and what their contracts promise, the technicians (home base,
-- skills, working calendar), SLA clocks on tickets, preventive maintenance as work orders,
-- dispatch plans with their visits, and the technician's close-out.
--
-- This migration references only objects of migrations numbered below it, so it applies
-- the same on a fresh database and after later-numbered ones.

-- Sites: coordinates (travel times) and the contract's response and restore times (hours).
-- A site without response_hours answers within its sla_hours.
ALTER TABLE site
    ADD COLUMN latitude double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD COLUMN response_hours real CHECK (response_hours > 0),
    ADD COLUMN restore_hours real CHECK (restore_hours > 0),
    ADD CONSTRAINT site_coordinates_both CHECK ((latitude IS NULL) = (longitude IS NULL));

-- How long a repair of this failure mode keeps a technician on site.
ALTER TABLE failure_mode
    ADD COLUMN repair_minutes integer NOT NULL DEFAULT 120 CHECK (repair_minutes > 0);

-- Maintenance plans by calendar time, run hours or starts (at least one interval), and how
-- long the task takes.
ALTER TABLE maintenance_plan
    ALTER COLUMN interval_days DROP NOT NULL,
    ADD COLUMN interval_run_hours integer CHECK (interval_run_hours > 0),
    ADD COLUMN interval_starts integer CHECK (interval_starts > 0),
    ADD COLUMN duration_minutes integer NOT NULL DEFAULT 60 CHECK (duration_minutes > 0),
    ADD CONSTRAINT maintenance_plan_some_interval
        CHECK (coalesce(interval_days, interval_run_hours, interval_starts) IS NOT NULL);

CREATE TABLE technician (
    technician_id  text PRIMARY KEY,
    name           text NOT NULL,
    home_base      text NOT NULL,
    home_latitude  double precision NOT NULL CHECK (home_latitude BETWEEN -90 AND 90),
    home_longitude double precision NOT NULL CHECK (home_longitude BETWEEN -180 AND 180),
    timezone       text NOT NULL DEFAULT 'UTC'     -- the shifts' clock
);

-- A skill: an asset model, and one of its failure modes or '*' for all of them.
CREATE TABLE technician_skill (
    technician_id  text NOT NULL REFERENCES technician ON DELETE CASCADE,
    model_id       text NOT NULL REFERENCES asset_model ON DELETE CASCADE,
    failure_mode   text NOT NULL DEFAULT '*',
    PRIMARY KEY (technician_id, model_id, failure_mode)
);

-- Weekly shifts (ISO weekday 1 = Monday; local time of the technician's timezone).
CREATE TABLE technician_shift (
    technician_id  text NOT NULL REFERENCES technician ON DELETE CASCADE,
    weekday        smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts         time NOT NULL,
    ends           time NOT NULL CHECK (ends > starts),
    PRIMARY KEY (technician_id, weekday, starts)
);

CREATE TABLE technician_absence (
    technician_id  text NOT NULL REFERENCES technician ON DELETE CASCADE,
    first_day      date NOT NULL,
    last_day       date NOT NULL CHECK (last_day >= first_day),
    reason         text,
    PRIMARY KEY (technician_id, first_day)
);

-- SLA clocks: deadlines fixed from the site's contract when a ticket opens; responded_at
-- when work starts (or, at the latest, when the ticket closes).
ALTER TABLE service_ticket
    ADD COLUMN respond_by timestamptz,
    ADD COLUMN restore_by timestamptz,
    ADD COLUMN responded_at timestamptz;

CREATE FUNCTION service_ticket_sla_clock() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    response real;
    restore real;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT coalesce(s.response_hours, s.sla_hours), s.restore_hours INTO response, restore
        FROM asset a JOIN site s USING (site_id) WHERE a.asset_id = NEW.asset_id;
        NEW.respond_by := coalesce(NEW.respond_by,
                                   NEW.opened_at + make_interval(secs => response * 3600));
        NEW.restore_by := coalesce(NEW.restore_by,
                                   NEW.opened_at + make_interval(secs => restore * 3600));
    END IF;
    IF NEW.responded_at IS NULL AND NEW.status IN ('in_progress', 'closed')
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status) THEN
        NEW.responded_at := coalesce(NEW.closed_at, NEW.updated_at);
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER service_ticket_sla_clock BEFORE INSERT OR UPDATE ON service_ticket
    FOR EACH ROW EXECUTE FUNCTION service_ticket_sla_clock();

UPDATE service_ticket t
SET respond_by = t.opened_at + make_interval(secs => coalesce(s.response_hours, s.sla_hours) * 3600),
    restore_by = t.opened_at + make_interval(secs => s.restore_hours * 3600)
FROM asset a JOIN site s USING (site_id)
WHERE a.asset_id = t.asset_id AND t.respond_by IS NULL;

-- The state of one SLA clock at a moment: met / breached once the work happened,
-- else running, near_breach (less than a fifth of the clock left) or breached.
CREATE FUNCTION sla_clock_state(started timestamptz, deadline timestamptz, done timestamptz,
                                at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN deadline IS NULL THEN NULL
        WHEN done IS NOT NULL AND done <= at THEN
            CASE WHEN done <= deadline THEN 'met' ELSE 'breached' END
        WHEN at > deadline THEN 'breached'
        WHEN deadline - at < (deadline - started) / 5 THEN 'near_breach'
        ELSE 'running'
    END
$$;

-- Breaches and near-breaches as they were seen, once each per ticket, clock and state.
CREATE TABLE sla_event (
    ticket_id      bigint NOT NULL REFERENCES service_ticket ON DELETE CASCADE,
    clock          text NOT NULL CHECK (clock IN ('response', 'restore')),
    state          text NOT NULL CHECK (state IN ('near_breach', 'breached')),
    deadline       timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, clock, state)
);

-- Preventive maintenance as work: one open work order per (asset, task).
CREATE TABLE pm_work_order (
    work_order_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id       integer NOT NULL REFERENCES asset ON DELETE CASCADE,
    task           text NOT NULL,
    basis          text NOT NULL CHECK (basis IN ('days', 'run_hours', 'starts')),
    due_at         timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'scheduled', 'closed')),
    kit            jsonb NOT NULL DEFAULT '[]',
    duration_minutes integer NOT NULL CHECK (duration_minutes > 0),
    opened_at      timestamptz NOT NULL,
    closed_at      timestamptz,
    resolution     text CHECK (resolution IN ('done', 'cancelled')),
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE UNIQUE INDEX pm_work_order_one_open ON pm_work_order (asset_id, task)
    WHERE status <> 'closed';

CREATE TABLE dispatch_plan (
    plan_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    made_at        timestamptz NOT NULL,
    horizon_start  timestamptz NOT NULL,
    horizon_end    timestamptz NOT NULL,
    solver         text NOT NULL,
    work_items     integer NOT NULL,
    planned_items  integer NOT NULL,
    seconds        real NOT NULL,
    sla_items      integer NOT NULL DEFAULT 0,   -- work with an SLA deadline in the horizon
    sla_met        integer NOT NULL DEFAULT 0,   -- of those, planned to start by the deadline
    travel_minutes real NOT NULL DEFAULT 0,
    work_minutes   real NOT NULL DEFAULT 0,
    available_minutes real NOT NULL DEFAULT 0
);

CREATE TABLE visit (
    visit_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id        bigint REFERENCES dispatch_plan ON DELETE SET NULL,
    technician_id  text NOT NULL REFERENCES technician,
    site_id        text NOT NULL REFERENCES site,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL CHECK (ends_at >= starts_at),
    travel_minutes real NOT NULL CHECK (travel_minutes >= 0),
    kit            jsonb NOT NULL DEFAULT '[]',
    status         text NOT NULL DEFAULT 'planned'
                   CHECK (status IN ('planned', 'done', 'cancelled')),
    finished_at    timestamptz,
    on_site_minutes real CHECK (on_site_minutes >= 0),
    parts_used     jsonb
);
CREATE INDEX visit_technician ON visit (technician_id, starts_at);

-- The work one visit covers: tickets and preventive work orders.
CREATE TABLE visit_work (
    visit_id       bigint NOT NULL REFERENCES visit ON DELETE CASCADE,
    ticket_id      bigint REFERENCES service_ticket ON DELETE CASCADE,
    work_order_id  bigint REFERENCES pm_work_order ON DELETE CASCADE,
    CHECK ((ticket_id IS NULL) <> (work_order_id IS NULL))
);
CREATE INDEX visit_work_visit ON visit_work (visit_id);

-- Kit carried against parts used at close-out: returned_qty > 0 went back to stock,
-- < 0 was taken beyond the kit.
CREATE TABLE visit_part_return (
    visit_id       bigint NOT NULL REFERENCES visit ON DELETE CASCADE,
    part_no        text NOT NULL REFERENCES part,
    kit_qty        integer NOT NULL,
    used_qty       integer NOT NULL,
    returned_qty   integer NOT NULL,
    PRIMARY KEY (visit_id, part_no)
);

-- Per plan, technician and day: working minutes available and planned.
CREATE TABLE dispatch_capacity (
    plan_id        bigint NOT NULL REFERENCES dispatch_plan ON DELETE CASCADE,
    technician_id  text NOT NULL REFERENCES technician ON DELETE CASCADE,
    day            date NOT NULL,
    available_minutes real NOT NULL,
    work_minutes   real NOT NULL,
    travel_minutes real NOT NULL,
    PRIMARY KEY (plan_id, technician_id, day)
);

CREATE VIEW v_technician AS
SELECT t.technician_id, t.name, t.home_base, t.home_latitude, t.home_longitude, t.timezone,
       (SELECT string_agg(sk.model_id || CASE WHEN sk.failure_mode = '*' THEN ''
                          ELSE ':' || sk.failure_mode END, '; ' ORDER BY sk.model_id,
                          sk.failure_mode)
        FROM technician_skill sk WHERE sk.technician_id = t.technician_id) AS skills
FROM technician t;

CREATE VIEW v_ticket_sla AS
SELECT t.ticket_id, a.site_id, a.asset_tag, t.failure_mode, t.status, t.priority, t.opened_at,
       t.respond_by, t.responded_at, t.restore_by, t.closed_at, t.due_at, t.kit,
       sla_clock_state(t.opened_at, t.respond_by, t.responded_at, now()) AS response_state,
       sla_clock_state(t.opened_at, t.restore_by, t.closed_at, now()) AS restore_state,
       t.asset_id
FROM service_ticket t
JOIN asset a USING (asset_id)
WHERE t.resolution_code IS DISTINCT FROM 'cancelled'
  AND t.resolution_code IS DISTINCT FROM 'duplicate';

CREATE VIEW v_sla_event AS
SELECT e.ticket_id, a.site_id, a.asset_tag, t.failure_mode, e.clock, e.state, e.deadline,
       e.recorded_at, t.asset_id
FROM sla_event e
JOIN service_ticket t USING (ticket_id)
JOIN asset a ON a.asset_id = t.asset_id;

CREATE VIEW v_pm_work_order AS
SELECT w.work_order_id, a.site_id, a.asset_tag, a.model_id, w.task, w.basis, w.due_at,
       w.status, w.kit, w.duration_minutes, w.opened_at, w.closed_at, w.resolution, w.asset_id
FROM pm_work_order w
JOIN asset a USING (asset_id);

CREATE VIEW v_visit AS
SELECT v.visit_id, v.plan_id, v.technician_id, t.name AS technician_name, v.site_id,
       s.name AS site_name, s.latitude, s.longitude, v.starts_at, v.ends_at, v.travel_minutes,
       extract(epoch FROM v.ends_at - v.starts_at) / 60 AS work_minutes, v.kit, v.status,
       v.finished_at, v.on_site_minutes, v.parts_used,
       (SELECT count(*) FROM visit_work w WHERE w.visit_id = v.visit_id) AS work_items
FROM visit v
JOIN technician t USING (technician_id)
JOIN site s ON s.site_id = v.site_id;

CREATE VIEW v_visit_work AS
SELECT w.visit_id, v.technician_id, v.site_id, v.starts_at, v.status AS visit_status,
       CASE WHEN w.ticket_id IS NOT NULL THEN 'ticket' ELSE 'preventive' END AS work_kind,
       w.ticket_id, w.work_order_id, a.asset_tag,
       coalesce(st.failure_mode, pm.task) AS work,
       coalesce(least(st.due_at, st.respond_by), pm.due_at) AS deadline,
       st.resolution_code, st.status AS ticket_status, a.asset_id
FROM visit_work w
JOIN visit v USING (visit_id)
LEFT JOIN service_ticket st ON st.ticket_id = w.ticket_id
LEFT JOIN pm_work_order pm ON pm.work_order_id = w.work_order_id
JOIN asset a ON a.asset_id = coalesce(st.asset_id, pm.asset_id);

CREATE VIEW v_visit_part_return AS
SELECT r.visit_id, v.technician_id, v.site_id, r.part_no, r.kit_qty, r.used_qty,
       r.returned_qty, v.finished_at
FROM visit_part_return r
JOIN visit v USING (visit_id);

CREATE VIEW v_technician_utilisation AS
SELECT c.plan_id, c.technician_id, t.name AS technician_name, c.day, c.available_minutes,
       c.work_minutes, c.travel_minutes,
       (c.work_minutes + c.travel_minutes) / nullif(c.available_minutes, 0) AS utilisation
FROM dispatch_capacity c
JOIN technician t USING (technician_id)
WHERE c.plan_id = (SELECT max(plan_id) FROM dispatch_plan);

CREATE VIEW v_dispatch_plan AS
SELECT plan_id, made_at, horizon_start, horizon_end, solver, work_items, planned_items, seconds,
       sla_items, sla_met, sla_met::real / nullif(sla_items, 0) AS sla_attainment,
       travel_minutes, work_minutes, available_minutes,
       travel_minutes / nullif(travel_minutes + work_minutes, 0) AS travel_share,
       (travel_minutes + work_minutes) / nullif(available_minutes, 0) AS utilisation
FROM dispatch_plan;

CREATE VIEW v_stock_level AS
SELECT part_no, site_id, on_hand, on_order FROM stock;

-- What planners read: sites with their place and contract, technicians' calendars and skills,
-- repair times, maintenance plans.
CREATE VIEW v_site_contract AS
SELECT site_id, name, customer, latitude, longitude, sla_hours,
       coalesce(response_hours, sla_hours) AS response_hours, restore_hours
FROM site;

CREATE VIEW v_technician_skill AS
SELECT technician_id, model_id, failure_mode FROM technician_skill;

CREATE VIEW v_technician_shift AS
SELECT technician_id, weekday, starts, ends FROM technician_shift;

CREATE VIEW v_technician_absence AS
SELECT technician_id, first_day, last_day, reason FROM technician_absence;

CREATE VIEW v_failure_mode AS
SELECT failure_mode, component_type, description, repair_minutes FROM failure_mode;

CREATE VIEW v_maintenance_plan AS
SELECT model_id, task, interval_days, interval_run_hours, interval_starts, duration_minutes,
       part_no, qty
FROM maintenance_plan;
