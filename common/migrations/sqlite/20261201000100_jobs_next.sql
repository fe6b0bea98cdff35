-- A runner takes due jobs in (run_at, id) order: with id in the index a lease
-- walks it in that order and stops after its batch. jobs_next serves
-- everything jobs_due did.
CREATE INDEX IF NOT EXISTS jobs_next ON jobs (queue, run_at, id) WHERE done_at IS NULL AND failed_at IS NULL;
DROP INDEX IF EXISTS jobs_due;
