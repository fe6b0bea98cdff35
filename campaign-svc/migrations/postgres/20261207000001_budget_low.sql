-- The low marks a budget has fallen to (`budget.low`, told once): one row per
-- campaign, asset and total, so raising the total arms the mark again.
CREATE TABLE budget_low_told (
    tenant_id    TEXT    NOT NULL,
    campaign_id  TEXT    NOT NULL,
    asset        TEXT    NOT NULL,
    total        BIGINT NOT NULL,
    left_minor   BIGINT NOT NULL,
    told_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, campaign_id, asset, total)
);
