//! A scope that belongs to a role.

use sea_orm::entity::prelude::*;

/// One row of `role_scopes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "role_scopes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_name: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub api_name: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub permission: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
