-- Reports and exports read a program's purchases by period, and exports page
-- through them in (occurred_at, order_id) order.
CREATE INDEX purchases_period ON purchases (tenant_id, program_id, occurred_at, order_id);
