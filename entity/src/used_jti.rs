//! A `jti` already accepted: of a client assertion (private_key_jwt) or a DPoP proof.

use sea_orm::entity::prelude::*;

/// One row of `used_jtis`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "used_jtis")]
pub struct Model {
    /// Whose `jti` space: `client:{client_id}` or `dpop:{jkt}`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub issuer: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// Unix seconds after which the row may go.
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
