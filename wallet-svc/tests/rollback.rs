//! Rollbacks, on both backends: a binary starts on a schema that a newer
//! release has migrated further (an unknown migration applied, a column it
//! does not know), and serves as before. Without this, `helm rollback` or an
//! old pod restarting mid-rollout crash-looped on "migration ... was
//! previously applied but is missing in the resolved migrations".
mod support;

use boomerang_common::backend_tests;
use boomerang_proto::common::v1::Money;
use support::Wallet;

fn eur(a: &str) -> Money {
    Money {
        amount: a.into(),
        asset: "EUR".into(),
    }
}

backend_tests! {
    async fn a_binary_starts_on_a_schema_migrated_by_a_newer_release(backend) -> anyhow::Result<()> {
        let mut w = Wallet::start(backend).await?;
        w.credit("c-1", "alice", eur("1.00")).await?;
        // What the next release's expand-only migration would have done.
        sqlx::query("ALTER TABLE accounts ADD COLUMN next_release_note TEXT").execute(w.db.pool()).await?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (29991231000001, 'next release', TRUE, $1, 1)",
        )
        .bind(vec![0u8; 48])
        .execute(w.db.pool())
        .await?;
        let mut w = w.restart().await?;
        w.credit("c-2", "alice", eur("2.00")).await?;
        assert_eq!(w.balance("alice", "EUR").await?.0, "3.00");
        Ok(())
    }
}
