-- Plumbing every service shares: idempotency keys and durable jobs (the outbox rides on jobs).
-- Times are unix microseconds (UTC).

CREATE TABLE idempotency_keys (
    tenant_id     TEXT    NOT NULL,
    scope         TEXT    NOT NULL,  -- the RPC, e.g. "wallet.Credit"
    key           TEXT    NOT NULL,
    request_hash  BLOB    NOT NULL,  -- sha256 of the encoded request
    response      BLOB,              -- encoded response, set in the same transaction
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, scope, key)
);

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT    NOT NULL,
    queue         TEXT    NOT NULL,  -- which handler runs it
    dedupe_key    TEXT    NOT NULL,  -- deterministic; also the idempotency key sent downstream
    payload       BLOB    NOT NULL,
    run_at        INTEGER NOT NULL,  -- due time (moved forward on retry)
    attempts      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,           -- lease of the runner working on it
    done_at       INTEGER,
    failed_at     INTEGER,           -- gave up after max attempts
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, queue, dedupe_key)
);

CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE done_at IS NULL AND failed_at IS NULL;
