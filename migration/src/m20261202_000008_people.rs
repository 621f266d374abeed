//! Projects, administrators (people) and their memberships, sign-in state, and the project of
//! every API, role and client (SPEC §7). Everything that existed before goes into `default`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Projects {
    Table,
    Name,
    DisplayName,
    Description,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Apis {
    Table,
    Project,
    Shared,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Project,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Project,
    OwnerAdministrator,
}

#[derive(DeriveIden)]
enum Administrators {
    Table,
    Id,
    Email,
    DisplayName,
    Enabled,
    Superadmin,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
    LastSignInAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    AdministratorId,
    Project,
    Role,
    Scopes,
}

#[derive(DeriveIden)]
enum EnrollmentTokens {
    Table,
    TokenHash,
    AdministratorId,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum AdminSessions {
    Table,
    IdHash,
    AdministratorId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
    SecondFactorAt,
    Pending,
    Source,
}

#[derive(DeriveIden)]
enum TotpCredentials {
    Table,
    AdministratorId,
    SecretJwe,
    LastStep,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    CredentialId,
    AdministratorId,
    Name,
    Passkey,
    CreatedAt,
    LastUsedAt,
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

fn to_administrator(name: &str, from: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(Administrators::Table, Administrators::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

/// SQLite takes one change an `ALTER TABLE`.
async fn add_column(
    m: &SchemaManager<'_>,
    table: impl IntoIden,
    col: ColumnDef,
) -> Result<(), DbErr> {
    let mut col = col;
    m.alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Projects::Table)
                .col(text(Projects::Name).primary_key())
                .col(text(Projects::DisplayName))
                .col(text(Projects::Description))
                .col(time(Projects::CreatedAt))
                .to_owned(),
        )
        .await?;
        let seed = Query::insert()
            .into_table(Projects::Table)
            .columns([
                Projects::Name,
                Projects::DisplayName,
                Projects::Description,
                Projects::CreatedAt,
            ])
            .values_panic([
                "default".into(),
                "Default".into(),
                "Everything created without a project".into(),
                Expr::current_timestamp(),
            ])
            .to_owned();
        m.exec_stmt(seed).await?;

        // No foreign keys to projects on the old tables (SQLite cannot add one to an existing
        // table); the operations check the project exists and delete a project's content first.
        let project = || {
            ColumnDef::new(Alias::new("project"))
                .string()
                .not_null()
                .default("default")
                .to_owned()
        };
        add_column(m, Apis::Table, project()).await?;
        add_column(
            m,
            Apis::Table,
            ColumnDef::new(Apis::Shared)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        )
        .await?;
        add_column(m, Roles::Table, project()).await?;
        add_column(m, Clients::Table, project()).await?;
        // Owned by a person; `owner` keeps meaning a client. At most one of the two is set;
        // neither is a root client. No foreign key: a deleted administrator's clients keep
        // the id and are disabled, never turned into root clients.
        add_column(
            m,
            Clients::Table,
            ColumnDef::new(Clients::OwnerAdministrator)
                .string()
                .null()
                .to_owned(),
        )
        .await?;
        for (name, table, col) in [
            (
                "idx_apis_project",
                Apis::Table.into_iden(),
                Apis::Project.into_iden(),
            ),
            (
                "idx_roles_project",
                Roles::Table.into_iden(),
                Roles::Project.into_iden(),
            ),
            (
                "idx_clients_project",
                Clients::Table.into_iden(),
                Clients::Project.into_iden(),
            ),
            (
                "idx_clients_owner_administrator",
                Clients::Table.into_iden(),
                Clients::OwnerAdministrator.into_iden(),
            ),
        ] {
            m.create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }

        m.create_table(
            Table::create()
                .table(Administrators::Table)
                .col(text(Administrators::Id).primary_key())
                // Stored lower-cased: the sign-in name is case-insensitive.
                .col(text(Administrators::Email).unique_key())
                .col(text(Administrators::DisplayName))
                .col(ColumnDef::new(Administrators::Enabled).boolean().not_null())
                .col(
                    ColumnDef::new(Administrators::Superadmin)
                        .boolean()
                        .not_null(),
                )
                .col(ColumnDef::new(Administrators::PasswordHash).string().null())
                .col(time(Administrators::CreatedAt))
                .col(time(Administrators::UpdatedAt))
                .col(time_null(Administrators::LastSignInAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(text(Memberships::AdministratorId))
                .col(text(Memberships::Project))
                .col(text(Memberships::Role))
                // JSON array of scopes; null = no ceiling.
                .col(ColumnDef::new(Memberships::Scopes).string().null())
                .primary_key(
                    Index::create()
                        .col(Memberships::AdministratorId)
                        .col(Memberships::Project),
                )
                .foreign_key(&mut to_administrator(
                    "fk_memberships_administrator",
                    (Memberships::Table, Memberships::AdministratorId),
                ))
                .foreign_key(
                    &mut ForeignKey::create()
                        .name("fk_memberships_project")
                        .from(Memberships::Table, Memberships::Project)
                        .to(Projects::Table, Projects::Name)
                        .on_delete(ForeignKeyAction::Cascade)
                        .to_owned(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_memberships_project")
                .table(Memberships::Table)
                .col(Memberships::Project)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EnrollmentTokens::Table)
                // SHA-256 of the token: the URL is shown once and never stored.
                .col(text(EnrollmentTokens::TokenHash).primary_key())
                .col(text(EnrollmentTokens::AdministratorId))
                .col(time(EnrollmentTokens::ExpiresAt))
                .col(time_null(EnrollmentTokens::UsedAt))
                .foreign_key(&mut to_administrator(
                    "fk_enrollment_tokens_administrator",
                    (EnrollmentTokens::Table, EnrollmentTokens::AdministratorId),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(AdminSessions::Table)
                // SHA-256 of the cookie value.
                .col(text(AdminSessions::IdHash).primary_key())
                .col(text(AdminSessions::AdministratorId))
                .col(text(AdminSessions::CsrfToken))
                .col(time(AdminSessions::CreatedAt))
                .col(time(AdminSessions::LastSeenAt))
                // When a second factor was last entered: full sign-in, and the
                // re-authentication window.
                .col(time_null(AdminSessions::SecondFactorAt))
                // A sign-in or ceremony in progress (JSON), kept server-side.
                .col(ColumnDef::new(AdminSessions::Pending).text().null())
                .col(ColumnDef::new(AdminSessions::Source).string().null())
                .foreign_key(&mut to_administrator(
                    "fk_admin_sessions_administrator",
                    (AdminSessions::Table, AdminSessions::AdministratorId),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_admin_sessions_administrator")
                .table(AdminSessions::Table)
                .col(AdminSessions::AdministratorId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TotpCredentials::Table)
                .col(text(TotpCredentials::AdministratorId).primary_key())
                // Encrypted under the key-encryption key, like signing keys.
                .col(ColumnDef::new(TotpCredentials::SecretJwe).text().not_null())
                // The last time step accepted: a code is accepted once.
                .col(
                    ColumnDef::new(TotpCredentials::LastStep)
                        .big_integer()
                        .null(),
                )
                .col(time(TotpCredentials::CreatedAt))
                .foreign_key(&mut to_administrator(
                    "fk_totp_credentials_administrator",
                    (TotpCredentials::Table, TotpCredentials::AdministratorId),
                ))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Passkeys::Table)
                .col(text(Passkeys::CredentialId).primary_key())
                .col(text(Passkeys::AdministratorId))
                .col(text(Passkeys::Name))
                // webauthn-rs `Passkey`, serialised.
                .col(ColumnDef::new(Passkeys::Passkey).text().not_null())
                .col(time(Passkeys::CreatedAt))
                .col(time_null(Passkeys::LastUsedAt))
                .foreign_key(&mut to_administrator(
                    "fk_passkeys_administrator",
                    (Passkeys::Table, Passkeys::AdministratorId),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_passkeys_administrator")
                .table(Passkeys::Table)
                .col(Passkeys::AdministratorId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "people and projects cannot be rolled back; restore a backup".into(),
        ))
    }
}
