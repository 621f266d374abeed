//! The console's Clients table sorts by every column, over every project or one: index each
//! order (with the client id as the tie-break the query uses) so a page at 100k clients reads
//! an index range rather than sorting the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Clients {
    Table,
    ClientId,
    Name,
    CreatedAt,
    LastUsedAt,
    Enabled,
    Project,
}

/// Index name and columns (each followed by `client_id`).
const SORTS: [(&str, &[Clients]); 8] = [
    ("idx_clients_project_client_id", &[Clients::Project]),
    ("idx_clients_name", &[Clients::Name]),
    ("idx_clients_last_used_at", &[Clients::LastUsedAt]),
    ("idx_clients_enabled", &[Clients::Enabled]),
    (
        "idx_clients_project_name",
        &[Clients::Project, Clients::Name],
    ),
    (
        "idx_clients_project_created_at",
        &[Clients::Project, Clients::CreatedAt],
    ),
    (
        "idx_clients_project_last_used_at",
        &[Clients::Project, Clients::LastUsedAt],
    ),
    (
        "idx_clients_project_enabled",
        &[Clients::Project, Clients::Enabled],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let postgres = m.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        for (name, columns) in SORTS {
            if postgres
                && columns
                    .last()
                    .is_some_and(|c| matches!(c, Clients::LastUsedAt))
            {
                // Never used first going up, last going down (the table's order): PostgreSQL
                // puts NULLs last in an ascending index, so say where they go. (SQLite's
                // NULLs are the smallest values already.)
                let project = if columns.len() == 2 { "project, " } else { "" };
                m.get_connection()
                    .execute_unprepared(&format!(
                        "CREATE INDEX {name} ON clients ({project}last_used_at NULLS FIRST, \
                         client_id)"
                    ))
                    .await?;
                continue;
            }
            let mut index = Index::create();
            index.name(name).table(Clients::Table);
            for c in columns {
                index.col(*c);
            }
            m.create_index(index.col(Clients::ClientId).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in SORTS {
            m.drop_index(Index::drop().name(name).table(Clients::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
