-- Programs (versioned, kept forever), members, purchases with their rewards
-- and returns. Amounts are minor units, times unix microseconds.
CREATE TABLE programs (
    tenant_id     TEXT    NOT NULL,
    program_id    TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    spec          TEXT    NOT NULL,
    published_at  BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, version)
);

CREATE TABLE members (
    tenant_id       TEXT    NOT NULL,
    program_id      TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL,
    birthday        TEXT    NOT NULL,  -- "MM-DD" or ""
    segment         TEXT    NOT NULL,
    opt_ins         TEXT    NOT NULL,  -- JSON list of channels
    tier            BIGINT,            -- index into the program's tiers
    tier_review_at  BIGINT,
    enrolled_at     BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, customer_id)
);

CREATE TABLE purchases (
    tenant_id        TEXT    NOT NULL,
    program_id       TEXT    NOT NULL,
    order_id         TEXT    NOT NULL,
    customer_id      TEXT    NOT NULL,
    program_version  BIGINT  NOT NULL,
    request_hash     BYTEA   NOT NULL,
    lines            TEXT    NOT NULL,  -- JSON
    eligible         BIGINT  NOT NULL,
    tier             TEXT    NOT NULL,  -- JSON [id, multiplier] or null
    occurred_at      BIGINT  NOT NULL,
    recorded_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, order_id)
);
CREATE INDEX purchases_customer ON purchases (tenant_id, program_id, customer_id, occurred_at);

CREATE TABLE rewards (
    tenant_id       TEXT    NOT NULL,
    program_id      TEXT    NOT NULL,
    order_id        TEXT    NOT NULL,
    reward_no       BIGINT  NOT NULL,
    kind            TEXT    NOT NULL,
    asset           TEXT    NOT NULL,
    amount          BIGINT  NOT NULL,  -- credited
    earned          BIGINT  NOT NULL,  -- before a campaign budget cut
    reversed        BIGINT  NOT NULL DEFAULT 0,
    offer           TEXT    NOT NULL,  -- JSON of the campaign offer, or "null"
    reservation_id  TEXT    NOT NULL,
    explanations    TEXT    NOT NULL,  -- JSON
    release_at      BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, order_id, reward_no)
);

CREATE TABLE returns (
    tenant_id    TEXT    NOT NULL,
    program_id   TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    return_id    TEXT    NOT NULL,
    lines        TEXT    NOT NULL,  -- JSON {line_id: quantity}
    occurred_at  BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, order_id, return_id)
);
