//! A console session, stored by the hash of its cookie.

use sea_orm::entity::prelude::*;

/// One row of `admin_sessions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    pub administrator_id: String,
    pub csrf_token: String,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    /// When a second factor was last entered; `None` while sign-in is half done.
    pub second_factor_at: Option<DateTimeUtc>,
    /// A sign-in step or WebAuthn ceremony in progress (JSON).
    #[sea_orm(column_type = "Text", nullable)]
    pub pending: Option<String>,
    pub source: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
