-- Fraud flags raised on a purchase (JSON list) and its review: '' (none),
-- 'held' (rewards held back), 'approved' or 'rejected'.
ALTER TABLE purchases ADD COLUMN flags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE purchases ADD COLUMN review TEXT NOT NULL DEFAULT '';
