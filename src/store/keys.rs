//! Stored signing keys: listing, rotation and the first key.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::signing_key;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Set,
    TransactionTrait,
};

use super::StoreError;
use super::apis::now;
use crate::keys::{
    KeyEncryptionKey, KeyState, KeyStatus, SigningAlgorithm, generate_signing_key, key_timeline,
    prepublication, sealed_kek_id,
};

/// Every stored key.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<signing_key::Model>, StoreError> {
    Ok(signing_key::Entity::find().all(db).await?)
}

/// Every key's state at `now`, in activation order.
pub async fn statuses(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    max_ttl: Duration,
) -> Result<Vec<KeyStatus>, StoreError> {
    let rows = all(db)
        .await?
        .into_iter()
        .map(|k| (k.kid, k.algorithm, k.created_at, k.activates_at))
        .collect();
    Ok(key_timeline(rows, now, max_ttl))
}

async fn insert(
    db: &impl ConnectionTrait,
    algorithm: SigningAlgorithm,
    kek: &KeyEncryptionKey,
    activates_at: DateTime<Utc>,
) -> Result<String, StoreError> {
    let key = generate_signing_key(algorithm, kek)?;
    signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        algorithm: Set(key.algorithm.as_str().to_owned()),
        public_jwk: Set(key.public_jwk),
        private_jwe: Set(key.private_jwe),
        created_at: Set(now()),
        activates_at: Set(activates_at),
    }
    .insert(db)
    .await?;
    Ok(key.kid)
}

/// Makes a first signing key if no key signs now (a new database). Replicas starting
/// together on a new database make one key between them (see [`lock_key_set`]).
pub async fn ensure_signing_key(
    db: &DatabaseConnection,
    algorithm: SigningAlgorithm,
    kek: &KeyEncryptionKey,
    max_ttl: Duration,
) -> Result<(), StoreError> {
    let signing = |statuses: &[KeyStatus]| statuses.iter().any(|k| k.state == KeyState::Signing);
    if signing(&statuses(db, now(), max_ttl).await?) {
        return Ok(());
    }
    let txn = lock_key_set(db).await?;
    let now = now();
    if !signing(&statuses(&txn, now, max_ttl).await?) {
        let kid = insert(&txn, algorithm, kek, now).await?;
        super::changes::record(&txn, super::changes::KEYS).await?;
        tracing::info!(%kid, alg = %algorithm, "generated first signing key");
    }
    txn.commit().await?;
    Ok(())
}

/// A write transaction holding the key-set lock until it ends: PostgreSQL's advisory lock,
/// or SQLite's write lock (taken at `BEGIN IMMEDIATE`). Replicas that decide to add a key
/// re-check under it, so only one adds.
async fn lock_key_set(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, StoreError> {
    let txn = super::begin_write(db).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({KEY_SET_LOCK})"))
            .await?;
    }
    Ok(txn)
}

/// Adds a `next` key, published at once and signing after one JWKS cache lifetime (or at
/// once with `immediately`, for emergencies). Returns its status.
///
/// The key, its change-log entry and its audit event are one transaction (a savepoint when
/// `db` is a transaction already): a process killed half-way leaves all or nothing.
pub async fn rotate<C>(
    db: &C,
    algorithm: SigningAlgorithm,
    kek: &KeyEncryptionKey,
    jwks_max_age: Duration,
    max_ttl: Duration,
    immediately: bool,
    actor: &super::audit::Actor,
) -> Result<KeyStatus, StoreError>
where
    C: ConnectionTrait + TransactionTrait,
{
    use sea_orm::TransactionSession;
    let txn = super::begin_write(db).await?;
    let now = now();
    let activates_at = if immediately {
        now
    } else {
        now + prepublication(jwks_max_age)
    };
    let kid = insert(&txn, algorithm, kek, activates_at).await?;
    super::changes::record(&txn, super::changes::KEYS).await?;
    super::audit::record(
        &txn,
        "key.rotated",
        actor,
        Some(&kid),
        serde_json::json!({"alg": algorithm.as_str(), "activates_at": activates_at, "now": immediately}),
    )
    .await?;
    let status = statuses(&txn, now, max_ttl)
        .await?
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| StoreError::NotFound(format!("key {kid}")))?;
    txn.commit().await?;
    tracing::info!(%kid, alg = %algorithm, %activates_at, "rotated signing key");
    Ok(status)
}

/// What `tessera keys rewrap` did.
#[derive(Debug, serde::Serialize)]
pub struct Rewrapped {
    /// Signing keys re-encrypted: every stored key.
    pub rewrapped: usize,
    /// The key-encryption key they are sealed under now.
    pub kek_id: String,
    /// How many were sealed under each key-encryption key before (by id).
    pub previously_sealed_under: std::collections::BTreeMap<String, usize>,
}

/// Re-encrypts the private part of every stored signing key under `kek`'s current key, in one
/// transaction holding the key-set lock: all keys or none. `kek` must be able to open every
/// key (its previous keys are used for that).
pub async fn rewrap(
    db: &DatabaseConnection,
    kek: &KeyEncryptionKey,
    actor: &super::audit::Actor,
) -> Result<Rewrapped, StoreError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let txn = lock_key_set(db).await?;
    let rows = all(&txn).await?;
    let mut before = std::collections::BTreeMap::<String, usize>::new();
    for row in &rows {
        let private = zeroize::Zeroizing::new(kek.open(&row.kid, &row.private_jwe)?);
        // The plaintext must be this key's private JWK, not any JWE the KEK opens.
        let jwk = josekit::jwk::Jwk::from_bytes(&*private).map_err(|e| {
            crate::keys::KeyError::BadKey {
                kid: row.kid.clone(),
                why: e.to_string(),
            }
        })?;
        if jwk.key_id() != Some(row.kid.as_str()) {
            return Err(crate::keys::KeyError::BadKey {
                kid: row.kid.clone(),
                why: "its sealed private part belongs to another key".into(),
            }
            .into());
        }
        let sealed = kek.seal(&private)?;
        *before
            .entry(sealed_kek_id(&row.private_jwe).unwrap_or_else(|| "?".into()))
            .or_default() += 1;
        signing_key::Entity::update_many()
            .col_expr(signing_key::Column::PrivateJwe, sealed.into())
            .filter(signing_key::Column::Kid.eq(row.kid.as_str()))
            .exec(&txn)
            .await?;
    }
    super::audit::record(
        &txn,
        "keys.rewrapped",
        actor,
        None,
        serde_json::json!({"keys": rows.len(), "kek_id": kek.id(), "previously_sealed_under": before}),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(keys = rows.len(), kek_id = %kek.id(), "rewrapped signing keys");
    Ok(Rewrapped {
        rewrapped: rows.len(),
        kek_id: kek.id().to_owned(),
        previously_sealed_under: before,
    })
}

/// How many stored keys are sealed under a key-encryption key other than `kek`'s current one.
pub async fn sealed_under_other_keks(
    db: &impl ConnectionTrait,
    kek: &KeyEncryptionKey,
) -> Result<usize, StoreError> {
    Ok(all(db)
        .await?
        .iter()
        .filter(|k| !kek.sealed_by_current(&k.private_jwe))
        .count())
}

/// Starts a scheduled rotation when the signing key is `rotate_after` old, less the
/// pre-publication wait (so the successor signs on time), unless a `next` key already waits.
///
/// Every replica runs this; exactly one rotates: the check is repeated under the key-set
/// lock, so a second replica waits, then sees the `next` key and does nothing.
pub async fn rotate_if_due(
    db: &DatabaseConnection,
    algorithm: SigningAlgorithm,
    kek: &KeyEncryptionKey,
    rotate_after: Duration,
    jwks_max_age: Duration,
    max_ttl: Duration,
) -> Result<Option<KeyStatus>, StoreError> {
    // Cheap check first, without a lock: nearly always nothing is due.
    if !rotation_due(db, rotate_after, jwks_max_age, max_ttl).await? {
        return Ok(None);
    }
    let txn = lock_key_set(db).await?;
    if !rotation_due(&txn, rotate_after, jwks_max_age, max_ttl).await? {
        txn.commit().await?;
        return Ok(None);
    }
    let status = rotate(
        &txn,
        algorithm,
        kek,
        jwks_max_age,
        max_ttl,
        false,
        // Scheduled: the server acts, not an operator.
        &super::audit::Actor::System,
    )
    .await?;
    txn.commit().await?;
    Ok(Some(status))
}

/// Advisory-lock key for changes to the key set ("tessera" in ASCII, as an i64).
const KEY_SET_LOCK: i64 = 0x0074_6573_7365_7261;

async fn rotation_due(
    db: &impl ConnectionTrait,
    rotate_after: Duration,
    jwks_max_age: Duration,
    max_ttl: Duration,
) -> Result<bool, StoreError> {
    let now = now();
    let statuses = statuses(db, now, max_ttl).await?;
    if statuses.iter().any(|k| k.state == KeyState::Next) {
        return Ok(false);
    }
    let Some(signing) = statuses.iter().find(|k| k.state == KeyState::Signing) else {
        return Ok(false);
    };
    let rotate_after = chrono::Duration::from_std(rotate_after).unwrap_or(chrono::Duration::MAX);
    Ok(signing.activates_at + rotate_after - prepublication(jwks_max_age) <= now)
}
