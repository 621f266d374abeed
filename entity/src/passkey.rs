//! A WebAuthn passkey of an administrator.

use sea_orm::entity::prelude::*;

/// One row of `passkeys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    /// base64url credential id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub credential_id: String,
    pub administrator_id: String,
    pub name: String,
    /// webauthn-rs `Passkey` as JSON.
    #[sea_orm(column_type = "Text")]
    pub passkey: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
