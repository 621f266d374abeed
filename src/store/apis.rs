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
#[derive(Debug, Clone, Serialize)]
pub struct Api {
    /// Short name, the `{api}` of `{api}:{permission}`.
    pub name: String,
    /// Audience URI: the `aud` of tokens for this API and the `resource` that selects it.
    pub audience: String,
    /// Subset of `read`, `write`.
    pub permissions: Vec<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl Api {
    /// Whether `permission` is offered.
    pub fn offers(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
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
}

fn valid_name(name: &str) -> bool {
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

/// Registers an API.
pub async fn create(db: &impl ConnectionTrait, new: NewApi) -> Result<Api, StoreError> {
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
    }
    .insert(db)
    .await?;
    Ok(model.into())
}

/// Every API, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Api>, StoreError> {
    Ok(api::Entity::find()
        .order_by_asc(api::Column::Name)
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
            api::ActiveModel {
                name: Set(ADMIN_API.to_owned()),
                audience: Set(audience),
                permissions: Set("read,write".to_owned()),
                builtin: Set(true),
                created_at: Set(now()),
            }
            .insert(db)
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
