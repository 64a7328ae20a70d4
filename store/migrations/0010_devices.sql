-- Device registry: identity, what a device is attached to, credential hashes
-- and lifecycle state. secret_hash is an argon2id PHC string; mosquitto_hash
-- is the same secret in mosquitto's PBKDF2-SHA512 ($7$) form for
-- `revloop device export-mosquitto` (empty when not kept).
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    attached_kind TEXT NOT NULL DEFAULT '',
    attached_id TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '{}',
    firmware TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    mosquitto_hash TEXT NOT NULL DEFAULT '',
    cred_version BIGINT NOT NULL DEFAULT 1,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS devices_kind ON devices (kind);

CREATE INDEX IF NOT EXISTS devices_state ON devices (state);

-- Latest health of each device, written in batches by the health tracker.
CREATE TABLE IF NOT EXISTS device_health (
    device_id TEXT PRIMARY KEY,
    last_seen_ms BIGINT NOT NULL DEFAULT 0,
    status_ms BIGINT NOT NULL DEFAULT 0,
    battery_v DOUBLE PRECISION NOT NULL DEFAULT 0,
    rssi_dbm DOUBLE PRECISION NOT NULL DEFAULT 0,
    firmware TEXT NOT NULL DEFAULT '',
    uptime_s DOUBLE PRECISION NOT NULL DEFAULT 0,
    online BOOLEAN NOT NULL DEFAULT FALSE,
    offline BOOLEAN NOT NULL DEFAULT FALSE,
    low_battery BOOLEAN NOT NULL DEFAULT FALSE,
    config_version BIGINT NOT NULL DEFAULT 0,
    updated_ms BIGINT NOT NULL
);

-- Health events: device_offline, device_online, low_battery.
CREATE TABLE IF NOT EXISTS device_events (
    id {{serial}},
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS device_events_device ON device_events (device_id, at_ms);

-- Downlink configuration last published to each device.
CREATE TABLE IF NOT EXISTS device_configs (
    device_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    body TEXT NOT NULL,
    published_ms BIGINT NOT NULL
);

-- One-time claim tokens a gateway exchanges for its credential. Only a
-- SHA-256 of the token is kept.
CREATE TABLE IF NOT EXISTS device_claims (
    token_hash TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);
