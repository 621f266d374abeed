//! A client's secrets: listed masked, added, deleted, reset.

use chrono::{DateTime, Utc};
use entity::{client, client_secret};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use super::StoreError;
use super::apis::now;
use super::audit::{self, Actor};
use crate::secret::ClientSecret;

/// A secret as lists show it: never the secret, never its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecretInfo {
    /// The secret's id.
    pub secret_id: String,
    /// Prefix and last four characters.
    pub masked: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last successful token request with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<client_secret::Model> for SecretInfo {
    fn from(m: client_secret::Model) -> Self {
        SecretInfo {
            secret_id: m.secret_id,
            masked: m.masked,
            created_at: m.created_at,
            expires_at: m.expires_at,
            last_used_at: m.last_used_at,
        }
    }
}

async fn require_client(db: &impl ConnectionTrait, client_id: &str) -> Result<(), StoreError> {
    client::Entity::find_by_id(client_id)
        .one(db)
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))
}

/// A client's secrets, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Vec<SecretInfo>, StoreError> {
    require_client(db, client_id).await?;
    Ok(client_secret::Entity::find()
        .filter(client_secret::Column::ClientId.eq(client_id))
        .order_by_asc(client_secret::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(SecretInfo::from)
        .collect())
}

async fn insert(
    db: &impl ConnectionTrait,
    client_id: &str,
    secret: &ClientSecret,
    hash: String,
    expires_at: Option<DateTime<Utc>>,
) -> Result<SecretInfo, StoreError> {
    let model = client_secret::ActiveModel {
        secret_id: Set(secret.secret_id().to_owned()),
        client_id: Set(client_id.to_owned()),
        secret_hash: Set(hash),
        masked: Set(secret.masked()),
        created_at: Set(now()),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
        id_in_secret: Set(true),
    }
    .insert(db)
    .await?;
    Ok(model.into())
}

/// Live (unexpired) secrets a client may hold at once (SPEC §3).
pub const MAX_LIVE_SECRETS: u64 = 10;

/// Adds a secret beside the existing ones (rotation without downtime).
pub async fn add(
    db: &DatabaseConnection,
    client_id: &str,
    expires_at: Option<DateTime<Utc>>,
    actor: &Actor,
) -> Result<(SecretInfo, ClientSecret), StoreError> {
    if expires_at.is_some_and(|t| t <= Utc::now()) {
        return Err(StoreError::invalid("expires_at", "must be in the future"));
    }
    require_client(db, client_id).await?;
    let (secret, hash) = ClientSecret::generate_hashed().await;
    let hash = hash.0;
    let txn = super::begin_write(db).await?;
    still_uses_secrets(&txn, client_id).await?;
    let live = client_secret::Entity::find()
        .filter(client_secret::Column::ClientId.eq(client_id))
        .filter(
            sea_orm::Condition::any()
                .add(client_secret::Column::ExpiresAt.is_null())
                .add(client_secret::Column::ExpiresAt.gt(Utc::now())),
        )
        .count(&txn)
        .await?;
    if live >= MAX_LIVE_SECRETS {
        return Err(StoreError::Conflict {
            field: "secrets",
            message: format!(
                "a client holds at most {MAX_LIVE_SECRETS} live secrets: delete one first"
            ),
        });
    }
    let info = insert(&txn, client_id, &secret, hash, expires_at).await?;
    super::changes::record(&txn, client_id).await?;
    audit::record(
        &txn,
        "secret.added",
        actor,
        Some(client_id),
        serde_json::json!({"secret_id": info.secret_id, "expires_at": info.expires_at}),
    )
    .await?;
    txn.commit().await?;
    Ok((info, secret))
}

/// Deletes one secret.
pub async fn delete(
    db: &DatabaseConnection,
    client_id: &str,
    secret_id: &str,
    actor: &Actor,
) -> Result<(), StoreError> {
    let txn = super::begin_write(db).await?;
    let gone = client_secret::Entity::delete_many()
        .filter(client_secret::Column::ClientId.eq(client_id))
        .filter(client_secret::Column::SecretId.eq(secret_id))
        .exec(&txn)
        .await?;
    if gone.rows_affected == 0 {
        return Err(StoreError::NotFound(format!(
            "secret {secret_id} of client {client_id}"
        )));
    }
    super::changes::record(&txn, client_id).await?;
    audit::record(
        &txn,
        "secret.deleted",
        actor,
        Some(client_id),
        serde_json::json!({"secret_id": secret_id}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// In the transaction that adds a secret: the client still authenticates with secrets (its
/// method may have changed while the secret was hashed, and a secret added then would come
/// back to life with a later switch to secrets).
async fn still_uses_secrets(
    txn: &impl sea_orm::ConnectionTrait,
    client_id: &str,
) -> Result<(), StoreError> {
    let model = client::Entity::find_by_id(client_id)
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
    let method = model
        .token_endpoint_auth_method
        .parse::<super::client_auth::TokenEndpointAuthMethod>();
    if method.is_ok_and(|m| m.uses_secret()) {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            field: "token_endpoint_auth_method",
            message: format!(
                "this client authenticates with {}, not a secret",
                model.token_endpoint_auth_method
            ),
        })
    }
}

/// Replaces every secret of a client with one new secret, at once.
pub async fn reset(
    db: &DatabaseConnection,
    client_id: &str,
    actor: &Actor,
) -> Result<(SecretInfo, ClientSecret), StoreError> {
    require_client(db, client_id).await?;
    let (secret, hash) = ClientSecret::generate_hashed().await;
    let hash = hash.0;
    let txn = super::begin_write(db).await?;
    still_uses_secrets(&txn, client_id).await?;
    client_secret::Entity::delete_many()
        .filter(client_secret::Column::ClientId.eq(client_id))
        .exec(&txn)
        .await?;
    let info = insert(&txn, client_id, &secret, hash, None).await?;
    super::changes::record(&txn, client_id).await?;
    audit::record(
        &txn,
        "secret.reset",
        actor,
        Some(client_id),
        serde_json::json!({"secret_id": info.secret_id}),
    )
    .await?;
    txn.commit().await?;
    Ok((info, secret))
}
