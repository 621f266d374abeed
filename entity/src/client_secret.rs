//! A client secret, kept only as an argon2id hash.

use sea_orm::entity::prelude::*;

/// One row of `client_secrets`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_secrets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub secret_id: String,
    pub client_id: String,
    /// argon2id PHC string.
    pub secret_hash: String,
    /// Prefix and last four characters, safe to show.
    pub masked: String,
    pub created_at: DateTimeUtc,
    pub expires_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    /// Whether the secret string carries `secret_id` (all made since migration 6).
    pub id_in_secret: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
