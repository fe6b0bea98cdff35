-- Where a purchase happened ("online", "store", "app"; '' before it was
-- kept) and the store: the program report's channel and omnichannel figures.
ALTER TABLE purchases ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE purchases ADD COLUMN store_id TEXT NOT NULL DEFAULT '';
