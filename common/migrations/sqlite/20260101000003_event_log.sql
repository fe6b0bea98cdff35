-- The durable event log behind a service's WatchEvents (common::events).
-- commit_order orders by commit: 0 on SQLite, whose single writer commits in
-- seq order; the writing transaction's id on PostgreSQL, read only once every
-- older transaction has finished. payload is the service's encoded message.
CREATE TABLE event_log (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    commit_order  INTEGER  NOT NULL,
    tenant_id     TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    payload       BLOB   NOT NULL,
    occurred_at   INTEGER  NOT NULL
);
CREATE INDEX event_log_tenant ON event_log (tenant_id, commit_order, seq);
