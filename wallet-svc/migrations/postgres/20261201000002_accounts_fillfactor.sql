-- Every credit updates two balances (the customer's and its funding
-- account's): room left in each page lets those updates stay heap-only
-- tuples, with no new entries in the accounts' indexes.
ALTER TABLE accounts SET (fillfactor = 70);
