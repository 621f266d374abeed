//! Projects: a team's APIs, roles and clients (SPEC §7).

use chrono::{DateTime, Utc};
use entity::{api, client, project, role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use super::StoreError;
use super::apis::now;
use super::audit::{self, Actor};

/// The built-in project holding everything created without one.
pub const DEFAULT: &str = "default";

/// A project as users see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Project {
    /// `[a-z0-9][a-z0-9-]{0,62}`, unique, immutable.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<project::Model> for Project {
    fn from(m: project::Model) -> Self {
        Project {
            name: m.name,
            display_name: m.display_name,
            description: m.description,
            created_at: m.created_at,
        }
    }
}

/// Whether `name` is a valid project name: `[a-z0-9][a-z0-9-]{0,62}`.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn check_text(display_name: &str, description: &str) -> Result<(), StoreError> {
    let mut errors = Vec::new();
    if display_name.chars().count() > 200 {
        errors.push(("display_name", "must be at most 200 characters".to_owned()));
    }
    if description.chars().count() > 2000 {
        errors.push(("description", "must be at most 2000 characters".to_owned()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Validation(errors))
    }
}

/// The projects among `names` (`None`: all), by name.
pub async fn list(
    db: &impl ConnectionTrait,
    names: Option<&[String]>,
) -> Result<Vec<Project>, StoreError> {
    let mut q = project::Entity::find();
    if let Some(n) = names {
        q = q.filter(project::Column::Name.is_in(n.iter().cloned()));
    }
    Ok(q.order_by_asc(project::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(Project::from)
        .collect())
}

/// One project.
pub async fn get(db: &impl ConnectionTrait, name: &str) -> Result<Project, StoreError> {
    project::Entity::find_by_id(name)
        .one(db)
        .await?
        .map(Project::from)
        .ok_or_else(|| StoreError::NotFound(format!("project {name}")))
}

/// Makes a project.
pub async fn create(
    db: &DatabaseConnection,
    name: &str,
    display_name: &str,
    description: &str,
    actor: &Actor,
) -> Result<Project, StoreError> {
    if !valid_name(name) {
        return Err(StoreError::invalid(
            "name",
            "must match [a-z0-9][a-z0-9-]{0,62}",
        ));
    }
    check_text(display_name, description)?;
    let txn = super::begin_write(db).await?;
    if project::Entity::find_by_id(name).one(&txn).await?.is_some() {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("a project named {name:?} exists"),
        });
    }
    let display_name = if display_name.trim().is_empty() {
        name
    } else {
        display_name.trim()
    };
    let model = project::ActiveModel {
        name: Set(name.to_owned()),
        display_name: Set(display_name.to_owned()),
        description: Set(description.to_owned()),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        "project.created",
        actor,
        Some(name),
        serde_json::json!({"display_name": display_name}),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

/// Changes a project's display name and description (its name never changes).
pub async fn update(
    db: &DatabaseConnection,
    name: &str,
    display_name: Option<String>,
    description: Option<String>,
    actor: &Actor,
) -> Result<Project, StoreError> {
    let existing = project::Entity::find_by_id(name)
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("project {name}")))?;
    let display_name = display_name.unwrap_or_else(|| existing.display_name.clone());
    let description = description.unwrap_or_else(|| existing.description.clone());
    check_text(&display_name, &description)?;
    let txn = super::begin_write(db).await?;
    let mut active: project::ActiveModel = existing.into();
    active.display_name = Set(display_name.trim().to_owned());
    active.description = Set(description);
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        "project.updated",
        actor,
        Some(name),
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(model.into())
}

/// How many clients a project holds.
pub async fn client_count(db: &impl ConnectionTrait, name: &str) -> Result<u64, StoreError> {
    Ok(client::Entity::find()
        .filter(client::Column::Project.eq(name))
        .count(db)
        .await?)
}

/// Deletes a project with its APIs and roles. One still holding clients only with `force`,
/// which disables them (and the clients they own) and then deletes them. `default` never.
/// Returns the ids of the clients deleted or disabled.
pub async fn delete(
    db: &DatabaseConnection,
    name: &str,
    force: bool,
    actor: &Actor,
) -> Result<Vec<String>, StoreError> {
    if name == DEFAULT {
        return Err(StoreError::Conflict {
            field: "name",
            message: "the default project cannot be deleted".into(),
        });
    }
    get(db, name).await?;
    let clients = client_count(db, name).await?;
    if clients > 0 && !force {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!(
                "project {name:?} holds {clients} client(s); delete with force to disable and delete them"
            ),
        });
    }
    let txn = super::begin_write(db).await?;
    let ids: Vec<String> = client::Entity::find()
        .filter(client::Column::Project.eq(name))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    let mut affected = ids.clone();
    for id in &ids {
        // Disabled first, so their tokens turn inactive and their owned clients elsewhere
        // follow, then deleted.
        affected.extend(super::clients::disable_owned(&txn, id, actor).await?);
        client::Entity::delete_by_id(id.as_str()).exec(&txn).await?;
        super::changes::record(&txn, id).await?;
        audit::record(
            &txn,
            "client.deleted",
            actor,
            Some(id),
            serde_json::json!({"because_project": name}),
        )
        .await?;
    }
    role::Entity::delete_many()
        .filter(role::Column::Project.eq(name))
        .exec(&txn)
        .await?;
    api::Entity::delete_many()
        .filter(api::Column::Project.eq(name))
        .filter(api::Column::Builtin.eq(false))
        .exec(&txn)
        .await?;
    // Memberships go with the project (ON DELETE CASCADE).
    project::Entity::delete_by_id(name).exec(&txn).await?;
    super::changes::record(&txn, super::changes::ALL_CLIENTS).await?;
    audit::record(
        &txn,
        "project.deleted",
        actor,
        Some(name),
        serde_json::json!({"clients_deleted": ids.len()}),
    )
    .await?;
    txn.commit().await?;
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn project_names() {
        assert!(valid_name("default"));
        assert!(valid_name("orders-team"));
        assert!(!valid_name("Orders"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a.b"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"a".repeat(64)));
    }
}
