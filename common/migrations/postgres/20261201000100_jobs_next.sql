-- A runner takes due jobs in (run_at, id) order: with id in the index a lease
-- walks it in that order and stops after its batch, instead of reading every
-- due job of the queue (an outbox's are all due at 0) to sort them. jobs_next
-- serves everything jobs_due did. Not CONCURRENTLY: services migrating their
-- schemas of one database at the same time would wait on each other's
-- transactions; the build reads the table once under a lock that holds back
-- writes to jobs only.
CREATE INDEX IF NOT EXISTS jobs_next ON jobs (queue, run_at, id) WHERE done_at IS NULL AND failed_at IS NULL;
DROP INDEX IF EXISTS jobs_due;
-- A job is leased and finished within moments of being written: room left
-- in each page lets its lease (locked_until, attempts: no indexed column)
-- update it in place, a heap-only tuple, without new index entries.
ALTER TABLE jobs SET (fillfactor = 70);
