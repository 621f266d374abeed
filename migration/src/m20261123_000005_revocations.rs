//! Revoked access tokens: one token by `jti`, or every token of a client issued up to a time.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Revocations {
    Table,
    Seq,
    ClientId,
    Jti,
    IssuedBefore,
    ExpiresAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Revocations::Table)
                .col(
                    ColumnDef::new(Revocations::Seq)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(Revocations::ClientId).string().not_null())
                // One token; or, when null, every token issued at or before issued_before.
                .col(ColumnDef::new(Revocations::Jti).string().null())
                .col(
                    ColumnDef::new(Revocations::IssuedBefore)
                        .timestamp_with_time_zone()
                        .null(),
                )
                // Once every token it covers has expired the row can go.
                .col(
                    ColumnDef::new(Revocations::ExpiresAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Revocations::RevokedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_revocations_expires_at")
                .table(Revocations::Table)
                .col(Revocations::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Revocations::Table).to_owned())
            .await
    }
}
