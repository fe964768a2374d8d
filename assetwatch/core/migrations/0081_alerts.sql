-- Alerts that reach people: how long a site's assets may stay silent, each asset's own
-- reporting interval, alert instances with their notification state, and deliveries.

ALTER TABLE site
    ADD COLUMN stale_grace_minutes integer NOT NULL DEFAULT 15 CHECK (stale_grace_minutes >= 0),
    ADD COLUMN connectivity_ticket_minutes integer NOT NULL DEFAULT 120
        CHECK (connectivity_ticket_minutes > 0);

-- Per asset: the newest reading, its usual reporting interval (median gap between the
-- newest readings of its last 20 batches) and how long it has been silent. stale: silent
-- longer than its interval plus the site's grace period (a flaky cellular link that is late
-- by less than the grace pages nobody).
CREATE VIEW v_asset_staleness AS
WITH recent AS (
    SELECT b.asset_id, b.last_reading_at,
           row_number() OVER (PARTITION BY b.asset_id ORDER BY b.last_reading_at DESC) AS k
    FROM ingest_batch b
), gaps AS (
    SELECT asset_id, last_reading_at,
           last_reading_at - lead(last_reading_at) OVER (PARTITION BY asset_id
                                                       ORDER BY last_reading_at DESC) AS gap
    FROM recent WHERE k <= 21
), per_asset AS (
    SELECT asset_id, max(last_reading_at) AS last_reading_at,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM gap))
               FILTER (WHERE gap > interval '0') AS interval_s
    FROM gaps GROUP BY asset_id
)
SELECT a.site_id, a.asset_tag, p.last_reading_at,
       round(coalesce(p.interval_s, 0)::numeric, 1) AS interval_s,
       s.stale_grace_minutes, s.connectivity_ticket_minutes,
       extract(epoch FROM now() - p.last_reading_at) AS silent_s,
       extract(epoch FROM now() - p.last_reading_at)
           > coalesce(p.interval_s, 0) + 60 * s.stale_grace_minutes AS stale,
       a.asset_id
FROM per_asset p
JOIN asset a USING (asset_id)
JOIN site s ON s.site_id = a.site_id;

-- One row per alert (rule and subject) while it lasts; notified_at and notifications drive
-- the re-notify interval, so a lasting condition does not page again until it is due.
CREATE TABLE alert (
    alert_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_uid       text NOT NULL,
    subject        text NOT NULL,          -- asset tag, part@site, or 'pipeline'
    asset_id       integer REFERENCES asset ON DELETE CASCADE,
    severity       text NOT NULL,
    value          double precision,
    summary        text NOT NULL,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    notified_at    timestamptz,
    notifications  integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX alert_open ON alert (rule_uid, subject) WHERE resolved_at IS NULL;

-- Every delivery attempt series of a notification: delivered, or failed after its retries
-- (a dead letter, kept with the reason).
CREATE TABLE notification_delivery (
    delivery_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id       bigint NOT NULL REFERENCES alert ON DELETE CASCADE,
    channel        text NOT NULL CHECK (channel IN ('webhook', 'email')),
    target         text NOT NULL,
    state          text NOT NULL CHECK (state IN ('delivered', 'failed')),
    attempts       integer NOT NULL,
    error          text,
    payload        jsonb NOT NULL,
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_delivery_alert ON notification_delivery (alert_id);

CREATE VIEW v_alert AS
SELECT al.alert_id, al.rule_uid, al.subject, a.site_id, al.severity, al.value, al.summary,
       al.first_seen_at, al.last_seen_at, al.resolved_at, al.resolved_at IS NULL AS is_open,
       al.notified_at, al.notifications,
       (SELECT count(*) FROM notification_delivery d
        WHERE d.alert_id = al.alert_id AND d.state = 'failed') AS failed_deliveries,
       al.asset_id
FROM alert al
LEFT JOIN asset a USING (asset_id);

CREATE VIEW v_notification_delivery AS
SELECT d.at, al.rule_uid, al.subject, d.channel, d.target, d.state, d.attempts, d.error,
       d.delivery_id, d.alert_id
FROM notification_delivery d
JOIN alert al USING (alert_id);
