-- notify-svc follows every tenant's events in log order.
CREATE INDEX events_order ON events (commit_order, seq);
