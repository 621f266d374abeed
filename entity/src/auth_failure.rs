//! Failed authentications of one client id or source, shared by every replica.

use sea_orm::entity::prelude::*;

/// One row of `auth_failures`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_failures")]
pub struct Model {
    /// SHA-256 (hex) of what is counted: `client:{id}` or `source:{address}`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// GCRA theoretical arrival time, unix milliseconds.
    pub tat_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
