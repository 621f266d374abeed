//! The first schema: APIs, clients, their scopes, roles and secrets, and signing keys.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Apis {
    Table,
    Name,
    Audience,
    Permissions,
    Builtin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    ClientId,
    Name,
    Description,
    Enabled,
    AllowedIps,
    TokenTtlSeconds,
    Owner,
    CreatedAt,
    UpdatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum ClientScopes {
    Table,
    ClientId,
    ApiName,
    Permission,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Name,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RoleScopes {
    Table,
    RoleName,
    ApiName,
    Permission,
}

#[derive(DeriveIden)]
enum ClientRoles {
    Table,
    ClientId,
    RoleName,
}

#[derive(DeriveIden)]
enum ClientSecrets {
    Table,
    SecretId,
    ClientId,
    SecretHash,
    Masked,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Algorithm,
    PublicJwk,
    PrivateJwe,
    CreatedAt,
    ActivatesAt,
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn time_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn cascade(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Apis::Table)
                .col(text(Apis::Name).primary_key())
                .col(text(Apis::Audience).unique_key())
                .col(text(Apis::Permissions))
                .col(
                    ColumnDef::new(Apis::Builtin)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(time(Apis::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Clients::Table)
                .col(text(Clients::ClientId).primary_key())
                .col(text(Clients::Name))
                .col(text(Clients::Description))
                .col(ColumnDef::new(Clients::Enabled).boolean().not_null())
                .col(text(Clients::AllowedIps))
                .col(ColumnDef::new(Clients::TokenTtlSeconds).integer().null())
                .col(ColumnDef::new(Clients::Owner).string().null())
                .col(time(Clients::CreatedAt))
                .col(time(Clients::UpdatedAt))
                .col(time_null(Clients::LastUsedAt))
                // No foreign key on owner: deleting an owner must not turn the clients it owned
                // into root clients (SET NULL would); they keep the id and are disabled instead.
                .to_owned(),
        )
        .await?;
        // Owner lookups (cascading disable) walk this index.
        m.create_index(
            Index::create()
                .name("idx_clients_owner")
                .table(Clients::Table)
                .col(Clients::Owner)
                .to_owned(),
        )
        .await?;

        // The primary key (client_id, api_name, permission) serves the token path's lookup by
        // client; the second index serves "which clients use this API".
        m.create_table(
            Table::create()
                .table(ClientScopes::Table)
                .col(text(ClientScopes::ClientId))
                .col(text(ClientScopes::ApiName))
                .col(text(ClientScopes::Permission))
                .primary_key(
                    Index::create()
                        .col(ClientScopes::ClientId)
                        .col(ClientScopes::ApiName)
                        .col(ClientScopes::Permission),
                )
                .foreign_key(&mut cascade(
                    "fk_client_scopes_client",
                    (ClientScopes::Table, ClientScopes::ClientId),
                    (Clients::Table, Clients::ClientId),
                ))
                .foreign_key(&mut cascade(
                    "fk_client_scopes_api",
                    (ClientScopes::Table, ClientScopes::ApiName),
                    (Apis::Table, Apis::Name),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_client_scopes_api")
                .table(ClientScopes::Table)
                .col(ClientScopes::ApiName)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Roles::Table)
                .col(text(Roles::Name).primary_key())
                .col(text(Roles::Description))
                .col(time(Roles::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RoleScopes::Table)
                .col(text(RoleScopes::RoleName))
                .col(text(RoleScopes::ApiName))
                .col(text(RoleScopes::Permission))
                .primary_key(
                    Index::create()
                        .col(RoleScopes::RoleName)
                        .col(RoleScopes::ApiName)
                        .col(RoleScopes::Permission),
                )
                .foreign_key(&mut cascade(
                    "fk_role_scopes_role",
                    (RoleScopes::Table, RoleScopes::RoleName),
                    (Roles::Table, Roles::Name),
                ))
                .foreign_key(&mut cascade(
                    "fk_role_scopes_api",
                    (RoleScopes::Table, RoleScopes::ApiName),
                    (Apis::Table, Apis::Name),
                ))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ClientRoles::Table)
                .col(text(ClientRoles::ClientId))
                .col(text(ClientRoles::RoleName))
                .primary_key(
                    Index::create()
                        .col(ClientRoles::ClientId)
                        .col(ClientRoles::RoleName),
                )
                .foreign_key(&mut cascade(
                    "fk_client_roles_client",
                    (ClientRoles::Table, ClientRoles::ClientId),
                    (Clients::Table, Clients::ClientId),
                ))
                .foreign_key(&mut cascade(
                    "fk_client_roles_role",
                    (ClientRoles::Table, ClientRoles::RoleName),
                    (Roles::Table, Roles::Name),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_client_roles_role")
                .table(ClientRoles::Table)
                .col(ClientRoles::RoleName)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ClientSecrets::Table)
                .col(text(ClientSecrets::SecretId).primary_key())
                .col(text(ClientSecrets::ClientId))
                .col(text(ClientSecrets::SecretHash))
                .col(text(ClientSecrets::Masked))
                .col(time(ClientSecrets::CreatedAt))
                .col(time_null(ClientSecrets::ExpiresAt))
                .col(time_null(ClientSecrets::LastUsedAt))
                .foreign_key(&mut cascade(
                    "fk_client_secrets_client",
                    (ClientSecrets::Table, ClientSecrets::ClientId),
                    (Clients::Table, Clients::ClientId),
                ))
                .to_owned(),
        )
        .await?;
        // The token path loads a client's secrets by client id.
        m.create_index(
            Index::create()
                .name("idx_client_secrets_client")
                .table(ClientSecrets::Table)
                .col(ClientSecrets::ClientId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .col(text(SigningKeys::Kid).primary_key())
                .col(text(SigningKeys::Algorithm))
                .col(ColumnDef::new(SigningKeys::PublicJwk).text().not_null())
                .col(ColumnDef::new(SigningKeys::PrivateJwe).text().not_null())
                .col(time(SigningKeys::CreatedAt))
                .col(time(SigningKeys::ActivatesAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_signing_keys_activates_at")
                .table(SigningKeys::Table)
                .col(SigningKeys::ActivatesAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SigningKeys::Table.into_iden(),
            ClientSecrets::Table.into_iden(),
            ClientRoles::Table.into_iden(),
            RoleScopes::Table.into_iden(),
            Roles::Table.into_iden(),
            ClientScopes::Table.into_iden(),
            Clients::Table.into_iden(),
            Apis::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
