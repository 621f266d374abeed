//! A token-signing key; its private part is stored encrypted.

use sea_orm::entity::prelude::*;

/// One row of `signing_keys`. The key's state is derived from `activates_at` and the
/// activation times of the keys after it, so every process computes the same state.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub algorithm: String,
    /// Public JWK (JSON).
    pub public_jwk: String,
    /// Private JWK as a compact JWE (`dir`, `A256GCM`) under the key-encryption key.
    pub private_jwe: String,
    pub created_at: DateTimeUtc,
    /// From this instant the key may sign (if no later key has activated).
    pub activates_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
