-- What one wallet-svc Credit runs with group commit off (ledger.group_commit.enabled = false, bench --no-group-commit):
-- captured with log_statement=all, against the service's own schema (run with PGOPTIONS="-c search_path=wallet").
-- 10 statements + BEGIN/COMMIT; funding account id cached (as the service does after the first call).
\set cust random(1, :customers)
\set amt random(1, 10000)
\set neg -1 * :amt
\set k random(1, 9000000000000000)
BEGIN;
INSERT INTO idempotency_keys (tenant_id, scope, key, request_hash, created_at) VALUES ('bench', 'wallet.credit', 'k' || :k, '\x00', 1) ON CONFLICT DO NOTHING;
INSERT INTO accounts (tenant_id, kind, ref, asset, created_at) VALUES ('bench', 'customer', 'c-' || :cust, 'EUR', 1) ON CONFLICT (tenant_id, kind, ref, asset) DO UPDATE SET kind = excluded.kind RETURNING id AS acct, available, pending AS pend, held \gset
INSERT INTO transactions (tenant_id, kind, source_kind, source_ref, rule_version, inputs, description, posted_at) VALUES ('bench', 'credit', 'order', 'o-' || :cust, 'program-bench@1', '', 'cashback', 1) RETURNING id AS tx \gset
INSERT INTO postings (tenant_id, transaction_id, account_id, layer, asset, amount, balance_after, posted_at) VALUES ('bench', :tx, :acct, 'pending', 'EUR', :amt, :pend::bigint + :amt::bigint, 1), ('bench', :tx, 1, 'available', 'EUR', :neg, NULL, 1);
INSERT INTO credits (tenant_id, account_id, funding_id, transaction_id, amount, pending, remaining, status, release_at, expires_at, source_kind, source_ref, rule_version, labels, tax_treatment, created_at) VALUES ('bench', :acct, 1, :tx, :amt, :amt, 0, 'pending', 2000000000000000, NULL, 'order', 'o', 'program-bench@1', '{}', 'discount', 1) RETURNING id AS cr \gset
INSERT INTO jobs (tenant_id, queue, dedupe_key, payload, run_at, created_at, traceparent) VALUES ('bench', 'wallet.settle', 'cr' || :cr, '\x00', 2000000000000000, 1, NULL) ON CONFLICT DO NOTHING;
INSERT INTO events (commit_order, tenant_id, type, customer_id, asset, amount, reference, source_kind, source_ref, occurred_at) VALUES (pg_current_xact_id()::text::bigint, 'bench', 'credit.pending', 'c-' || :cust, 'EUR', :amt, 'cr', 'order', 'o', 1);
UPDATE accounts SET available = :available, pending = :pend::bigint + :amt::bigint, held = :held WHERE id = :acct;
UPDATE idempotency_keys SET response = '\x0102030405060708090a' WHERE tenant_id = 'bench' AND scope = 'wallet.credit' AND key = 'k' || :k;
COMMIT;
