//! Audit events: admin changes, and per-minute counters of token issuance and failed logins.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    Time,
    Type,
    Actor,
    Target,
    Details,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(
                    ColumnDef::new(AuditEvents::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(AuditEvents::Time)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(AuditEvents::Type).string().not_null())
                .col(ColumnDef::new(AuditEvents::Actor).string().null())
                .col(ColumnDef::new(AuditEvents::Target).string().null())
                .col(ColumnDef::new(AuditEvents::Details).text().not_null())
                .to_owned(),
        )
        .await?;
        // Listing is newest first, filtered by client (actor or target) and type.
        for (name, col) in [
            ("idx_audit_events_actor", AuditEvents::Actor),
            ("idx_audit_events_target", AuditEvents::Target),
            ("idx_audit_events_type", AuditEvents::Type),
            ("idx_audit_events_time", AuditEvents::Time),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(AuditEvents::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}
