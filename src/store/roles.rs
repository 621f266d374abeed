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

/// A role as users see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Role {
    /// `[a-z0-9][a-z0-9._-]{0,62}`.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Its scopes, sorted.
    pub scopes: Vec<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
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

/// Every role, by name.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<Role>, StoreError> {
    let mut out = Vec::new();
    for r in role::Entity::find()
        .order_by_asc(role::Column::Name)
        .all(db)
        .await?
    {
        let scopes = scopes_of(db, &r.name).await?;
        out.push(Role {
            name: r.name,
            description: r.description,
            scopes,
            created_at: r.created_at,
        });
    }
    Ok(out)
}

/// One role.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Role, StoreError> {
    let r = role::Entity::find_by_id(name)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("role {name}")))?;
    Ok(Role {
        scopes: scopes_of(db, &r.name).await?,
        name: r.name,
        description: r.description,
        created_at: r.created_at,
    })
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

/// Makes a role.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    description: &str,
    scopes: &[String],
    actor: &Actor,
) -> Result<Role, StoreError> {
    check(name, description)?;
    let resolved = resolve_scopes(db, scopes).await?;
    if role::Entity::find_by_id(name).one(db).await?.is_some() {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("a role named {name:?} exists"),
        });
    }
    let txn = super::begin_write(db).await?;
    role::ActiveModel {
        name: Set(name.to_owned()),
        description: Set(description.to_owned()),
        created_at: Set(now()),
        project: Set(crate::store::projects::DEFAULT.to_owned()),
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
    check(name, description)?;
    let resolved = resolve_scopes(db, scopes).await?;
    let existing = role::Entity::find_by_id(name)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("role {name}")))?;
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
        return Err(StoreError::NotFound(format!("role {name}")));
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
