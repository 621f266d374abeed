//! Revoked access tokens, kept until the tokens they cover have expired and shared by every
//! replica through the database (and the change log, which tells replicas to reload).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{client, revocation};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};

use super::StoreError;
use super::apis::now;
use super::audit::{self, Actor};
use super::changes;

/// Change-log subject telling every process to reload the revocation list. Client ids never
/// start with `#`, so it cannot name a client.
pub const REVOCATIONS: &str = "#revocations";

/// How long a revocation outlives the tokens it covers (verifiers allow 30 s of clock skew).
const KEEP_AFTER_EXPIRY: chrono::TimeDelta = chrono::TimeDelta::seconds(120);

/// Every revocation still in force, in memory.
#[derive(Debug, Default)]
pub struct RevocationList {
    /// Revoked token ids.
    jtis: HashSet<String>,
    /// Per client: tokens issued at or before this time (unix seconds) are revoked.
    issued_before: HashMap<String, i64>,
}

impl RevocationList {
    /// Whether a token of `client_id` with `jti`, issued at `iat` (unix seconds), is revoked.
    pub fn is_revoked(&self, client_id: &str, jti: &str, iat: i64) -> bool {
        self.jtis.contains(jti)
            || self
                .issued_before
                .get(client_id)
                .is_some_and(|cutoff| iat <= *cutoff)
    }

    /// Whether this token id is revoked on its own.
    pub fn has_jti(&self, jti: &str) -> bool {
        self.jtis.contains(jti)
    }
}

/// Loads every revocation whose tokens may still be unexpired.
pub async fn load(db: &impl ConnectionTrait) -> Result<RevocationList, StoreError> {
    let rows = revocation::Entity::find()
        .filter(revocation::Column::ExpiresAt.gt(Utc::now()))
        .all(db)
        .await?;
    let mut list = RevocationList::default();
    for row in rows {
        match (row.jti, row.issued_before) {
            (Some(jti), _) => {
                list.jtis.insert(jti);
            }
            (None, Some(before)) => {
                let cutoff = list.issued_before.entry(row.client_id).or_insert(i64::MIN);
                *cutoff = (*cutoff).max(before.timestamp());
            }
            (None, None) => {}
        }
    }
    Ok(list)
}

/// Revokes one token of `client_id` until its expiry `exp` (unix seconds).
pub async fn revoke_token(
    db: &DatabaseConnection,
    client_id: &str,
    jti: &str,
    exp: i64,
    actor: &Actor,
) -> Result<(), StoreError> {
    let now = now();
    // Kept past `exp` by more than any verifier's leeway, so no reload forgets it too early.
    let expires_at = DateTime::from_timestamp(exp, 0).unwrap_or(now).max(now) + KEEP_AFTER_EXPIRY;
    let txn = super::begin_write(db).await?;
    let row = revocation::ActiveModel {
        client_id: Set(client_id.to_owned()),
        jti: Set(Some(jti.to_owned())),
        issued_before: Set(None),
        expires_at: Set(expires_at),
        revoked_at: Set(now),
        ..Default::default()
    };
    let event = ("token.revoked", serde_json::json!({"jti": jti}));
    store(&txn, client_id, row, event, actor).await?;
    txn.commit().await?;
    Ok(())
}

/// Inserts a revocation, tells every process to reload, and audits it.
async fn store(
    txn: &impl ConnectionTrait,
    client_id: &str,
    row: revocation::ActiveModel,
    (kind, details): (&str, serde_json::Value),
    actor: &Actor,
) -> Result<(), StoreError> {
    row.insert(txn).await?;
    changes::record(txn, REVOCATIONS).await?;
    audit::record(txn, kind, actor, Some(client_id), details).await
}

/// Revokes every token issued to `client_id` up to now; returns the cutoff (milliseconds; a
/// token's issue time in milliseconds is in its `jti`). The cutoff is kept on the client, not
/// sized by any lifetime setting, so it holds however `token.max_ttl_seconds` changes later.
pub async fn revoke_client_tokens(
    db: &DatabaseConnection,
    client_id: &str,
    actor: &Actor,
) -> Result<DateTime<Utc>, StoreError> {
    let txn = super::begin_write(db).await?;
    let now = now();
    let cutoff = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    let updated = client::Entity::update_many()
        .col_expr(
            client::Column::TokensValidAfter,
            sea_orm::sea_query::Expr::value(Some(cutoff)),
        )
        .filter(client::Column::ClientId.eq(client_id))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::NotFound(format!("client {client_id}")));
    }
    changes::record(&txn, client_id).await?;
    audit::record(
        &txn,
        "client.tokens_revoked",
        actor,
        Some(client_id),
        serde_json::json!({"issued_before": cutoff}),
    )
    .await?;
    txn.commit().await?;
    Ok(cutoff)
}

/// Drops revocations whose tokens have all expired.
pub async fn prune(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    let deleted = revocation::Entity::delete_many()
        .filter(revocation::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected)
}
