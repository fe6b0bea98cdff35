-- A tenant's webhooks. `types` is the delivered public type names separated
-- by spaces ('' = all); `previous_secret` keeps signing until
-- `previous_until` after a rotation.
CREATE TABLE webhooks (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    types TEXT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT NOT NULL DEFAULT '',
    previous_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhooks_live ON webhooks (tenant_id, state);

-- Where notify-svc stands in each source's event log.
CREATE TABLE follow_cursors (
    source TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- An event on its way to one webhook: pending, delivered or dead (parked).
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    first_attempt_at BIGINT NOT NULL DEFAULT 0,
    replayed_after BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, webhook_id, event_id)
);
CREATE INDEX deliveries_pending ON deliveries (state, tenant_id, webhook_id, subject, id);
CREATE INDEX deliveries_list ON deliveries (tenant_id, webhook_id, state, id);

-- Every attempt of a delivery: the delivery log.
CREATE TABLE delivery_attempts (
    delivery_id BIGINT NOT NULL,
    n BIGINT NOT NULL,
    at BIGINT NOT NULL,
    status_code BIGINT NOT NULL,
    latency_ms BIGINT NOT NULL,
    error TEXT NOT NULL,
    PRIMARY KEY (delivery_id, n)
);

-- Events waiting to be published on NATS JetStream, oldest first (only
-- when NATS is configured); a row goes once JetStream acknowledged it.
CREATE TABLE bus_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
