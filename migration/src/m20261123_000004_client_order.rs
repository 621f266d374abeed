//! The admin list pages clients oldest first: index that order so a page is not a full sort.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    CreatedAt,
    ClientId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("idx_clients_created_at")
                .table(Clients::Table)
                .col(Clients::CreatedAt)
                .col(Clients::ClientId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_clients_created_at")
                .table(Clients::Table)
                .to_owned(),
        )
        .await
    }
}
