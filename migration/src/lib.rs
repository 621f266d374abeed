//! Database migrations for Tessera (SQLite and PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_init;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261123_000001_init::Migration)]
    }
}
