-- What a reservation's order brought in, for the campaign report's
-- attributed revenue and ROI: the order's eligible amount (net of returns)
-- in its currency, and what one unit of the reserved asset is worth in it.
ALTER TABLE reservations ADD COLUMN order_amount INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reservations ADD COLUMN order_currency TEXT NOT NULL DEFAULT '';
ALTER TABLE reservations ADD COLUMN unit_value TEXT NOT NULL DEFAULT '';
