//! Clients without shared secrets (SPEC §9): each client's authentication method and its
//! settings, DPoP-bound clients, and the one-time `jti`s of client assertions and DPoP proofs.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    TokenEndpointAuthMethod,
    AuthSettings,
    DpopBoundAccessTokens,
}

#[derive(DeriveIden)]
enum UsedJtis {
    Table,
    Issuer,
    Jti,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per change: SQLite's ALTER TABLE adds one column at a time.
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(
                    ColumnDef::new(Clients::TokenEndpointAuthMethod)
                        .string()
                        .not_null()
                        .default("client_secret_basic"),
                )
                .to_owned(),
        )
        .await?;
        // JSON: `jwks`, `jwks_uri`, `token_endpoint_auth_signing_alg`, `tls_client_auth_*`.
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(ColumnDef::new(Clients::AuthSettings).text().null())
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Clients::Table)
                .add_column(
                    ColumnDef::new(Clients::DpopBoundAccessTokens)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        // A `jti` is accepted once per issuer (a client's assertions, a DPoP key's proofs) until
        // it expires: the primary key makes the insert that records it fail on a replay, on
        // every replica at once.
        m.create_table(
            Table::create()
                .table(UsedJtis::Table)
                .col(ColumnDef::new(UsedJtis::Issuer).string().not_null())
                .col(ColumnDef::new(UsedJtis::Jti).string().not_null())
                // Unix seconds; rows past it are swept.
                .col(ColumnDef::new(UsedJtis::ExpiresAt).big_integer().not_null())
                .primary_key(Index::create().col(UsedJtis::Issuer).col(UsedJtis::Jti))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("used_jtis_expires_at")
                .table(UsedJtis::Table)
                .col(UsedJtis::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(UsedJtis::Table).to_owned())
            .await?;
        for column in [
            Clients::DpopBoundAccessTokens,
            Clients::AuthSettings,
            Clients::TokenEndpointAuthMethod,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
