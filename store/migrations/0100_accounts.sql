-- API tokens: only the SHA-256 hash of the secret is kept.
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT NOT NULL DEFAULT 0
);

-- Stored responses of requests sent with an Idempotency-Key.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    response TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (principal, idem_key, method, path)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_ms);
