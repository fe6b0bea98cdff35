//! SQL for the campaign service. Functions take a connection or transaction;
//! database errors are classified here.
use boomerang_common::db::{Db, Migrations};

/// This service's migrations, one folder per backend.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The service's storage.
#[derive(Clone, Debug)]
pub struct Repo {
    db: Db,
}

impl Repo {
    /// Storage over a connected, migrated database.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }
}
