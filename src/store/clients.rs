//! API clients, their scopes and secrets.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use entity::{client, client_role, client_scope, client_secret};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use super::StoreError;
use super::apis::{Api, now};
use super::client_auth::{AuthFields, AuthSettings, ClientAuthentication, TokenEndpointAuthMethod};
use crate::secret::{ClientSecret, random_id};

/// What is wrong with allowed IP ranges, every bad entry named (the first 20), or `None`.
pub fn bad_ip_ranges(ips: &[String]) -> Option<String> {
    let bad: Vec<String> = ips
        .iter()
        .filter(|ip| crate::store::parse_ip_range(ip).is_none())
        .take(20)
        .map(|ip| format!("{ip:?} is not an IPv4/IPv6 address or CIDR"))
        .collect();
    (!bad.is_empty()).then(|| bad.join("; "))
}

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
    /// The client whose admin token created it; `None` for root clients made by the CLI and
    /// for clients owned by an administrator.
    #[serde(skip)]
    pub owner: Option<String>,
    /// The administrator who owns it, if a person does.
    #[serde(skip)]
    pub owner_administrator: Option<String>,
    /// Who owns it, as shown: `{"type": "administrator"|"client", "id"}`, `null` for a root
    /// client.
    #[serde(rename = "owner")]
    pub owner_ref: Option<OwnerRef>,
    /// The project it belongs to.
    pub project: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful token request.
    pub last_used_at: Option<DateTime<Utc>>,
    /// How it authenticates.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The settings of its method.
    #[serde(flatten)]
    pub auth_settings: AuthSettings,
    /// Whether its tokens must be DPoP-bound.
    pub dpop_bound_access_tokens: bool,
}

impl Client {
    /// Its authentication, as set.
    pub fn auth_fields(&self) -> AuthFields {
        AuthFields {
            method: self.token_endpoint_auth_method,
            settings: self.auth_settings.clone(),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
        }
    }
}

/// The owner of a client as shown in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OwnerRef {
    /// `administrator` or `client`.
    #[serde(rename = "type")]
    pub kind: OwnerKind,
    /// The administrator's or client's id.
    pub id: String,
}

/// What kind of owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OwnerKind {
    /// A person.
    Administrator,
    /// A client (through the admin API).
    Client,
}

/// The fields of a client an administrator sets (create, replace, merge patch).
#[derive(Debug, Clone)]
pub struct ClientFields {
    /// Display name, required.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether it may get tokens.
    pub enabled: bool,
    /// Scopes to grant, `{api}:{permission}`.
    pub scopes: Vec<String>,
    /// Roles to assign.
    pub roles: Vec<String>,
    /// Addresses and CIDRs; empty means any.
    pub allowed_ips: Vec<String>,
    /// Token lifetime; `None` follows `token.ttl_seconds`.
    pub token_ttl_seconds: Option<u32>,
    /// How it authenticates; `None` keeps what it has (a secret for a new client).
    pub auth: Option<AuthFields>,
}

/// What the server's settings allow in a client's fields.
#[derive(Debug, Clone, Copy)]
pub struct FieldRules {
    /// `token.max_ttl_seconds`.
    pub max_ttl: std::time::Duration,
    /// `token.allow_http_jwks_uri`.
    pub allow_http_jwks_uri: bool,
}

impl FieldRules {
    /// The rules of these settings.
    pub fn of(settings: &crate::config::Settings) -> Self {
        FieldRules {
            max_ttl: settings.token_max_ttl,
            allow_http_jwks_uri: settings.client_auth.allow_http_jwks_uri,
        }
    }
}

impl Default for ClientFields {
    fn default() -> Self {
        ClientFields {
            name: String::new(),
            description: String::new(),
            enabled: true,
            scopes: Vec::new(),
            roles: Vec::new(),
            allowed_ips: Vec::new(),
            token_ttl_seconds: None,
            auth: None,
        }
    }
}

/// What it takes to create a client.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Its fields.
    pub fields: ClientFields,
    /// Its project.
    pub project: String,
    /// Owning client; with no owner at all, a root client.
    pub owner: Option<String>,
    /// Owning administrator.
    pub owner_administrator: Option<String>,
}

/// Validated fields, ready to write.
struct CheckedFields {
    name: String,
    description: String,
    enabled: bool,
    scopes: BTreeSet<ScopeName>,
    roles: BTreeSet<String>,
    allowed_ips: Vec<String>,
    token_ttl_seconds: Option<i32>,
    auth: Option<AuthFields>,
}

/// Validates every field, collecting one message per field.
async fn check_fields(
    db: &impl ConnectionTrait,
    project: &str,
    f: ClientFields,
    rules: FieldRules,
) -> Result<CheckedFields, StoreError> {
    let max_ttl = rules.max_ttl;
    let mut errors: Vec<(&'static str, String)> = Vec::new();
    let name = f.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(("name", "must be 1 to 200 characters".into()));
    }
    if f.description.chars().count() > 2000 {
        errors.push(("description", "must be at most 2000 characters".into()));
    }
    let scopes = match resolve_scopes(db, Some(project), &f.scopes).await {
        Ok(s) => s,
        Err(StoreError::Invalid { field, message }) => {
            errors.push((field, message));
            BTreeSet::new()
        }
        Err(e) => return Err(e),
    };
    // Roles are named within the client's project; stored by key.
    let roles: BTreeSet<String> = f
        .roles
        .iter()
        .map(|r| super::roles::key(project, r))
        .collect();
    if let Some(bad) = f.roles.iter().find(|r| r.contains('/')) {
        errors.push(("roles", format!("no role named {bad:?}")));
    } else if !roles.is_empty() {
        let known: BTreeSet<String> = entity::role::Entity::find()
            .filter(entity::role::Column::Name.is_in(roles.iter().cloned()))
            .all(db)
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect();
        if let Some(unknown) = roles.iter().find(|r| !known.contains(*r)) {
            errors.push((
                "roles",
                format!(
                    "project {project:?} has no role named {:?}",
                    super::roles::name_of(unknown)
                ),
            ));
        }
    }
    let mut allowed_ips: Vec<String> = f
        .allowed_ips
        .iter()
        .filter_map(|ip| crate::store::parse_ip_range(ip))
        .map(|net| net.to_string())
        .collect();
    if let Some(bad) = bad_ip_ranges(&f.allowed_ips) {
        errors.push(("allowed_ips", bad));
    }
    allowed_ips.sort();
    allowed_ips.dedup();
    if let Some(ttl) = f.token_ttl_seconds
        && (ttl < 60 || u64::from(ttl) > max_ttl.as_secs())
    {
        errors.push((
            "token_ttl_seconds",
            format!(
                "must be between 60 and {} (token.max_ttl_seconds)",
                max_ttl.as_secs()
            ),
        ));
    }
    if let Some(auth) = &f.auth
        && let Err(bad) = ClientAuthentication::check(auth, rules.allow_http_jwks_uri)
    {
        errors.extend(bad);
    }
    if !errors.is_empty() {
        return Err(StoreError::Validation(errors));
    }
    Ok(CheckedFields {
        auth: f.auth,
        name,
        description: f.description,
        enabled: f.enabled,
        scopes,
        roles,
        allowed_ips,
        token_ttl_seconds: f.token_ttl_seconds.map(|t| t as i32),
    })
}

async fn write_grants(
    txn: &impl ConnectionTrait,
    client_id: &str,
    scopes: &BTreeSet<ScopeName>,
    roles: &BTreeSet<String>,
) -> Result<(), StoreError> {
    client_scope::Entity::delete_many()
        .filter(client_scope::Column::ClientId.eq(client_id))
        .exec(txn)
        .await?;
    client_role::Entity::delete_many()
        .filter(client_role::Column::ClientId.eq(client_id))
        .exec(txn)
        .await?;
    for scope in scopes {
        client_scope::ActiveModel {
            client_id: Set(client_id.to_owned()),
            api_name: Set(scope.api.clone()),
            permission: Set(scope.permission.clone()),
        }
        .insert(txn)
        .await?;
    }
    for role in roles {
        client_role::ActiveModel {
            client_id: Set(client_id.to_owned()),
            role_name: Set(role.clone()),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
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

/// Checks that every scope names a registered API and a permission it offers, and, for a
/// client or role of `project`, an API that project may use (its own, shared, or `admin`).
pub async fn resolve_scopes(
    db: &impl ConnectionTrait,
    project: Option<&str>,
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
        if let Some(project) = project
            && !known.grantable_in(project)
        {
            return Err(StoreError::invalid(
                "scopes",
                format!(
                    "{scope:?}: API {api:?} belongs to project {:?} and is not shared",
                    known.project
                ),
            ));
        }
        out.insert(ScopeName {
            api: api.to_owned(),
            permission: permission.to_owned(),
        });
    }
    Ok(out)
}

/// Creates a client with its grants and a first secret, in one transaction; `audit` is written
/// in the same transaction.
pub async fn create(
    db: &DatabaseConnection,
    new: NewClient,
    rules: FieldRules,
    audit: Option<&crate::store::audit::Actor>,
) -> Result<(Client, Option<ClientSecret>), StoreError> {
    let f = check_fields(db, &new.project, new.fields, rules).await?;
    super::projects::get(db, &new.project).await?;
    let auth = f.auth.clone().unwrap_or_default();
    // Hash before the transaction: argon2 takes tens of ms and must not hold a write lock.
    // Clients that authenticate without a secret get none.
    let secret = if auth.method.uses_secret() {
        Some(ClientSecret::generate_hashed().await)
    } else {
        None
    };
    let client_id = random_id(16);
    let now = now();

    let txn = super::begin_write(db).await?;
    if let Some(owner) = &new.owner
        && client::Entity::find_by_id(owner).one(&txn).await?.is_none()
    {
        return Err(StoreError::NotFound(format!("client {owner}")));
    }
    let model = client::ActiveModel {
        client_id: Set(client_id.clone()),
        name: Set(f.name),
        description: Set(f.description),
        enabled: Set(f.enabled),
        allowed_ips: Set(serde_json::to_string(&f.allowed_ips).unwrap_or_else(|_| "[]".into())),
        token_ttl_seconds: Set(f.token_ttl_seconds),
        owner: Set(new.owner),
        created_at: Set(now),
        updated_at: Set(now),
        last_used_at: Set(None),
        tokens_valid_after: Set(None),
        project: Set(new.project),
        owner_administrator: Set(new.owner_administrator),
        token_endpoint_auth_method: Set(auth.method.as_str().to_owned()),
        auth_settings: Set(stored_settings(&auth.settings)),
        dpop_bound_access_tokens: Set(auth.dpop_bound_access_tokens),
    }
    .insert(&txn)
    .await?;
    write_grants(&txn, &client_id, &f.scopes, &f.roles).await?;
    let secret_id = secret.as_ref().map(|(s, _)| s.secret_id().to_owned());
    if let Some((secret, hash)) = &secret {
        client_secret::ActiveModel {
            secret_id: Set(secret.secret_id().to_owned()),
            client_id: Set(client_id.clone()),
            secret_hash: Set(hash.0.clone()),
            masked: Set(secret.masked()),
            created_at: Set(now),
            expires_at: Set(None),
            last_used_at: Set(None),
            id_in_secret: Set(true),
        }
        .insert(&txn)
        .await?;
    }
    let client = to_client(
        model,
        f.scopes.iter().map(ToString::to_string).collect(),
        f.roles
            .iter()
            .map(|k| super::roles::name_of(k).to_owned())
            .collect(),
    );
    // Replicas that remembered this id as unknown forget it.
    crate::store::changes::record(&txn, &client_id).await?;
    if let Some(actor) = audit {
        crate::store::audit::record(
            &txn,
            "client.created",
            actor,
            Some(&client_id),
            serde_json::json!({
                "name": client.name,
                "scopes": client.scopes,
                "secret_id": secret_id,
                "token_endpoint_auth_method": client.token_endpoint_auth_method,
                "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
            }),
        )
        .await?;
    }
    txn.commit().await?;
    Ok((client, secret.map(|(s, _)| s)))
}

/// One client.
pub async fn get(db: &impl ConnectionTrait, client_id: &str) -> Result<Client, StoreError> {
    let model = client::Entity::find_by_id(client_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
    let mut page = with_grants(db, vec![model]).await?;
    Ok(page.remove(0))
}

/// The owners above `client_id`, nearest first, up to a root client (at most 64; a cycle
/// ends the walk). `NotFound` if the client does not exist.
pub async fn owner_chain(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Vec<client::Model>, StoreError> {
    let model = client::Entity::find_by_id(client_id)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
    let mut chain: Vec<client::Model> = Vec::new();
    let mut next = model.owner;
    while let Some(owner) = next.take() {
        if owner == client_id || chain.iter().any(|c| c.client_id == owner) || chain.len() >= 64 {
            break;
        }
        let Some(o) = client::Entity::find_by_id(&owner).one(db).await? else {
            break;
        };
        next = o.owner.clone();
        chain.push(o);
    }
    Ok(chain)
}

/// The project of a client, `None` if it does not exist.
pub async fn project_of(
    db: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(client::Entity::find_by_id(client_id)
        .one(db)
        .await?
        .map(|c| c.project))
}

/// A page of clients, oldest first, and the total count; `among` limits it to those ids,
/// `projects` to those projects.
pub async fn page(
    db: &impl ConnectionTrait,
    among: Option<&[String]>,
    projects: Option<&[String]>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Client>, u64), StoreError> {
    let scoped = || {
        let mut q = client::Entity::find();
        if let Some(ids) = among {
            q = q.filter(client::Column::ClientId.is_in(ids.iter().cloned()));
        }
        if let Some(ps) = projects {
            q = q.filter(client::Column::Project.is_in(ps.iter().cloned()));
        }
        q
    };
    let total = scoped().count(db).await?;
    let models = scoped()
        .order_by_asc(client::Column::CreatedAt)
        .order_by_asc(client::Column::ClientId)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((with_grants(db, models).await?, total))
}

async fn with_grants(
    db: &impl ConnectionTrait,
    models: Vec<client::Model>,
) -> Result<Vec<Client>, StoreError> {
    let ids: Vec<String> = models.iter().map(|m| m.client_id.clone()).collect();
    let mut scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if !ids.is_empty() {
        for s in client_scope::Entity::find()
            .filter(client_scope::Column::ClientId.is_in(ids.clone()))
            .all(db)
            .await?
        {
            scopes
                .entry(s.client_id)
                .or_default()
                .push(format!("{}:{}", s.api_name, s.permission));
        }
        for r in client_role::Entity::find()
            .filter(client_role::Column::ClientId.is_in(ids))
            .all(db)
            .await?
        {
            roles
                .entry(r.client_id)
                .or_default()
                .push(super::roles::name_of(&r.role_name).to_owned());
        }
    }
    Ok(assemble(models, scopes, roles))
}

/// Replaces a client's settable fields in one transaction. Returns the client and the ids of
/// the clients it owns that were disabled with it.
pub async fn replace(
    db: &DatabaseConnection,
    client_id: &str,
    fields: ClientFields,
    rules: FieldRules,
    actor: &crate::store::audit::Actor,
) -> Result<(Client, Vec<String>), StoreError> {
    let before = get(db, client_id).await?;
    let f = check_fields(db, &before.project, fields, rules).await?;
    let txn = super::begin_write(db).await?;
    let model = client::Entity::find_by_id(client_id)
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("client {client_id}")))?;
    if f.enabled {
        let chain = owner_chain(&txn, client_id).await?;
        if let Some(off) = chain.iter().find(|o| !o.enabled) {
            return Err(StoreError::Conflict {
                field: "enabled",
                message: format!(
                    "its owner {} is disabled: a client under a disabled owner cannot be enabled",
                    off.client_id
                ),
            });
        }
        // The administrator at the top of the chain must still manage clients in its project.
        let top = chain.last().unwrap_or(&model);
        if !before.enabled
            && let Some(person) = &top.owner_administrator
            && !super::administrators::manages(&txn, person, &top.project).await?
        {
            return Err(StoreError::Conflict {
                field: "enabled",
                message: format!(
                    "its owner, administrator {person}, is disabled or no longer manages project {:?}: transfer the client first",
                    top.project
                ),
            });
        }
    }
    let disabling = model.enabled && !f.enabled;
    let mut active: client::ActiveModel = model.into();
    active.name = Set(f.name);
    active.description = Set(f.description);
    active.enabled = Set(f.enabled);
    if disabling {
        // Every token issued so far stays inactive, even after a re-enable.
        active.tokens_valid_after = Set(Some(now()));
    }
    active.allowed_ips = Set(serde_json::to_string(&f.allowed_ips).unwrap_or_else(|_| "[]".into()));
    active.token_ttl_seconds = Set(f.token_ttl_seconds);
    if let Some(auth) = &f.auth {
        active.token_endpoint_auth_method = Set(auth.method.as_str().to_owned());
        active.auth_settings = Set(stored_settings(&auth.settings));
        active.dpop_bound_access_tokens = Set(auth.dpop_bound_access_tokens);
    }
    active.updated_at = Set(now());
    let model = active.update(&txn).await?;
    write_grants(&txn, client_id, &f.scopes, &f.roles).await?;
    // A client that authenticates without a secret holds none (SPEC §9): switching it away
    // from secrets deletes them, so switching back never revives an old one.
    let secrets_deleted = match &f.auth {
        Some(auth) if !auth.method.uses_secret() => {
            client_secret::Entity::delete_many()
                .filter(client_secret::Column::ClientId.eq(client_id))
                .exec(&txn)
                .await?
                .rows_affected
        }
        _ => 0,
    };
    let after = to_client(
        model,
        f.scopes.iter().map(ToString::to_string).collect(),
        f.roles
            .iter()
            .map(|k| super::roles::name_of(k).to_owned())
            .collect(),
    );
    crate::store::changes::record(&txn, client_id).await?;
    let mut cascaded = if before.enabled && !after.enabled {
        disable_owned(&txn, client_id, actor).await?
    } else {
        Vec::new()
    };
    // Owned clients' effective scopes and state follow this one's: they must be reloaded.
    if before.scopes != after.scopes
        || before.roles != after.roles
        || before.enabled != after.enabled
    {
        for id in owned_transitively(&txn, client_id).await? {
            crate::store::changes::record(&txn, &id).await?;
            cascaded.push(id);
        }
    }
    let changed = changed_fields(&before, &after);
    let kind = match (before.enabled, after.enabled) {
        (true, false) => "client.disabled",
        (false, true) => "client.enabled",
        _ => "client.updated",
    };
    let mut details = serde_json::json!({"changed": changed});
    if after.token_endpoint_auth_method != before.token_endpoint_auth_method {
        details["token_endpoint_auth_method"] = after.token_endpoint_auth_method.as_str().into();
    }
    if secrets_deleted > 0 {
        details["secrets_deleted"] = secrets_deleted.into();
    }
    crate::store::audit::record(&txn, kind, actor, Some(client_id), details).await?;
    txn.commit().await?;
    Ok((after, cascaded))
}

/// Every client `owner` owns, transitively.
pub(crate) async fn owned_transitively(
    txn: &impl ConnectionTrait,
    owner: &str,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let mut frontier = vec![owner.to_owned()];
    let mut seen = BTreeSet::from([owner.to_owned()]);
    while !frontier.is_empty() {
        for c in client::Entity::find()
            .filter(client::Column::Owner.is_in(std::mem::take(&mut frontier)))
            .all(txn)
            .await?
        {
            if seen.insert(c.client_id.clone()) {
                frontier.push(c.client_id.clone());
                out.push(c.client_id);
            }
        }
    }
    Ok(out)
}

/// Disables every client `owner` owns, transitively (SPEC §5), in the caller's transaction;
/// returns the ids disabled.
pub(crate) async fn disable_owned(
    txn: &impl ConnectionTrait,
    owner: &str,
    actor: &crate::store::audit::Actor,
) -> Result<Vec<String>, StoreError> {
    let mut disabled = Vec::new();
    use sea_orm::sea_query::Expr;
    let mut frontier = vec![owner.to_owned()];
    let mut seen = BTreeSet::from([owner.to_owned()]);
    while !frontier.is_empty() {
        let owned = client::Entity::find()
            .filter(client::Column::Owner.is_in(std::mem::take(&mut frontier)))
            .all(txn)
            .await?;
        for c in owned {
            if !seen.insert(c.client_id.clone()) {
                continue;
            }
            if c.enabled {
                let now = now();
                client::Entity::update_many()
                    .col_expr(client::Column::Enabled, Expr::value(false))
                    .col_expr(client::Column::UpdatedAt, Expr::value(now))
                    .col_expr(client::Column::TokensValidAfter, Expr::value(Some(now)))
                    .filter(client::Column::ClientId.eq(c.client_id.as_str()))
                    .exec(txn)
                    .await?;
                crate::store::changes::record(txn, &c.client_id).await?;
                crate::store::audit::record(
                    txn,
                    "client.disabled",
                    actor,
                    Some(&c.client_id),
                    serde_json::json!({"changed": ["enabled"], "because_owner": owner}),
                )
                .await?;
                disabled.push(c.client_id.clone());
            }
            frontier.push(c.client_id);
        }
    }
    Ok(disabled)
}

fn changed_fields(a: &Client, b: &Client) -> Vec<&'static str> {
    let mut out = Vec::new();
    if a.name != b.name {
        out.push("name");
    }
    if a.description != b.description {
        out.push("description");
    }
    if a.enabled != b.enabled {
        out.push("enabled");
    }
    if a.scopes != b.scopes {
        out.push("scopes");
    }
    if a.roles != b.roles {
        out.push("roles");
    }
    if a.allowed_ips != b.allowed_ips {
        out.push("allowed_ips");
    }
    if a.token_ttl_seconds != b.token_ttl_seconds {
        out.push("token_ttl_seconds");
    }
    if a.token_endpoint_auth_method != b.token_endpoint_auth_method {
        out.push("token_endpoint_auth_method");
    }
    if a.auth_settings != b.auth_settings {
        out.push("auth_settings");
    }
    if a.dpop_bound_access_tokens != b.dpop_bound_access_tokens {
        out.push("dpop_bound_access_tokens");
    }
    out
}

/// The method's settings as stored: `NULL` when there are none.
fn stored_settings(settings: &AuthSettings) -> Option<String> {
    (*settings != AuthSettings::default())
        .then(|| serde_json::to_string(settings).ok())
        .flatten()
}

/// The method's settings as stored; unreadable settings read as none (the client then fails
/// to authenticate rather than the page failing to load).
pub(crate) fn read_settings(m: &client::Model) -> AuthSettings {
    m.auth_settings
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// Deletes a client; its scopes, roles and secrets go with it, and the clients it owned are
/// disabled (their ids are returned).
pub async fn delete(
    db: &DatabaseConnection,
    client_id: &str,
    actor: &crate::store::audit::Actor,
) -> Result<Vec<String>, StoreError> {
    let txn = super::begin_write(db).await?;
    let gone = client::Entity::delete_by_id(client_id).exec(&txn).await?;
    if gone.rows_affected == 0 {
        return Err(StoreError::NotFound(format!("client {client_id}")));
    }
    crate::store::changes::record(&txn, client_id).await?;
    let cascaded = disable_owned(&txn, client_id, actor).await?;
    crate::store::audit::record(
        &txn,
        "client.deleted",
        actor,
        Some(client_id),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(cascaded)
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
        roles
            .entry(r.client_id)
            .or_default()
            .push(super::roles::name_of(&r.role_name).to_owned());
    }
    Ok(assemble(models, scopes, roles))
}

/// Joins client rows with their scopes and roles, keyed by client id.
fn assemble(
    models: Vec<client::Model>,
    mut scopes: BTreeMap<String, Vec<String>>,
    mut roles: BTreeMap<String, Vec<String>>,
) -> Vec<Client> {
    models
        .into_iter()
        .map(|m| {
            let s = scopes.remove(&m.client_id).unwrap_or_default();
            let r = roles.remove(&m.client_id).unwrap_or_default();
            to_client(m, s, r)
        })
        .collect()
}

fn to_client(m: client::Model, mut scopes: Vec<String>, mut roles: Vec<String>) -> Client {
    let auth_settings = read_settings(&m);
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
        owner_ref: m
            .owner_administrator
            .clone()
            .map(|id| OwnerRef {
                kind: OwnerKind::Administrator,
                id,
            })
            .or_else(|| {
                m.owner.clone().map(|id| OwnerRef {
                    kind: OwnerKind::Client,
                    id,
                })
            }),
        owner: m.owner,
        owner_administrator: m.owner_administrator,
        project: m.project,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_used_at: m.last_used_at,
        token_endpoint_auth_method: m.token_endpoint_auth_method.parse().unwrap_or_default(),
        auth_settings,
        dpop_bound_access_tokens: m.dpop_bound_access_tokens,
    }
}

/// The column a client list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientSort {
    /// Display name.
    #[default]
    Name,
    /// Client id.
    ClientId,
    /// Creation time.
    Created,
    /// Last successful token request (never redeemed sorts first ascending).
    LastUsed,
    /// Enabled or disabled.
    Status,
}

/// What a searched, filtered, sorted page of clients asks for.
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    /// Part of a name or client id, matched case-insensitively.
    pub text: Option<String>,
    /// Only enabled (`true`) or disabled (`false`) clients.
    pub enabled: Option<bool>,
    /// The sort column; the client id breaks ties.
    pub sort: ClientSort,
    /// Descending instead of ascending.
    pub descending: bool,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

/// A page of clients matching `query` and the count of all that match, filtering, sorting and
/// paging in SQL; `among` limits it to those ids, `projects` to those projects.
pub async fn search_page(
    db: &impl ConnectionTrait,
    among: Option<&[String]>,
    projects: Option<&[String]>,
    query: &ClientQuery,
) -> Result<(Vec<Client>, u64), StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, NullOrdering, Order};
    let scoped = || {
        let mut q = client::Entity::find();
        if let Some(ids) = among {
            q = q.filter(client::Column::ClientId.is_in(ids.iter().cloned()));
        }
        if let Some(ps) = projects {
            q = q.filter(client::Column::Project.is_in(ps.iter().cloned()));
        }
        if let Some(enabled) = query.enabled {
            q = q.filter(client::Column::Enabled.eq(enabled));
        }
        if let Some(text) = query
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let mut escaped = String::with_capacity(text.len() + 2);
            escaped.push('%');
            for c in text.to_lowercase().chars() {
                if matches!(c, '%' | '_' | '\\') {
                    escaped.push('\\');
                }
                escaped.push(c);
            }
            escaped.push('%');
            let like = |col: client::Column| {
                Expr::expr(Func::lower(Expr::col((client::Entity, col))))
                    .like(LikeExpr::new(escaped.clone()).escape('\\'))
            };
            q = q.filter(
                sea_orm::Condition::any()
                    .add(like(client::Column::Name))
                    .add(like(client::Column::ClientId)),
            );
        }
        q
    };
    let total = scoped().count(db).await?;
    let order = if query.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let q = scoped();
    let q = match query.sort {
        ClientSort::Name => q.order_by(client::Column::Name, order.clone()),
        ClientSort::ClientId => q,
        ClientSort::Created => q.order_by(client::Column::CreatedAt, order.clone()),
        ClientSort::LastUsed => q.order_by_with_nulls(
            client::Column::LastUsedAt,
            order.clone(),
            if query.descending {
                NullOrdering::Last
            } else {
                NullOrdering::First
            },
        ),
        ClientSort::Status => q.order_by(client::Column::Enabled, order.clone()),
    };
    let models = q
        .order_by(client::Column::ClientId, order)
        .offset(query.offset)
        .limit(query.limit)
        .all(db)
        .await?;
    Ok((with_grants(db, models).await?, total))
}
