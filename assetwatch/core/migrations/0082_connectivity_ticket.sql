-- Stale assets become work: a ticket has a kind. 'equipment' tickets are about the machine
-- (predicted or reported failures, with a parts kit); a 'connectivity' ticket is opened when an
-- asset has been silent longer than its site's connectivity_ticket_minutes, carries no kit,
-- and is closed with 'data_restored' when readings flow again.

ALTER TABLE service_ticket
    ADD COLUMN kind text NOT NULL DEFAULT 'equipment'
        CHECK (kind IN ('equipment', 'connectivity'));

ALTER TABLE service_ticket DROP CONSTRAINT service_ticket_resolution_code_check;
ALTER TABLE service_ticket ADD CONSTRAINT service_ticket_resolution_code_check
    CHECK (resolution_code IN ('confirmed_failure', 'no_fault_found', 'preventive_replacement',
                               'duplicate', 'cancelled', 'data_restored'));

CREATE OR REPLACE VIEW v_service_ticket AS
SELECT t.ticket_id, a.site_id, a.asset_tag, t.failure_mode, t.status, t.priority, t.risk,
       t.due_at, t.opened_at, t.updated_at, t.scheduled_for, t.closed_at, t.resolution_code,
       t.kit, t.evidence, t.opened_by, t.model_version_id,
       coalesce(t.closed_at, now()) - t.opened_at AS age, t.asset_id, t.kind
FROM service_ticket t
JOIN asset a USING (asset_id);
