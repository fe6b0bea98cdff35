-- What-if jobs: the question (JSON), where it stands (JSON checkpoint,
-- advanced only over the step it was read at), and its state.
CREATE TABLE simulations (
    tenant_id      TEXT    NOT NULL,
    simulation_id  TEXT    NOT NULL,
    ask            TEXT    NOT NULL,
    state          TEXT    NOT NULL,  -- running, succeeded, failed, cancelled
    step           BIGINT  NOT NULL,
    purchases_read BIGINT  NOT NULL,
    purchases_total BIGINT  NOT NULL,
    checkpoint     TEXT    NOT NULL,
    error          TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, simulation_id)
);
