//! An administrator's role in a project.

use sea_orm::entity::prelude::*;

/// One row of `memberships`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "memberships")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub administrator_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub project: String,
    /// `viewer`, `admin` or `owner`.
    pub role: String,
    /// JSON array: the scopes the administrator may grant here; `None` = no ceiling.
    pub scopes: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
