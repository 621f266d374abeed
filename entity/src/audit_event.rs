//! An audit event: an admin change, or a per-minute counter of token use.

use sea_orm::entity::prelude::*;

/// One row of `audit_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub time: DateTimeUtc,
    /// e.g. `client.created`, `secret.reset`, `token.issued`.
    #[sea_orm(column_name = "type")]
    pub r#type: String,
    /// The acting client; `None` for the CLI.
    pub actor: Option<String>,
    /// `cli`, `system` or `client`; `None` on events from before it was recorded.
    pub actor_type: Option<String>,
    /// The object changed.
    pub target: Option<String>,
    /// JSON object; never a secret value.
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
