-- Where a reservation's order was placed ("online", "store", "app"; '' when
-- not said), for the campaign report per channel and store.
ALTER TABLE reservations ADD COLUMN channel TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN store_id TEXT NOT NULL DEFAULT '';
