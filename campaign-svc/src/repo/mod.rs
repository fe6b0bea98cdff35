//! SQL for campaigns, versions, budgets, reservations, coupon batches and codes, reports and the audit trail.
pub mod batches;
pub mod budget;
pub mod campaigns;
pub mod coupons;
pub mod report;

use boomerang_common::db::Migrations;

/// This service's migrations, one folder per backend.
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: &SQLITE,
    postgres: &POSTGRES,
};
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
