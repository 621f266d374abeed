//! API clients, their scopes and secrets.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use entity::{api, client, client_role, client_scope, client_secret};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde::Serialize;

use super::StoreError;
use super::apis::{Api, now};
use crate::secret::{ClientSecret, random_token};

/// A client as users see it.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// Opaque, URL-safe id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether it may get tokens.
    pub enabled: bool,
    /// Directly granted scopes, `{api}:{permission}`, sorted.
    pub scopes: Vec<String>,
    /// Roles whose scopes it also holds.
    pub roles: Vec<String>,
    /// Source addresses and CIDRs it may call from; empty means any.
    pub allowed_ips: Vec<String>,
    /// Lifetime of its tokens; `None` follows `token.ttl_seconds`.
    pub token_ttl_seconds: Option<u32>,
    /// The client whose admin token created it; `None` for root clients made by the CLI.
    pub owner: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful token request.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What it takes to create a client.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Display name, required.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Scopes to grant, `{api}:{permission}`.
    pub scopes: Vec<String>,
    /// Owner; `None` makes a root client.
    pub owner: Option<String>,
}

/// A scope split into its API and permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScopeName {
    /// The API's name.
    pub api: String,
    /// `read` or `write`.
    pub permission: String,
}

impl std::fmt::Display for ScopeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.api, self.permission)
    }
}

/// Checks that every scope names a registered API and a permission it offers.
pub async fn resolve_scopes(
    db: &impl ConnectionTrait,
    scopes: &[String],
) -> Result<BTreeSet<ScopeName>, StoreError> {
    let catalog: BTreeMap<String, Api> = super::apis::list(db)
        .await?
        .into_iter()
        .map(|a| (a.name.clone(), a))
        .collect();
    let mut out = BTreeSet::new();
    for scope in scopes {
        let (api, permission) = scope.split_once(':').ok_or_else(|| {
            StoreError::invalid(
                "scopes",
                format!("{scope:?} is not of the form api:permission"),
            )
        })?;
        let known = catalog.get(api).ok_or_else(|| {
            StoreError::invalid("scopes", format!("{scope:?}: no API named {api:?}"))
        })?;
        if !known.offers(permission) {
            return Err(StoreError::invalid(
                "scopes",
                format!("{scope:?}: API {api:?} does not offer {permission:?}"),
            ));
        }
        out.insert(ScopeName {
            api: api.to_owned(),
            permission: permission.to_owned(),
        });
    }
    Ok(out)
}

/// Creates a client with its scopes and a first secret, in one transaction.
pub async fn create(
    db: &DatabaseConnection,
    new: NewClient,
) -> Result<(Client, ClientSecret), StoreError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(StoreError::invalid("name", "must be 1 to 200 characters"));
    }
    if new.description.len() > 2000 {
        return Err(StoreError::invalid(
            "description",
            "must be at most 2000 characters",
        ));
    }
    let scopes = resolve_scopes(db, &new.scopes).await?;
    let secret = ClientSecret::generate();
    // Hash before the transaction: argon2 takes ~12 ms and must not hold a write lock.
    let hash = secret.hash();
    let client_id = random_token(16);
    let now = now();

    let txn = db.begin().await?;
    let model = client::ActiveModel {
        client_id: Set(client_id.clone()),
        name: Set(name),
        description: Set(new.description),
        enabled: Set(true),
        allowed_ips: Set("[]".to_owned()),
        token_ttl_seconds: Set(None),
        owner: Set(new.owner),
        created_at: Set(now),
        updated_at: Set(now),
        last_used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    for scope in &scopes {
        client_scope::ActiveModel {
            client_id: Set(client_id.clone()),
            api_name: Set(scope.api.clone()),
            permission: Set(scope.permission.clone()),
        }
        .insert(&txn)
        .await?;
    }
    client_secret::ActiveModel {
        secret_id: Set(random_token(12)),
        client_id: Set(client_id.clone()),
        secret_hash: Set(hash.0),
        masked: Set(secret.masked()),
        created_at: Set(now),
        expires_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;

    let client = to_client(
        model,
        scopes.iter().map(ToString::to_string).collect(),
        Vec::new(),
    );
    Ok((client, secret))
}

/// Every client, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Client>, StoreError> {
    let models = client::Entity::find()
        .order_by_asc(client::Column::CreatedAt)
        .order_by_asc(client::Column::ClientId)
        .all(db)
        .await?;
    let mut scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in client_scope::Entity::find().all(db).await? {
        scopes
            .entry(s.client_id.clone())
            .or_default()
            .push(format!("{}:{}", s.api_name, s.permission));
    }
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in client_role::Entity::find().all(db).await? {
        roles.entry(r.client_id).or_default().push(r.role_name);
    }
    Ok(models
        .into_iter()
        .map(|m| {
            let s = scopes.remove(&m.client_id).unwrap_or_default();
            let r = roles.remove(&m.client_id).unwrap_or_default();
            to_client(m, s, r)
        })
        .collect())
}

/// Number of clients.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(client::Entity::find().count(db).await?)
}

fn to_client(m: client::Model, mut scopes: Vec<String>, mut roles: Vec<String>) -> Client {
    scopes.sort();
    roles.sort();
    Client {
        client_id: m.client_id,
        name: m.name,
        description: m.description,
        enabled: m.enabled,
        scopes,
        roles,
        allowed_ips: serde_json::from_str(&m.allowed_ips).unwrap_or_default(),
        token_ttl_seconds: m.token_ttl_seconds.and_then(|t| u32::try_from(t).ok()),
        owner: m.owner,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_used_at: m.last_used_at,
    }
}

/// The audiences of the APIs a set of scope rows refer to, by API name.
pub(super) async fn audiences(
    db: &impl ConnectionTrait,
    api_names: impl IntoIterator<Item = String>,
) -> Result<BTreeMap<String, String>, StoreError> {
    let names: BTreeSet<String> = api_names.into_iter().collect();
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(api::Entity::find()
        .filter(api::Column::Name.is_in(names))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.name, a.audience))
        .collect())
}
