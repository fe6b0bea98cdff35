-- The ledger. Amounts are signed minor units, times unix microseconds.

-- Accounts per tenant, kind, id and asset. Only customer accounts keep
-- balances here (updated with their postings, under a row lock); system
-- accounts are summed from postings, so they are never a hot row.
CREATE TABLE accounts (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    ref         TEXT    NOT NULL,
    asset       TEXT    NOT NULL,
    available   BIGINT  NOT NULL DEFAULT 0,
    pending     BIGINT  NOT NULL DEFAULT 0,
    held        BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    UNIQUE (tenant_id, kind, ref, asset)
);

-- Journal transactions: append-only, with why they exist.
CREATE TABLE transactions (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    source_kind   TEXT    NOT NULL,
    source_ref    TEXT    NOT NULL,
    rule_version  TEXT    NOT NULL,
    inputs        TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    posted_at     BIGINT  NOT NULL
);

-- Postings: append-only legs; per transaction and asset they sum to zero.
-- balance_after is the customer layer's balance after the leg (statements).
CREATE TABLE postings (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL,
    transaction_id  BIGINT  NOT NULL REFERENCES transactions (id),
    account_id      BIGINT  NOT NULL REFERENCES accounts (id),
    layer           TEXT    NOT NULL,
    asset           TEXT    NOT NULL,
    amount          BIGINT  NOT NULL,
    balance_after   BIGINT,
    posted_at       BIGINT  NOT NULL
);
CREATE INDEX postings_account ON postings (account_id, id);
CREATE INDEX postings_transaction ON postings (transaction_id);

-- A credit and its lot: pending until released, then its unspent remainder.
CREATE TABLE credits (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL,
    account_id      BIGINT  NOT NULL REFERENCES accounts (id),
    funding_id      BIGINT  NOT NULL REFERENCES accounts (id),
    transaction_id  BIGINT  NOT NULL REFERENCES transactions (id),
    amount          BIGINT  NOT NULL,
    pending         BIGINT  NOT NULL,
    remaining       BIGINT  NOT NULL,
    reversed        BIGINT  NOT NULL DEFAULT 0,
    expired         BIGINT  NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL,  -- pending | available | expired
    release_at      BIGINT,
    expires_at      BIGINT,
    source_kind     TEXT    NOT NULL,
    source_ref      TEXT    NOT NULL,
    rule_version    TEXT    NOT NULL,
    labels          TEXT    NOT NULL,
    tax_treatment   TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX credits_source ON credits (account_id, source_ref);
CREATE INDEX credits_lots ON credits (account_id, expires_at) WHERE remaining > 0;

-- Checkout holds and the lots they earmarked.
CREATE TABLE holds (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT    NOT NULL,
    account_id  BIGINT  NOT NULL REFERENCES accounts (id),
    amount      BIGINT  NOT NULL,
    captured    BIGINT  NOT NULL DEFAULT 0,
    status      TEXT    NOT NULL,
    reference   TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL,
    created_at  BIGINT  NOT NULL
);
CREATE TABLE hold_lots (
    hold_id    BIGINT  NOT NULL REFERENCES holds (id),
    credit_id  BIGINT  NOT NULL REFERENCES credits (id),
    amount     BIGINT  NOT NULL,
    PRIMARY KEY (hold_id, credit_id)
);

-- Which lots each spending transaction consumed.
CREATE TABLE lot_consumptions (
    transaction_id  BIGINT  NOT NULL REFERENCES transactions (id),
    credit_id       BIGINT  NOT NULL REFERENCES credits (id),
    amount          BIGINT  NOT NULL
);
CREATE INDEX lot_consumptions_transaction ON lot_consumptions (transaction_id);

-- The durable event log behind WatchEvents. commit_order orders by commit
-- (0 on SQLite, whose single writer commits in seq order; the transaction id
-- on PostgreSQL, read only once every older transaction has finished).
CREATE TABLE events (
    seq           BIGSERIAL PRIMARY KEY,
    commit_order  BIGINT  NOT NULL,
    tenant_id     TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    asset         TEXT    NOT NULL,
    amount        BIGINT  NOT NULL,
    reference     TEXT    NOT NULL,
    source_kind   TEXT    NOT NULL,
    source_ref    TEXT    NOT NULL,
    occurred_at   BIGINT  NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, commit_order, seq);
CREATE INDEX events_reference ON events (tenant_id, reference);
