-- Checkout sessions: what a cart holds (coupon uses, points, cashback) until
-- it is confirmed into a purchase, cancelled or lapses. Times are unix
-- microseconds.
CREATE TABLE checkout_sessions (
    tenant_id     TEXT    NOT NULL,
    session_id    TEXT    NOT NULL,
    program_id    TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    state         TEXT    NOT NULL,  -- reserving, reserved, confirmed, cancelled, lapsed, refused
    request_hash  BLOB   NOT NULL,  -- of the ReserveCheckout request
    plan          TEXT    NOT NULL,  -- JSON: what to hold, and the purchase to record
    holds         TEXT    NOT NULL,  -- JSON: the hold and redemption ids taken
    view          BLOB   NOT NULL,  -- the session as it stands (CheckoutSession)
    answer        BLOB   NOT NULL,  -- ReserveCheckout's answer once reserved (empty before)
    refusal       TEXT    NOT NULL,  -- JSON of the refusal a refused session answers, or ''
    order_id      TEXT    NOT NULL,
    expires_at    INTEGER  NOT NULL,
    created_at    INTEGER  NOT NULL,
    updated_at    INTEGER  NOT NULL,
    PRIMARY KEY (tenant_id, session_id)
);
-- The session an order came from (a full return gives its codes' uses back).
CREATE INDEX checkout_sessions_order ON checkout_sessions (tenant_id, program_id, order_id);
