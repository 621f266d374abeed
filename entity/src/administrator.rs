//! A person who manages clients.

use sea_orm::entity::prelude::*;

/// One row of `administrators`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "administrators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Lower-cased.
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    pub enabled: bool,
    pub superadmin: bool,
    /// argon2id PHC string; `None` until enrollment sets one.
    pub password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_sign_in_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
