-- Purchases of customers who are not members (guests): they earn nothing and
-- are kept so the program report can compare members with non-members
-- (spend per customer, average order, purchase frequency).
CREATE TABLE guest_purchases (
    tenant_id     TEXT    NOT NULL,
    program_id    TEXT    NOT NULL,
    order_id      TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    request_hash  BLOB   NOT NULL,
    eligible      INTEGER  NOT NULL,
    channel       TEXT    NOT NULL,
    store_id      TEXT    NOT NULL,
    occurred_at   INTEGER  NOT NULL,
    recorded_at   INTEGER  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, order_id)
);
CREATE INDEX guest_purchases_period ON guest_purchases (tenant_id, program_id, occurred_at);
