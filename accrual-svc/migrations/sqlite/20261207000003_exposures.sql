-- Experiments: each customer's first exposure to a campaign with variants
-- (the first purchase it applied to, in any arm, the control included) and
-- the arm. Written in the purchase's transaction; the experiment report
-- reads the customers' purchases in the window after it.
CREATE TABLE exposures (
    tenant_id    TEXT    NOT NULL,
    program_id   TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    customer_id  TEXT    NOT NULL,
    variant      TEXT    NOT NULL,
    rewarded     INTEGER NOT NULL,  -- 1 when the arm gives a reward
    order_id     TEXT    NOT NULL,
    occurred_at  INTEGER  NOT NULL,
    PRIMARY KEY (tenant_id, program_id, campaign_id, customer_id)
);
CREATE INDEX exposures_period ON exposures (tenant_id, program_id, campaign_id, occurred_at);
