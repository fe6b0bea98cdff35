-- What-if jobs listed newest first (ListSimulations).
CREATE INDEX simulations_listed ON simulations (tenant_id, created_at, simulation_id);
