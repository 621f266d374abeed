//! An API (resource server) that clients may be granted scopes on.

use sea_orm::entity::prelude::*;

/// One row of `apis`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "apis")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    #[sea_orm(unique)]
    pub audience: String,
    /// Comma-separated subset of `read,write`.
    pub permissions: String,
    pub builtin: bool,
    pub created_at: DateTimeUtc,
    /// The project the API belongs to.
    pub project: String,
    /// Offered to every project, not only its own.
    pub shared: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
