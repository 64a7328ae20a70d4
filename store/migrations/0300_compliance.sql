-- Issued waste transfer notes: a frozen copy of each note, kept at least
-- until retain_until_ms; the API refuses to delete one before then.
CREATE TABLE IF NOT EXISTS transfer_notes (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    issued_ms BIGINT NOT NULL,
    transfer_ms BIGINT NOT NULL,
    retain_until_ms BIGINT NOT NULL,
    body TEXT NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS transfer_notes_ref ON transfer_notes (kind, ref);

CREATE INDEX IF NOT EXISTS transfer_notes_time ON transfer_notes (transfer_ms);

-- Satisfaction surveys: one per completed pickup.
CREATE TABLE IF NOT EXISTS pickup_surveys (
    pickup_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    score INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS pickup_surveys_customer ON pickup_surveys (customer_id, created_ms);
