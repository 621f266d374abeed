//! What the token path knows of a client, read from memory and loaded on a miss.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use entity::{client, client_role, client_scope, client_secret, role_scope};
use moka::future::Cache;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::StoreError;
use super::client_auth::{AuthFields, ClientAuthentication, TokenEndpointAuthMethod};
use super::health::DatabaseHealth;
use crate::secret::VerifiableHash;

/// A scope a client holds, with the audience of its API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedScope {
    /// `{api}:{permission}`.
    pub scope: String,
    /// The API's audience URI.
    pub audience: String,
}

/// A secret of a client, parsed for verification.
#[derive(Debug)]
pub struct StoredSecret {
    /// The secret's id.
    pub secret_id: String,
    /// Its argon2id hash.
    pub hash: Arc<VerifiableHash>,
    /// Unix seconds after which it is refused.
    pub expires_at: Option<i64>,
    /// Set once argon2id has verified this secret; lives and dies with this cache entry,
    /// so any change to the client or its secrets drops it.
    pub verified: crate::secret::VerifiedTag,
    /// Whether the secret string carries `secret_id` (checked by that id alone).
    pub id_in_secret: bool,
}

/// Everything the token endpoint needs about one client.
#[derive(Debug)]
pub struct TokenClient {
    /// The client's id.
    pub client_id: String,
    /// Effective state: the client and every owner above it are enabled. Disabled clients
    /// get `invalid_client`, and their tokens are inactive.
    pub enabled: bool,
    /// Made by the CLI (no owner): may administer, and grant, anything in its project (in
    /// every project when its project is `default`).
    pub root: bool,
    /// Its project.
    pub project: String,
    /// Tokens issued at or before this instant (unix milliseconds) are inactive: the last
    /// disable or revocation of every token of the client.
    pub tokens_valid_after_ms: Option<i64>,
    /// Token lifetime in seconds; `None` follows `token.ttl_seconds`.
    pub token_ttl_seconds: Option<u32>,
    /// Source ranges it may call from; empty means any.
    pub allowed_ips: Vec<ipnet::IpNet>,
    /// Direct and role scopes, sorted by scope, no duplicates.
    pub scopes: Vec<GrantedScope>,
    /// Its secrets.
    pub secrets: Vec<StoredSecret>,
    /// How it authenticates.
    pub authentication: ClientAuthentication,
    /// Its token requests must carry a DPoP proof.
    pub dpop_bound: bool,
}

impl TokenClient {
    /// Whether a request from `source` may use this client.
    pub fn allows_source(&self, source: Option<std::net::IpAddr>) -> bool {
        // An IPv4 peer seen on an IPv6 socket arrives as ::ffff:a.b.c.d: compare it as IPv4.
        self.allowed_ips.is_empty()
            || source.is_some_and(|ip| {
                let ip = ip.to_canonical();
                self.allowed_ips.iter().any(|net| net.contains(&ip))
            })
    }

    /// Whether a token issued at `issued_ms` (unix milliseconds) is cut off.
    pub fn revoked_at_issue(&self, issued_ms: i64) -> bool {
        self.tokens_valid_after_ms
            .is_some_and(|cutoff| issued_ms <= cutoff)
    }

    /// Secrets that have not expired at `now` (unix seconds).
    pub fn live_secrets(&self, now: i64) -> impl Iterator<Item = &StoredSecret> {
        self.secrets
            .iter()
            .filter(move |s| s.expires_at.is_none_or(|e| now < e))
    }
}

/// A client's direct scopes and its roles' scopes, as (api, permission).
async fn granted(
    db: &DatabaseConnection,
    client_id: &str,
) -> Result<BTreeSet<(String, String)>, StoreError> {
    let mut scopes: BTreeSet<(String, String)> = client_scope::Entity::find()
        .filter(client_scope::Column::ClientId.eq(client_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.api_name, s.permission))
        .collect();
    let roles: Vec<String> = client_role::Entity::find()
        .filter(client_role::Column::ClientId.eq(client_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.role_name)
        .collect();
    if !roles.is_empty() {
        scopes.extend(
            role_scope::Entity::find()
                .filter(role_scope::Column::RoleName.is_in(roles))
                .all(db)
                .await?
                .into_iter()
                .map(|s| (s.api_name, s.permission)),
        );
    }
    Ok(scopes)
}

/// Loads one client for the token path: a handful of indexed queries, only on a cache miss.
pub async fn load_token_client(
    db: &DatabaseConnection,
    client_id: &str,
) -> Result<Option<TokenClient>, StoreError> {
    let Some(model) = client::Entity::find_by_id(client_id).one(db).await? else {
        return Ok(None);
    };
    let mut scopes = granted(db, client_id).await?;
    // Effective scopes are capped by the owner's, transitively, up to the first root client
    // (made by the CLI, no owner), which may grant anything, or up to the first client owned
    // by an administrator, whose current ceiling in that client's project caps the whole
    // chain (SPEC §7). A missing owner caps to nothing. The client is effective only while
    // every owner on the way is enabled (SPEC §5) and the administrator at the top still
    // manages the project.
    let mut enabled = model.enabled;
    let mut owner = model.owner.clone();
    let mut person = model.owner_administrator.clone();
    let mut person_project = model.project.clone();
    let mut seen = BTreeSet::from([client_id.to_owned()]);
    while let Some(owner_id) = owner.take() {
        if !seen.insert(owner_id.clone()) || seen.len() > 64 {
            scopes.clear();
            enabled = false;
            person = None;
            break;
        }
        match client::Entity::find_by_id(&owner_id).one(db).await? {
            None => {
                scopes.clear();
                enabled = false;
                person = None;
            }
            Some(o) => {
                enabled &= o.enabled;
                if o.owner.is_some() || o.owner_administrator.is_some() {
                    let held = granted(db, &owner_id).await?;
                    scopes.retain(|s| held.contains(s));
                    owner = o.owner;
                    person = o.owner_administrator;
                    person_project = o.project;
                } else {
                    person = None;
                }
            }
        }
    }
    if let Some(person) = person {
        let ceiling = match super::administrators::get(db, &person).await {
            Ok(a) => a.ceiling(&person_project),
            Err(StoreError::NotFound(_)) => super::administrators::Ceiling::Nothing,
            Err(e) => return Err(e),
        };
        if ceiling == super::administrators::Ceiling::Nothing {
            enabled = false;
        }
        scopes.retain(|(api, permission)| ceiling.allows(&format!("{api}:{permission}")));
    }
    // Only APIs of its own project, shared ones and the admin API count, whatever was granted
    // before an API stopped being shared.
    let apis: BTreeMap<String, super::Api> = if scopes.is_empty() {
        BTreeMap::new()
    } else {
        let names: BTreeSet<String> = scopes.iter().map(|(api, _)| api.clone()).collect();
        entity::api::Entity::find()
            .filter(entity::api::Column::Name.is_in(names))
            .all(db)
            .await?
            .into_iter()
            .map(|a| (a.name.clone(), super::Api::from(a)))
            .collect()
    };
    let scopes = scopes
        .into_iter()
        .filter_map(|(api, permission)| {
            let known = apis.get(&api)?;
            known.grantable_in(&model.project).then(|| GrantedScope {
                scope: format!("{api}:{permission}"),
                audience: known.audience.clone(),
            })
        })
        .collect();
    let secrets = client_secret::Entity::find()
        .filter(client_secret::Column::ClientId.eq(client_id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|s| {
            // A hash we cannot parse can never verify; skip it rather than fail the client.
            let hash = VerifiableHash::parse(&s.secret_hash)?;
            Some(StoredSecret {
                secret_id: s.secret_id,
                hash: Arc::new(hash),
                expires_at: s.expires_at.map(|t| t.timestamp()),
                verified: Default::default(),
                id_in_secret: s.id_in_secret,
            })
        })
        .collect();
    // A method this build does not know (a newer replica's, or a bad row) must not fall back
    // to secrets: the client cannot authenticate until it is set again.
    let method = match model.token_endpoint_auth_method.parse() {
        Ok(m) => m,
        Err(_) => {
            tracing::warn!(
                client_id,
                "a client's stored authentication method is unknown; it cannot authenticate"
            );
            enabled = false;
            TokenEndpointAuthMethod::ClientSecretBasic
        }
    };
    let fields = AuthFields {
        method,
        settings: super::clients::read_settings(&model),
        dpop_bound_access_tokens: model.dpop_bound_access_tokens,
    };
    // Checked when written; `http` JWK set URLs were allowed then if they are stored.
    let authentication = match ClientAuthentication::check(&fields, true) {
        Ok(a) => a,
        Err(errors) => {
            tracing::warn!(
                client_id,
                ?errors,
                "a client's stored authentication is invalid; it cannot authenticate"
            );
            enabled = false;
            ClientAuthentication::Secret
        }
    };
    Ok(Some(TokenClient {
        client_id: model.client_id,
        enabled,
        root: model.owner.is_none() && model.owner_administrator.is_none(),
        project: model.project,
        tokens_valid_after_ms: model.tokens_valid_after.map(|t| t.timestamp_millis()),
        token_ttl_seconds: model.token_ttl_seconds.and_then(|t| u32::try_from(t).ok()),
        allowed_ips: serde_json::from_str::<Vec<String>>(&model.allowed_ips)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| super::parse_ip_range(s))
            .collect(),
        scopes,
        secrets,
        authentication,
        dpop_bound: model.dpop_bound_access_tokens,
    }))
}

/// A bounded cache of the clients in use, so a token request reads no database when warm.
///
/// Entries leave when idle or when a change to the client is made here (the admin handlers
/// invalidate at once) or elsewhere (the change log, polled every 250 ms).
#[derive(Clone)]
pub struct ClientDirectory {
    db: DatabaseConnection,
    cache: Cache<String, Arc<TokenClient>>,
    /// Ids the database did not know: a flood of made-up ids is answered from memory. A
    /// client created anywhere is removed from it (the change log names every new client).
    unknown: Cache<String, ()>,
    health: Arc<DatabaseHealth>,
}

/// How long an unknown id is remembered as unknown (a creation elsewhere ends it sooner).
const UNKNOWN_TTL: Duration = Duration::from_secs(60);

/// How long a miss may wait for the database before the request gets a `503`: the token path
/// must not hang on a database that is gone (the pool would wait its whole acquire timeout).
const LOAD_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a load failed, shared by the requests that waited on it.
#[derive(Clone)]
enum LoadFailure {
    Unknown,
    Unavailable(String),
    Failed(String),
}

impl ClientDirectory {
    /// A directory over `db` holding at most `capacity` clients, each until idle for `idle`.
    pub fn new(
        db: DatabaseConnection,
        capacity: u64,
        idle: Duration,
        health: Arc<DatabaseHealth>,
    ) -> Self {
        ClientDirectory {
            db,
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build(),
            unknown: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(UNKNOWN_TTL)
                .build(),
            health,
        }
    }

    /// The client, from memory or loaded once (concurrent misses share one load). While the
    /// database is down, a miss is `Unavailable` at once.
    pub async fn get(&self, client_id: &str) -> Result<Option<Arc<TokenClient>>, StoreError> {
        if let Some(hit) = self.cache.get(client_id).await {
            return Ok(Some(hit));
        }
        // Boxed: the load's future is large, and every request's future would carry it.
        Box::pin(self.load(client_id)).await
    }

    async fn load(&self, client_id: &str) -> Result<Option<Arc<TokenClient>>, StoreError> {
        if self.unknown.contains_key(client_id) {
            return Ok(None);
        }
        if !self.health.is_up() {
            return Err(StoreError::Unavailable(
                "the database does not answer".into(),
            ));
        }
        let db = self.db.clone();
        let id = client_id.to_owned();
        let health = self.health.clone();
        let loaded = self
            .cache
            .try_get_with(client_id.to_owned(), async move {
                let loaded = tokio::time::timeout(LOAD_TIMEOUT, load_token_client(&db, &id)).await;
                match loaded {
                    Ok(Ok(Some(c))) => Ok(Arc::new(c)),
                    Ok(Ok(None)) => Err(LoadFailure::Unknown),
                    Ok(Err(e)) if e.is_unavailable() => {
                        health.failed(&e);
                        Err(LoadFailure::Unavailable(e.to_string()))
                    }
                    Ok(Err(e)) => Err(LoadFailure::Failed(e.to_string())),
                    Err(_) => {
                        let why = format!("no answer within {LOAD_TIMEOUT:?}");
                        health.failed(&why);
                        Err(LoadFailure::Unavailable(why))
                    }
                }
            })
            .await;
        match loaded {
            Ok(client) => Ok(Some(client)),
            Err(e) => match e.as_ref() {
                LoadFailure::Unknown => {
                    self.unknown.insert(client_id.to_owned(), ()).await;
                    Ok(None)
                }
                LoadFailure::Unavailable(why) => Err(StoreError::Unavailable(why.clone())),
                LoadFailure::Failed(msg) => {
                    Err(StoreError::Db(sea_orm::DbErr::Custom(msg.clone())))
                }
            },
        }
    }

    /// Drops every client from memory (a change that touches many, e.g. an API's audience).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
        self.unknown.invalidate_all();
    }

    /// Drops each of `client_ids` from memory.
    pub async fn invalidate_many<S: AsRef<str>>(&self, client_ids: impl IntoIterator<Item = S>) {
        for id in client_ids {
            self.cache.invalidate(id.as_ref()).await;
            self.unknown.invalidate(id.as_ref()).await;
        }
    }

    /// Drops a client from memory so its next request reloads it.
    pub async fn invalidate(&self, client_id: &str) {
        self.cache.invalidate(client_id).await;
        self.unknown.invalidate(client_id).await;
    }
}
