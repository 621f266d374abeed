//! An API client: the holder of secrets that trades them for tokens.

use sea_orm::entity::prelude::*;

/// One row of `clients`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    /// JSON array of addresses and CIDRs; empty means any source.
    pub allowed_ips: String,
    /// `None` means the server's `token.ttl_seconds`.
    pub token_ttl_seconds: Option<i32>,
    pub owner: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    /// Tokens issued at or before this instant are inactive (a disable, a revoke-all).
    pub tokens_valid_after: Option<DateTimeUtc>,
    /// The project the client belongs to.
    pub project: String,
    /// The administrator who owns it (`owner` is a client owner); neither: a root client.
    pub owner_administrator: Option<String>,
    /// `client_secret_basic`, `private_key_jwt`, `tls_client_auth` or
    /// `self_signed_tls_client_auth`.
    pub token_endpoint_auth_method: String,
    /// JSON settings of the method (`jwks`, `jwks_uri`, `tls_client_auth_subject_dn`, …).
    pub auth_settings: Option<String>,
    /// Whether its token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
