-- Tenants and their API keys. Secrets are never stored: only sha256 of the
-- 256-bit random secret (a slow password hash adds nothing at that entropy).
CREATE TABLE tenants (
    tenant_id   TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_id       TEXT    PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (tenant_id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    secret_hash  BYTEA   NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,  -- "service:access,...", e.g. "*:write"
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at);
