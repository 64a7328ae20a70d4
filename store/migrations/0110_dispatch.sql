-- Customers the operator serves.
CREATE TABLE IF NOT EXISTS customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- Sites: depots, yards, drop points and customer sites with their geofence (GeoJSON Feature).
CREATE TABLE IF NOT EXISTS sites (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    geofence TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS sites_customer ON sites (customer_id, id);

-- Vehicles of the fleet.
CREATE TABLE IF NOT EXISTS vehicles (
    id TEXT PRIMARY KEY,
    plate TEXT NOT NULL UNIQUE,
    capacity_kg DOUBLE PRECISION NOT NULL,
    capacity_m3 DOUBLE PRECISION NOT NULL,
    depot_site_id TEXT NOT NULL DEFAULT '',
    fuel_type TEXT NOT NULL,
    consumption_per_100km DOUBLE PRECISION NOT NULL,
    consumption_unit TEXT NOT NULL,
    tracker_device_id TEXT NOT NULL DEFAULT '',
    rfid_tag TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS vehicles_tracker ON vehicles (tracker_device_id);

-- Bins at sites.
CREATE TABLE IF NOT EXISTS bins (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    material TEXT NOT NULL,
    ewc_code TEXT NOT NULL,
    volume_l DOUBLE PRECISION NOT NULL,
    rfid_tag TEXT NOT NULL DEFAULT '',
    fill_sensor_device_id TEXT NOT NULL DEFAULT '',
    threshold_pct DOUBLE PRECISION NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS bins_site ON bins (site_id, id);

-- Pickup requests and their life cycle.
CREATE TABLE IF NOT EXISTS pickups (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    site_id TEXT NOT NULL REFERENCES sites (id),
    material TEXT NOT NULL,
    estimated_kg DOUBLE PRECISION NOT NULL DEFAULT 0,
    estimated_m3 DOUBLE PRECISION NOT NULL DEFAULT 0,
    window_from_ms BIGINT NOT NULL,
    window_to_ms BIGINT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS pickups_customer ON pickups (customer_id, id);

CREATE INDEX IF NOT EXISTS pickups_status ON pickups (status, id);

-- Every transition of a pickup request: who and when.
CREATE TABLE IF NOT EXISTS pickup_history (
    seq {{serial}},
    pickup_id TEXT NOT NULL REFERENCES pickups (id),
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS pickup_history_pickup ON pickup_history (pickup_id, seq);

-- Complaints filed by or for customers.
CREATE TABLE IF NOT EXISTS complaints (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    subject_kind TEXT NOT NULL,
    subject_ref TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL,
    opened_ms BIGINT NOT NULL,
    resolved_ms BIGINT NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS complaints_customer ON complaints (customer_id, id);
