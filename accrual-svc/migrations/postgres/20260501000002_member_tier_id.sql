-- A member's tier is kept by id: a new program version may reorder or insert
-- tiers, which would move an index. `tier` (the old index) is read only for
-- rows written before this migration and cleared when the member is saved.
ALTER TABLE members ADD COLUMN tier_id TEXT;
