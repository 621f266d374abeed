//! One-time `jti`s of client assertions and DPoP proofs, shared by every replica: a `jti` is
//! recorded by one insert that does nothing on a conflict, so of two replicas (or twenty
//! requests) presenting the same `jti` exactly one records it.

use entity::used_jti;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::StoreError;

/// Whose `jti`s: a client's assertions, or the proofs of one DPoP key.
#[derive(Debug, Clone, Copy)]
pub enum JtiIssuer<'a> {
    /// The assertions of this client.
    Client(&'a str),
    /// The proofs signed by the DPoP key of this RFC 7638 thumbprint.
    DpopKey(&'a str),
}

impl JtiIssuer<'_> {
    fn key(&self) -> String {
        match self {
            JtiIssuer::Client(id) => format!("client:{id}"),
            JtiIssuer::DpopKey(jkt) => format!("dpop:{jkt}"),
        }
    }
}

/// What is stored of a `jti`: its SHA-256 in hex. A fixed size whatever the client sent, and no
/// byte the database refuses (PostgreSQL text cannot hold NUL).
fn stored(jti: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(jti.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Records `jti` of `issuer` until `expires_at` (unix seconds): `true` the first time, `false`
/// for a replay.
pub async fn record_once(
    db: &impl ConnectionTrait,
    issuer: JtiIssuer<'_>,
    jti: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let row = used_jti::ActiveModel {
        issuer: Set(issuer.key()),
        jti: Set(stored(jti)),
        expires_at: Set(expires_at),
    };
    let inserted = used_jti::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([used_jti::Column::Issuer, used_jti::Column::Jti])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Drops the `jti`s whose `exp` has passed: they could not be presented again anyway.
pub async fn sweep(db: &impl ConnectionTrait, now: i64) -> Result<u64, StoreError> {
    Ok(used_jti::Entity::delete_many()
        .filter(used_jti::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected)
}
