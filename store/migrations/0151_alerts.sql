-- Alerts: what happened (bin full, fire suspicion, tilt, device offline,
-- vehicle at a closed site). open_key dedupes: it is set while a condition
-- alert is open (or forever for one-off alerts) and unique, so re-delivered
-- causes never raise the same alert twice.
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    site_id TEXT NOT NULL DEFAULT '',
    customer_id TEXT NOT NULL DEFAULT '',
    at_ms BIGINT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    open_key TEXT UNIQUE,
    resolved_ms BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS alerts_at ON alerts (at_ms, id);

CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, at_ms);

-- Webhook subscriptions: alerts of the listed kinds (all when empty) are
-- POSTed to url, signed with secret.
CREATE TABLE IF NOT EXISTS alert_webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    kinds TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL
);

-- The outbox: one delivery per alert and webhook, written in the same
-- transaction as the alert.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id {{serial}},
    alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_ms BIGINT NOT NULL,
    last_status INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_ms BIGINT NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX IF NOT EXISTS alert_deliveries_pair ON alert_deliveries (alert_id, webhook_id);

CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (state, next_ms);
