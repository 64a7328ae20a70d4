-- Yard: gates, scales, tags, stored tares, passages, weighings, tickets
-- (versioned), lots, lot graph, transitions and shipments.
CREATE TABLE IF NOT EXISTS yard_gates (
    reader TEXT PRIMARY KEY,
    yard TEXT NOT NULL,
    name TEXT NOT NULL,
    outside_antennas TEXT NOT NULL,
    inside_antennas TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS yard_scales (
    scale TEXT PRIMARY KEY,
    yard TEXT NOT NULL,
    name TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS yard_tags (
    epc TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS yard_tares (
    vehicle TEXT PRIMARY KEY,
    kg DOUBLE PRECISION NOT NULL,
    updated_by TEXT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS yard_passages (
    id TEXT PRIMARY KEY,
    reader TEXT NOT NULL,
    yard TEXT NOT NULL,
    epc TEXT NOT NULL,
    tag_kind TEXT NOT NULL,
    tag_ref TEXT NOT NULL,
    first_ms BIGINT NOT NULL,
    last_ms BIGINT NOT NULL,
    reads BIGINT NOT NULL,
    antennas TEXT NOT NULL,
    first_antenna INTEGER NOT NULL,
    last_antenna INTEGER NOT NULL,
    peak_rssi_dbm DOUBLE PRECISION NOT NULL,
    direction TEXT NOT NULL,
    vehicle_passage TEXT NOT NULL DEFAULT '',
    vehicle TEXT NOT NULL DEFAULT '',
    ticket TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS yard_passages_key ON yard_passages (reader, epc, first_ms);

CREATE INDEX IF NOT EXISTS yard_passages_yard_time ON yard_passages (yard, first_ms);

CREATE TABLE IF NOT EXISTS yard_weighings (
    scale TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    yard TEXT NOT NULL,
    kg DOUBLE PRECISION NOT NULL,
    spread_kg DOUBLE PRECISION NOT NULL,
    readings BIGINT NOT NULL,
    flag_stable BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    ticket TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (scale, ts_ms)
);

CREATE INDEX IF NOT EXISTS yard_weighings_status ON yard_weighings (status, ts_ms);

CREATE TABLE IF NOT EXISTS yard_counters (
    name TEXT PRIMARY KEY,
    next BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS yard_tickets (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    yard TEXT NOT NULL,
    number BIGINT NOT NULL,
    status TEXT NOT NULL,
    vehicle TEXT NOT NULL,
    route_id TEXT NOT NULL,
    scale TEXT NOT NULL,
    gross_kg DOUBLE PRECISION,
    tare_kg DOUBLE PRECISION,
    net_kg DOUBLE PRECISION,
    tare_source TEXT NOT NULL,
    gross_ms BIGINT NOT NULL,
    tare_ms BIGINT NOT NULL,
    passage_in TEXT NOT NULL,
    passage_out TEXT NOT NULL,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    current BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE UNIQUE INDEX IF NOT EXISTS yard_tickets_number ON yard_tickets (yard, number, version);

CREATE INDEX IF NOT EXISTS yard_tickets_vehicle ON yard_tickets (vehicle, current, status);

CREATE TABLE IF NOT EXISTS yard_lots (
    id TEXT PRIMARY KEY,
    yard TEXT NOT NULL,
    material TEXT NOT NULL,
    ewc TEXT NOT NULL,
    stage TEXT NOT NULL,
    kg DOUBLE PRECISION NOT NULL,
    residue BOOLEAN NOT NULL,
    consumed_by TEXT NOT NULL DEFAULT '',
    tag TEXT NOT NULL,
    location TEXT NOT NULL,
    customer TEXT NOT NULL,
    ticket TEXT NOT NULL,
    pickups TEXT NOT NULL,
    shipment TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS yard_lots_stage ON yard_lots (yard, stage, material);

CREATE INDEX IF NOT EXISTS yard_lots_ticket ON yard_lots (ticket);

CREATE TABLE IF NOT EXISTS yard_lot_links (
    parent TEXT NOT NULL,
    child TEXT NOT NULL,
    transition TEXT NOT NULL,
    PRIMARY KEY (parent, child)
);

CREATE INDEX IF NOT EXISTS yard_lot_links_child ON yard_lot_links (child);

CREATE TABLE IF NOT EXISTS yard_transitions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    yard TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    idem_key TEXT UNIQUE,
    request_hash TEXT NOT NULL,
    to_stage TEXT NOT NULL,
    kg_in DOUBLE PRECISION NOT NULL,
    kg_out DOUBLE PRECISION NOT NULL,
    loss_kg DOUBLE PRECISION NOT NULL,
    rd_code TEXT NOT NULL,
    station TEXT NOT NULL,
    operator TEXT NOT NULL,
    result TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS yard_transitions_time ON yard_transitions (yard, ts_ms);

CREATE TABLE IF NOT EXISTS yard_lot_history (
    lot TEXT NOT NULL,
    transition TEXT NOT NULL,
    role TEXT NOT NULL,
    from_stage TEXT NOT NULL,
    to_stage TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    PRIMARY KEY (lot, transition)
);

CREATE TABLE IF NOT EXISTS yard_shipments (
    id TEXT PRIMARY KEY,
    yard TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    idem_key TEXT UNIQUE,
    request_hash TEXT NOT NULL,
    transition TEXT NOT NULL,
    body TEXT NOT NULL,
    kg DOUBLE PRECISION NOT NULL,
    rd_code TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS yard_shipments_time ON yard_shipments (yard, ts_ms)
