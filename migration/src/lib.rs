//! Database migrations for Tessera (SQLite and PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_init;
mod m20261123_000002_audit;
mod m20261123_000003_change_log;
mod m20261123_000004_client_order;
mod m20261123_000005_revocations;
mod m20261202_000006_cutoffs;
mod m20261202_000007_auth_failures;
mod m20261202_000008_people;
mod m20261202_000009_client_sorts;
mod m20261202_000010_client_authentication;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_init::Migration),
            Box::new(m20261123_000002_audit::Migration),
            Box::new(m20261123_000003_change_log::Migration),
            Box::new(m20261123_000004_client_order::Migration),
            Box::new(m20261123_000005_revocations::Migration),
            Box::new(m20261202_000006_cutoffs::Migration),
            Box::new(m20261202_000007_auth_failures::Migration),
            Box::new(m20261202_000008_people::Migration),
            Box::new(m20261202_000009_client_sorts::Migration),
            Box::new(m20261202_000010_client_authentication::Migration),
        ]
    }
}
