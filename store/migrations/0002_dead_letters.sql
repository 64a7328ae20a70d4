-- Messages ingest could not accept, with the reason (a stable code) and the
-- payload as received (truncated to the size limit, flagged). msg_key is a
-- digest of topic and full payload, so that a redelivered message is
-- recorded once.
CREATE TABLE IF NOT EXISTS dead_letters (
    id {{serial}},
    msg_key TEXT NOT NULL,
    received_ms BIGINT NOT NULL,
    topic TEXT NOT NULL,
    device TEXT NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    payload {{blob}} NOT NULL,
    payload_bytes BIGINT NOT NULL,
    truncated BOOLEAN NOT NULL
);

CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_msg_key ON dead_letters (msg_key);

CREATE INDEX IF NOT EXISTS dead_letters_received ON dead_letters (received_ms);

CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters (reason, received_ms);
