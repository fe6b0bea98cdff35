-- Referral programs (versioned), codes, referrals (accepted and refused, for
-- review), the rewards paid per referee order, and customers already seen buying.
CREATE TABLE referral_programs (
    tenant_id     TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    spec          TEXT    NOT NULL,
    published_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE codes (
    tenant_id        TEXT    NOT NULL,
    code             TEXT    NOT NULL,  -- upper case
    referrer_id      TEXT    NOT NULL,
    referrer_email   TEXT    NOT NULL,  -- normalised
    enabled          INTEGER NOT NULL,
    expires_at       INTEGER,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

CREATE TABLE referrals (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT    NOT NULL,
    code             TEXT    NOT NULL,
    referrer_id      TEXT    NOT NULL,
    referee_id       TEXT    NOT NULL,
    status           TEXT    NOT NULL,  -- attributed | converted | refused
    refusal          TEXT    NOT NULL,
    email            TEXT    NOT NULL,  -- normalised
    ip               TEXT    NOT NULL,
    device           TEXT    NOT NULL,
    program_version  INTEGER NOT NULL,
    attributed_at    INTEGER NOT NULL
);
-- One live referral per referee: two racing attributions, one wins.
CREATE UNIQUE INDEX referrals_one_per_referee ON referrals (tenant_id, referee_id) WHERE status <> 'refused';
CREATE INDEX referrals_referrer ON referrals (tenant_id, referrer_id, id);
CREATE INDEX referrals_recent ON referrals (tenant_id, attributed_at);

CREATE TABLE referral_rewards (
    tenant_id     TEXT    NOT NULL,
    referral_id   INTEGER NOT NULL REFERENCES referrals (id),
    order_id      TEXT    NOT NULL,
    beneficiary   TEXT    NOT NULL,  -- referrer | referee
    asset         TEXT    NOT NULL,
    amount        INTEGER NOT NULL,
    order_amount  INTEGER NOT NULL,
    reversed      INTEGER NOT NULL DEFAULT 0,
    returned      INTEGER NOT NULL DEFAULT 0,  -- order amount returned so far
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, referral_id, order_id, beneficiary)
);

CREATE TABLE customers_seen (
    tenant_id    TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    first_order  TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);
