-- Campaigns, their versions (kept forever: the terms in force at any instant),
-- budgets split into slots, reservations, participants and the audit trail.
-- Amounts are minor units, times unix microseconds.

CREATE TABLE campaigns (
    tenant_id        TEXT    NOT NULL,
    campaign_id      TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    current_version  BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id)
);
CREATE INDEX campaigns_live ON campaigns (tenant_id, status);

CREATE TABLE campaign_versions (
    tenant_id       TEXT    NOT NULL,
    campaign_id     TEXT    NOT NULL,
    version         BIGINT  NOT NULL,
    spec            TEXT    NOT NULL,  -- JSON of the validated spec
    created_at      BIGINT  NOT NULL,
    effective_from  BIGINT,            -- when it came into force (none for drafts)
    effective_to    BIGINT,            -- when a newer version replaced it
    PRIMARY KEY (tenant_id, campaign_id, version)
);

CREATE TABLE budget_slots (
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    asset        TEXT    NOT NULL,
    slot         BIGINT  NOT NULL,
    capacity     BIGINT  NOT NULL,
    reserved     BIGINT  NOT NULL DEFAULT 0,
    confirmed    BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, campaign_id, asset, slot)
);

-- Per local day use, for per-day limits (one row per campaign, asset and day).
CREATE TABLE budget_days (
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    asset        TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    used         BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, campaign_id, asset, day)
);

-- Per customer use, for per-customer caps and participant counts.
CREATE TABLE participants (
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    asset        TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    used         BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, campaign_id, asset, customer_id)
);

-- Per order use, for per-order caps.
CREATE TABLE order_use (
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    asset        TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    used         BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, campaign_id, asset, order_id)
);

CREATE TABLE reservations (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    asset        TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    variant      TEXT    NOT NULL,
    day          TEXT    NOT NULL,
    requested    BIGINT  NOT NULL,
    granted      BIGINT  NOT NULL,
    confirmed    BIGINT  NOT NULL DEFAULT 0,
    released     BIGINT  NOT NULL DEFAULT 0,
    status       TEXT    NOT NULL,
    expires_at   BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX reservations_campaign ON reservations (tenant_id, campaign_id);

CREATE TABLE reservation_slots (
    reservation_id  BIGINT  NOT NULL REFERENCES reservations (id),
    slot            BIGINT  NOT NULL,
    amount          BIGINT  NOT NULL,
    confirmed       BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (reservation_id, slot)
);

CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    occurred_at  BIGINT  NOT NULL,
    before       TEXT    NOT NULL,
    after        TEXT    NOT NULL
);
CREATE INDEX audit_events_campaign ON audit_events (tenant_id, campaign_id, id);
