-- Purchases of customers who are not members (guests): they earn nothing and
-- are kept so the program report can compare members with non-members
-- (spend per customer, average order, purchase frequency).
CREATE TABLE guest_purchases (
    tenant_id     TEXT    NOT NULL,
    program_id    TEXT    NOT NULL,
    order_id      TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    request_hash  BYTEA   NOT NULL,
    eligible      BIGINT  NOT NULL,
    channel       TEXT    NOT NULL,
    store_id      TEXT    NOT NULL,
    occurred_at   BIGINT  NOT NULL,
    recorded_at   BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, order_id)
);
CREATE INDEX guest_purchases_period ON guest_purchases (tenant_id, program_id, occurred_at);
