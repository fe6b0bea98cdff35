-- Vouchers: codes with their own rules (value, minimum order, validity;
-- '' means the batch's), the reference of what earned them, and when they
-- were voided.
ALTER TABLE coupons ADD COLUMN rules TEXT NOT NULL DEFAULT '';
ALTER TABLE coupons ADD COLUMN reference TEXT NOT NULL DEFAULT '';
ALTER TABLE coupons ADD COLUMN voided_at INTEGER;
-- One voucher per reference (what earned it).
CREATE UNIQUE INDEX coupons_reference ON coupons (tenant_id, reference) WHERE reference <> '';
