-- Custody log: an append-only chain of entries, each hashed over its content
-- and the previous entry's hash. custody_head holds the single chain head
-- that every append locks (by updating it) so appends serialize.
CREATE TABLE IF NOT EXISTS custody_log (
    seq BIGINT PRIMARY KEY,
    ts_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS custody_log_subject ON custody_log (subject, seq);

CREATE TABLE IF NOT EXISTS custody_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO custody_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
