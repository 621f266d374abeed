//! A log of changes that invalidate cached clients, polled by every process.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChangeLog {
    Table,
    Seq,
    Subject,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ChangeLog::Table)
                .col(
                    ColumnDef::new(ChangeLog::Seq)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                // A client id, or "*" for a change that touches every client.
                .col(ColumnDef::new(ChangeLog::Subject).string().not_null())
                .col(
                    ColumnDef::new(ChangeLog::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_change_log_at")
                .table(ChangeLog::Table)
                .col(ChangeLog::At)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ChangeLog::Table).to_owned())
            .await
    }
}
