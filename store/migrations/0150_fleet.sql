-- Geofence events derived from vehicle fixes, in event time. The id is the
-- engine's deterministic event id, so redelivery upserts the same row and a
-- retracted event deletes it.
CREATE TABLE IF NOT EXISTS fleet_events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    site_id TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    at_ms BIGINT NOT NULL,
    since_ms BIGINT NOT NULL DEFAULT 0,
    duration_s DOUBLE PRECISION NOT NULL DEFAULT 0,
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    recorded_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS fleet_events_at ON fleet_events (at_ms, id);

CREATE INDEX IF NOT EXISTS fleet_events_vehicle ON fleet_events (vehicle, at_ms);

CREATE INDEX IF NOT EXISTS fleet_events_site ON fleet_events (site_id, at_ms);

CREATE INDEX IF NOT EXISTS fleet_events_customer ON fleet_events (customer_id, at_ms);

-- Opening hours of sites (JSON), keyed by the dispatch site id.
CREATE TABLE IF NOT EXISTS fleet_site_hours (
    site_id TEXT PRIMARY KEY,
    timezone TEXT NOT NULL,
    hours TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- Positions of pollers over other tables (e.g. the last device event read).
CREATE TABLE IF NOT EXISTS fleet_cursors (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
