-- Group commit writes a batch's postings and credits in one statement. Their
-- foreign keys cost a row lock (FOR KEY SHARE) on the parent per row, every
-- credit on the same funding account: about half the statement's time, and
-- a multixact on that one hot row under concurrency. The ledger writes these
-- rows only with ids it just created or locked, and the invariant tests check
-- that every posting and credit points at its transaction and accounts.
ALTER TABLE postings DROP CONSTRAINT IF EXISTS postings_transaction_id_fkey;
ALTER TABLE postings DROP CONSTRAINT IF EXISTS postings_account_id_fkey;
ALTER TABLE credits DROP CONSTRAINT IF EXISTS credits_account_id_fkey;
ALTER TABLE credits DROP CONSTRAINT IF EXISTS credits_funding_id_fkey;
ALTER TABLE credits DROP CONSTRAINT IF EXISTS credits_transaction_id_fkey;
