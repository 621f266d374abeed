//! Failed-authentication counters shared by every replica (GCRA state per client id or source).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthFailures {
    Table,
    Key,
    TatMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuthFailures::Table)
                // A SHA-256 of the counted thing (client id or source address), never the
                // thing itself: a caller may send a secret where the id belongs.
                .col(
                    ColumnDef::new(AuthFailures::Key)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                // GCRA's theoretical arrival time, unix milliseconds: a row whose time has
                // passed counts nothing and can go.
                .col(ColumnDef::new(AuthFailures::TatMs).big_integer().not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuthFailures::Table).to_owned())
            .await
    }
}
