-- notify-svc follows every tenant's events of a service in log order.
CREATE INDEX event_log_order ON event_log (commit_order, seq);
