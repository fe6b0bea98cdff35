-- What-if jobs: the question (JSON), where it stands (JSON checkpoint,
-- advanced only over the step it was read at), and its state.
CREATE TABLE simulations (
    tenant_id      TEXT    NOT NULL,
    simulation_id  TEXT    NOT NULL,
    ask            TEXT    NOT NULL,
    state          TEXT    NOT NULL,  -- running, succeeded, failed, cancelled
    step           INTEGER NOT NULL,
    purchases_read INTEGER NOT NULL,
    purchases_total INTEGER NOT NULL,
    checkpoint     TEXT    NOT NULL,
    error          TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, simulation_id)
);
