//! The API catalog: resource servers and the permissions they offer.

use chrono::{DateTime, Utc};
use entity::api;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use super::StoreError;

/// Name of the built-in API that guards the admin API.
pub const ADMIN_API: &str = "admin";

/// The two permissions an API may offer.
pub const PERMISSIONS: [&str; 2] = ["read", "write"];

/// An API as users see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Api {
    /// Short name, the `{api}` of `{api}:{permission}`.
    pub name: String,
    /// Audience URI: the `aud` of tokens for this API and the `resource` that selects it.
    pub audience: String,
    /// Subset of `read`, `write`.
    pub permissions: Vec<String>,
    /// The project it belongs to.
    pub project: String,
    /// Offered to every project (its scopes may be granted to their clients).
    pub shared: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl Api {
    /// Whether `permission` is offered.
    pub fn offers(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// Whether clients of `project` may be granted its scopes: its own project's, shared
    /// ones, and the built-in admin API (who may grant that is the operations' rule).
    pub fn grantable_in(&self, project: &str) -> bool {
        self.project == project || self.shared || self.name == ADMIN_API
    }
}

impl From<api::Model> for Api {
    fn from(m: api::Model) -> Self {
        Api {
            name: m.name,
            audience: m.audience,
            permissions: m
                .permissions
                .split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            project: m.project,
            shared: m.shared,
            created_at: m.created_at,
        }
    }
}

/// What it takes to register an API.
#[derive(Debug, Clone)]
pub struct NewApi {
    /// `[a-z0-9][a-z0-9._-]{0,62}`.
    pub name: String,
    /// An absolute URI, unique.
    pub audience: String,
    /// Non-empty subset of `read`, `write`.
    pub permissions: Vec<String>,
    /// Its project.
    pub project: String,
    /// Offered to every project.
    pub shared: bool,
}

/// Whether `name` is a valid API or role name: `[a-z0-9][a-z0-9._-]{0,62}`.
pub(crate) fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
}

impl NewApi {
    fn validate(mut self) -> Result<Self, StoreError> {
        if !valid_name(&self.name) {
            return Err(StoreError::invalid(
                "name",
                "must match [a-z0-9][a-z0-9._-]{0,62}",
            ));
        }
        match url::Url::parse(&self.audience) {
            Ok(u) if !u.cannot_be_a_base() || u.scheme() == "urn" => {}
            _ => {
                return Err(StoreError::invalid(
                    "audience",
                    "must be an absolute URI such as https://api.example.com/orders",
                ));
            }
        }
        if self.permissions.is_empty() {
            return Err(StoreError::invalid("permissions", "must not be empty"));
        }
        for p in &self.permissions {
            if !PERMISSIONS.contains(&p.as_str()) {
                return Err(StoreError::invalid(
                    "permissions",
                    format!("unknown permission {p:?}: expected read or write"),
                ));
            }
        }
        self.permissions.sort();
        self.permissions.dedup();
        Ok(self)
    }
}

/// Registers an API and audits it in the same transaction.
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    new: NewApi,
    actor: &crate::store::audit::Actor,
) -> Result<Api, StoreError> {
    let txn = super::begin_write(db).await?;
    let api = insert(&txn, new).await?;
    crate::store::audit::record(
        &txn,
        "api.created",
        actor,
        Some(&api.name),
        serde_json::json!({"audience": api.audience, "permissions": api.permissions}),
    )
    .await?;
    txn.commit().await?;
    Ok(api)
}

async fn insert(db: &impl ConnectionTrait, new: NewApi) -> Result<Api, StoreError> {
    let new = new.validate()?;
    if api::Entity::find_by_id(&new.name).one(db).await?.is_some() {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("an API named {:?} exists", new.name),
        });
    }
    if find_by_audience(db, &new.audience).await?.is_some() {
        return Err(StoreError::Conflict {
            field: "audience",
            message: format!("another API has audience {:?}", new.audience),
        });
    }
    let model = api::ActiveModel {
        name: Set(new.name),
        audience: Set(new.audience),
        permissions: Set(new.permissions.join(",")),
        builtin: Set(false),
        created_at: Set(now()),
        project: Set(new.project),
        shared: Set(new.shared),
    }
    .insert(db)
    .await?;
    Ok(model.into())
}

/// Every API, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Api>, StoreError> {
    list_in(db, None).await
}

/// The APIs the given projects see (`None`: all): their own, the shared ones and the
/// built-in admin API, by name.
pub async fn list_in(
    db: &impl ConnectionTrait,
    projects: Option<&[String]>,
) -> Result<Vec<Api>, StoreError> {
    let mut q = api::Entity::find();
    if let Some(p) = projects {
        q = q.filter(
            sea_orm::Condition::any()
                .add(api::Column::Project.is_in(p.iter().cloned()))
                .add(api::Column::Shared.eq(true))
                .add(api::Column::Builtin.eq(true)),
        );
    }
    Ok(q.order_by_asc(api::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(Api::from)
        .collect())
}

/// One API by its audience.
pub async fn find_by_audience(
    db: &impl ConnectionTrait,
    audience: &str,
) -> Result<Option<Api>, StoreError> {
    Ok(api::Entity::find()
        .filter(api::Column::Audience.eq(audience))
        .one(db)
        .await?
        .map(Api::from))
}

/// Makes sure the built-in `admin` API exists with audience `{issuer}/admin`. Only the server
/// knows its final issuer (port 0 binds late), so only it passes `overwrite`.
pub async fn ensure_admin(
    db: &impl ConnectionTrait,
    issuer: &str,
    overwrite: bool,
) -> Result<(), StoreError> {
    let audience = format!("{issuer}/admin");
    match api::Entity::find_by_id(ADMIN_API).one(db).await? {
        Some(existing) => {
            if overwrite && existing.audience != audience {
                let mut active: api::ActiveModel = existing.into();
                active.audience = Set(audience);
                active.update(db).await?;
            }
        }
        None => {
            // Replicas starting together on a new database race here; one insert wins.
            let row = api::ActiveModel {
                name: Set(ADMIN_API.to_owned()),
                audience: Set(audience),
                permissions: Set("read,write".to_owned()),
                builtin: Set(true),
                created_at: Set(now()),
                project: Set(crate::store::projects::DEFAULT.to_owned()),
                shared: Set(false),
            };
            api::Entity::insert(row)
                .on_conflict(
                    sea_orm::sea_query::OnConflict::column(api::Column::Name)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
}

/// The current time at the database's precision (whole microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// One API by name.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Api, StoreError> {
    api::Entity::find_by_id(name)
        .one(db)
        .await?
        .map(Api::from)
        .ok_or_else(|| StoreError::NotFound(format!("API {name}")))
}

async fn clients_using(
    db: &impl ConnectionTrait,
    name: &str,
    permission: Option<&str>,
) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    let mut q =
        entity::client_scope::Entity::find().filter(entity::client_scope::Column::ApiName.eq(name));
    if let Some(p) = permission {
        q = q.filter(entity::client_scope::Column::Permission.eq(p));
    }
    let direct = q.count(db).await?;
    let mut q =
        entity::role_scope::Entity::find().filter(entity::role_scope::Column::ApiName.eq(name));
    if let Some(p) = permission {
        q = q.filter(entity::role_scope::Column::Permission.eq(p));
    }
    Ok(direct + q.count(db).await?)
}

/// Grants of API `name` to clients and roles outside `project`.
async fn grants_outside(
    db: &impl ConnectionTrait,
    name: &str,
    project: &str,
) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    let outside_clients: Vec<String> = entity::client::Entity::find()
        .filter(entity::client::Column::Project.ne(project))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    let direct = entity::client_scope::Entity::find()
        .filter(entity::client_scope::Column::ApiName.eq(name))
        .filter(entity::client_scope::Column::ClientId.is_in(outside_clients))
        .count(db)
        .await?;
    let outside_roles: Vec<String> = entity::role::Entity::find()
        .filter(entity::role::Column::Project.ne(project))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let via_roles = entity::role_scope::Entity::find()
        .filter(entity::role_scope::Column::ApiName.eq(name))
        .filter(entity::role_scope::Column::RoleName.is_in(outside_roles))
        .count(db)
        .await?;
    Ok(direct + via_roles)
}

/// Replaces an API's audience and permissions. A permission still granted cannot be dropped.
pub async fn replace(
    db: &sea_orm::DatabaseConnection,
    name: &str,
    audience: String,
    permissions: Vec<String>,
    shared: bool,
    actor: &crate::store::audit::Actor,
) -> Result<Api, StoreError> {
    let existing = api::Entity::find_by_id(name)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("API {name}")))?;
    if existing.builtin {
        return Err(StoreError::Conflict {
            field: "name",
            message: "the built-in admin API cannot be changed".into(),
        });
    }
    let new = NewApi {
        name: name.to_owned(),
        audience,
        permissions,
        project: existing.project.clone(),
        shared,
    }
    .validate()?;
    if existing.shared && !shared {
        let outside = grants_outside(db, name, &existing.project).await?;
        if outside > 0 {
            return Err(StoreError::Conflict {
                field: "shared",
                message: format!(
                    "{name:?} is granted {outside} time(s) outside project {:?}; remove those grants first",
                    existing.project
                ),
            });
        }
    }
    for dropped in PERMISSIONS
        .iter()
        .filter(|p| existing.permissions.split(',').any(|e| e == **p))
        .filter(|p| !new.permissions.iter().any(|n| n == *p))
    {
        let users = clients_using(db, name, Some(dropped)).await?;
        if users > 0 {
            return Err(StoreError::invalid(
                "permissions",
                format!("{name}:{dropped} is granted {users} time(s); remove those grants first"),
            ));
        }
    }
    if let Some(other) = find_by_audience(db, &new.audience).await?
        && other.name != name
    {
        return Err(StoreError::Conflict {
            field: "audience",
            message: format!("API {:?} has audience {:?}", other.name, new.audience),
        });
    }
    let txn = super::begin_write(db).await?;
    let mut active: api::ActiveModel = existing.into();
    active.audience = Set(new.audience.clone());
    active.permissions = Set(new.permissions.join(","));
    active.shared = Set(new.shared);
    let model = active.update(&txn).await?;
    crate::store::changes::record(&txn, crate::store::changes::ALL_CLIENTS).await?;
    crate::store::audit::record(
        &txn,
        "api.updated",
        actor,
        Some(name),
        serde_json::json!({"audience": new.audience, "permissions": new.permissions, "shared": new.shared}),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

/// Deletes an API. The built-in one never; one still granted only with `force`, which removes
/// those grants. Returns the ids of clients whose grants were removed.
pub async fn delete(
    db: &sea_orm::DatabaseConnection,
    name: &str,
    force: bool,
    actor: &crate::store::audit::Actor,
) -> Result<Vec<String>, StoreError> {
    let existing = api::Entity::find_by_id(name)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("API {name}")))?;
    if existing.builtin {
        return Err(StoreError::Conflict {
            field: "name",
            message: "the built-in admin API cannot be deleted".into(),
        });
    }
    let users = clients_using(db, name, None).await?;
    if users > 0 && !force {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!(
                "API {name:?} is granted {users} time(s); delete with ?force=true to remove those grants"
            ),
        });
    }
    let txn = super::begin_write(db).await?;
    let affected: Vec<String> = entity::client_scope::Entity::find()
        .filter(entity::client_scope::Column::ApiName.eq(name))
        .all(&txn)
        .await?
        .into_iter()
        .map(|s| s.client_id)
        .collect();
    // Grants go with the API (ON DELETE CASCADE).
    api::Entity::delete_by_id(name).exec(&txn).await?;
    crate::store::changes::record(&txn, crate::store::changes::ALL_CLIENTS).await?;
    crate::store::audit::record(
        &txn,
        "api.deleted",
        actor,
        Some(name),
        serde_json::json!({"grants_removed": users}),
    )
    .await?;
    txn.commit().await?;
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn api_names() {
        assert!(valid_name("orders"));
        assert!(valid_name("a.b-c_1"));
        assert!(!valid_name(""));
        assert!(!valid_name("Orders"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(&"a".repeat(64)));
    }
}
