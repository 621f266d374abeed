//! A revoked access token, or every token of a client up to a time.

use sea_orm::entity::prelude::*;

/// One row of `revocations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revocations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The client the token(s) were issued to.
    pub client_id: String,
    /// The revoked token's `jti`; `None` revokes every token issued up to `issued_before`.
    pub jti: Option<String>,
    pub issued_before: Option<DateTimeUtc>,
    /// When every token this row covers has expired.
    pub expires_at: DateTimeUtc,
    pub revoked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
