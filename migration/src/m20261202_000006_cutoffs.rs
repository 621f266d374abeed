//! Durable token cutoffs on clients, secrets that carry their id, and typed audit actors.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    TokensValidAfter,
}

#[derive(DeriveIden)]
enum ClientSecrets {
    Table,
    IdInSecret,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    ActorType,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Tokens issued at or before this instant are inactive, whatever their lifetime: set by
        // a disable and by revoking every token of the client; never pruned.
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(
                    ColumnDef::new(Clients::TokensValidAfter)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        // Secrets made from now on carry their secret_id, so one argon2id run checks them;
        // older ones do not.
        m.alter_table(
            Table::alter()
                .table(ClientSecrets::Table)
                .add_column(
                    ColumnDef::new(ClientSecrets::IdInSecret)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        // `cli`, `system` or `client`; null on rows from before (client when actor is set).
        m.alter_table(
            Table::alter()
                .table(AuditEvents::Table)
                .add_column(ColumnDef::new(AuditEvents::ActorType).string().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(AuditEvents::Table)
                .drop_column(AuditEvents::ActorType)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ClientSecrets::Table)
                .drop_column(ClientSecrets::IdInSecret)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .drop_column(Clients::TokensValidAfter)
                .to_owned(),
        )
        .await
    }
}
