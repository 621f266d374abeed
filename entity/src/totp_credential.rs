//! An administrator's TOTP secret, encrypted under the key-encryption key.

use sea_orm::entity::prelude::*;

/// One row of `totp_credentials`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "totp_credentials")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub administrator_id: String,
    #[sea_orm(column_type = "Text")]
    pub secret_jwe: String,
    /// The last time step accepted: each code is accepted once.
    pub last_step: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
