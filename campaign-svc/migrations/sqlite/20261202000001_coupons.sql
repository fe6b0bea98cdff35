-- Coupon codes: batches of a campaign (their rules as JSON), codes with their
-- limits and use counters, per-customer use, and every redemption.
-- Times unix microseconds.

CREATE TABLE coupon_batches (
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    batch_id     TEXT    NOT NULL,
    rules        TEXT    NOT NULL,  -- JSON of the validated rules
    pattern      TEXT    NOT NULL,  -- '' when the codes were given
    requested    INTEGER  NOT NULL,
    created      INTEGER  NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL,  -- generating, ready, failed
    created_at   INTEGER  NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, batch_id)
);

-- A code is unique within its tenant. Its limits are copied from the batch, so
-- a use is counted by one conditional update of this row.
CREATE TABLE coupons (
    tenant_id     TEXT    NOT NULL,
    code          TEXT    NOT NULL,  -- upper-case
    campaign_id   TEXT    NOT NULL,
    batch_id      TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL DEFAULT '',  -- '' when anyone may use it
    max_uses      INTEGER  NOT NULL,  -- 0: unlimited
    per_customer  INTEGER  NOT NULL,  -- 0: unlimited
    reserved      INTEGER  NOT NULL DEFAULT 0,
    redeemed      INTEGER  NOT NULL DEFAULT 0,
    created_at    INTEGER  NOT NULL,
    PRIMARY KEY (tenant_id, code)
);
CREATE INDEX coupons_batch ON coupons (tenant_id, campaign_id, batch_id, code);
CREATE INDEX coupons_customer ON coupons (tenant_id, customer_id, code);

-- Uses (reserved or redeemed) of a code by one customer, for per-customer limits.
CREATE TABLE coupon_customer_uses (
    tenant_id    TEXT    NOT NULL,
    code         TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    used         INTEGER  NOT NULL,
    PRIMARY KEY (tenant_id, code, customer_id)
);

CREATE TABLE coupon_redemptions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT    NOT NULL,
    code         TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    order_id     TEXT    NOT NULL,
    status       TEXT    NOT NULL,  -- reserved, redeemed, released, expired
    expires_at   INTEGER  NOT NULL,
    created_at   INTEGER  NOT NULL,
    updated_at   INTEGER  NOT NULL
);
CREATE INDEX coupon_redemptions_code ON coupon_redemptions (tenant_id, code, id);
