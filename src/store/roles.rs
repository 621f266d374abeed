//! Roles: named sets of scopes that clients hold in addition to their direct scopes.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{client_role, role, role_scope};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::Serialize;

use super::StoreError;
use super::apis::{now, valid_name};
use super::audit::{self, Actor};
use super::clients::{ScopeName, resolve_scopes};
use super::projects::DEFAULT;

/// A role as users see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Role {
    /// `[a-z0-9][a-z0-9._-]{0,62}`, unique within its project.
    pub name: String,
    /// The project it belongs to.
    pub project: String,
    /// Free text.
    pub description: String,
    /// Its scopes, sorted.
    pub scopes: Vec<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// The stored key of role `name` of `project`: its name in `default` (as before projects
/// existed), `{project}/{name}` elsewhere. Role names cannot hold `/`, so keys never collide,
/// and every table referring to a role keeps its one-column key.
pub fn key(project: &str, name: &str) -> String {
    if project == DEFAULT {
        name.to_owned()
    } else {
        format!("{project}/{name}")
    }
}

/// The role name of a stored key (without its project).
pub fn name_of(key: &str) -> &str {
    key.split_once('/').map_or(key, |(_, name)| name)
}

fn to_role(r: role::Model, scopes: Vec<String>) -> Role {
    Role {
        name: name_of(&r.name).to_owned(),
        project: r.project,
        description: r.description,
        scopes,
        created_at: r.created_at,
    }
}

async fn scopes_of(db: &impl ConnectionTrait, name: &str) -> Result<Vec<String>, StoreError> {
    let mut scopes: Vec<String> = role_scope::Entity::find()
        .filter(role_scope::Column::RoleName.eq(name))
        .all(db)
        .await?
        .into_iter()
        .map(|s| format!("{}:{}", s.api_name, s.permission))
        .collect();
    scopes.sort();
    Ok(scopes)
}

/// Every role of the given projects (`None`: all), by project and name.
pub async fn list(
    db: &impl ConnectionTrait,
    projects: Option<&[String]>,
) -> Result<Vec<Role>, StoreError> {
    let mut q = role::Entity::find();
    if let Some(p) = projects {
        q = q.filter(role::Column::Project.is_in(p.iter().cloned()));
    }
    let mut out = Vec::new();
    for r in q
        .order_by_asc(role::Column::Project)
        .order_by_asc(role::Column::Name)
        .all(db)
        .await?
    {
        let scopes = scopes_of(db, &r.name).await?;
        out.push(to_role(r, scopes));
    }
    Ok(out)
}

/// One role by its key ([`key`]).
pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Role, StoreError> {
    let r = role::Entity::find_by_id(key)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("role {}", name_of(key))))?;
    let scopes = scopes_of(db, &r.name).await?;
    Ok(to_role(r, scopes))
}

/// The scopes the given roles grant (unknown roles grant nothing).
pub async fn scopes_of_roles(
    db: &impl ConnectionTrait,
    roles: &[String],
) -> Result<BTreeSet<String>, StoreError> {
    if roles.is_empty() {
        return Ok(BTreeSet::new());
    }
    Ok(role_scope::Entity::find()
        .filter(role_scope::Column::RoleName.is_in(roles.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| format!("{}:{}", s.api_name, s.permission))
        .collect())
}

fn check(name: &str, description: &str) -> Result<(), StoreError> {
    if !valid_name(name) {
        return Err(StoreError::invalid(
            "name",
            "must match [a-z0-9][a-z0-9._-]{0,62}",
        ));
    }
    if description.chars().count() > 2000 {
        return Err(StoreError::invalid(
            "description",
            "must be at most 2000 characters",
        ));
    }
    Ok(())
}

async fn write_scopes(
    txn: &impl ConnectionTrait,
    name: &str,
    scopes: &BTreeSet<ScopeName>,
) -> Result<(), StoreError> {
    role_scope::Entity::delete_many()
        .filter(role_scope::Column::RoleName.eq(name))
        .exec(txn)
        .await?;
    for s in scopes {
        role_scope::ActiveModel {
            role_name: Set(name.to_owned()),
            api_name: Set(s.api.clone()),
            permission: Set(s.permission.clone()),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Clients holding `name`, and the clients they own (whose scopes theirs cap): their cached
/// grants change with the role.
async fn holders(db: &impl ConnectionTrait, name: &str) -> Result<Vec<String>, StoreError> {
    let direct: Vec<String> = client_role::Entity::find()
        .filter(client_role::Column::RoleName.eq(name))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.client_id)
        .collect();
    let mut all = BTreeSet::new();
    for id in direct {
        all.extend(super::clients::owned_transitively(db, &id).await?);
        all.insert(id);
    }
    Ok(all.into_iter().collect())
}

async fn log_holders(txn: &impl ConnectionTrait, holders: &[String]) -> Result<(), StoreError> {
    for client_id in holders {
        super::changes::record(txn, client_id).await?;
    }
    Ok(())
}

/// Makes role `name` in `project`.
pub async fn create(
    db: &DatabaseConnection,
    project: &str,
    name: &str,
    description: &str,
    scopes: &[String],
    actor: &Actor,
) -> Result<Role, StoreError> {
    check(name, description)?;
    super::projects::get(db, project).await?;
    let resolved = resolve_scopes(db, Some(project), scopes).await?;
    let shown = name;
    let name = &key(project, name);
    if role::Entity::find_by_id(name).one(db).await?.is_some() {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("project {project:?} has a role named {shown:?}"),
        });
    }
    let txn = super::begin_write(db).await?;
    role::ActiveModel {
        name: Set(name.to_owned()),
        description: Set(description.to_owned()),
        created_at: Set(now()),
        project: Set(project.to_owned()),
    }
    .insert(&txn)
    .await?;
    write_scopes(&txn, name, &resolved).await?;
    let scopes: Vec<String> = resolved.iter().map(ToString::to_string).collect();
    audit::record(
        &txn,
        "role.created",
        actor,
        Some(name),
        serde_json::json!({"scopes": scopes}),
    )
    .await?;
    txn.commit().await?;
    get(db, name).await
}

/// Replaces a role's description and scopes; returns it and the clients that hold it.
pub async fn replace(
    db: &DatabaseConnection,
    name: &str,
    description: &str,
    scopes: &[String],
    actor: &Actor,
) -> Result<(Role, Vec<String>), StoreError> {
    check(name_of(name), description)?;
    let existing = role::Entity::find_by_id(name)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("role {}", name_of(name))))?;
    let resolved = resolve_scopes(db, Some(&existing.project), scopes).await?;
    let txn = super::begin_write(db).await?;
    let mut active: role::ActiveModel = existing.into();
    active.description = Set(description.to_owned());
    active.update(&txn).await?;
    write_scopes(&txn, name, &resolved).await?;
    let affected = holders(&txn, name).await?;
    log_holders(&txn, &affected).await?;
    let scopes: Vec<String> = resolved.iter().map(ToString::to_string).collect();
    audit::record(
        &txn,
        "role.updated",
        actor,
        Some(name),
        serde_json::json!({"scopes": scopes}),
    )
    .await?;
    txn.commit().await?;
    Ok((get(db, name).await?, affected))
}

/// Deletes a role; one still held only with `force`, which takes it from its clients.
/// Returns the clients that held it.
pub async fn delete(
    db: &DatabaseConnection,
    name: &str,
    force: bool,
    actor: &Actor,
) -> Result<Vec<String>, StoreError> {
    if role::Entity::find_by_id(name).one(db).await?.is_none() {
        return Err(StoreError::NotFound(format!("role {}", name_of(name))));
    }
    let txn = super::begin_write(db).await?;
    let affected = holders(&txn, name).await?;
    let held = client_role::Entity::find()
        .filter(client_role::Column::RoleName.eq(name))
        .all(&txn)
        .await?
        .len();
    if held > 0 && !force {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!(
                "role {name:?} is held by {held} client(s); delete with force to take it from them"
            ),
        });
    }
    // Assignments and scopes go with the role (ON DELETE CASCADE).
    role::Entity::delete_by_id(name).exec(&txn).await?;
    log_holders(&txn, &affected).await?;
    audit::record(
        &txn,
        "role.deleted",
        actor,
        Some(name),
        serde_json::json!({"taken_from": held}),
    )
    .await?;
    txn.commit().await?;
    Ok(affected)
}
