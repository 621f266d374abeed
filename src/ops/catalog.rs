//! The API catalog and roles of each project: readable with `admin:read`; changed by root
//! clients (of the project, or of `default` for every project) and by project admins.

use super::{Context, Ops, OpsError, Permission};
use crate::store::{self, Api, NewApi, roles::Role};

/// The APIs the actor's projects see (their own, shared ones and `admin`), by name;
/// `project` narrows to what one project sees.
pub async fn apis(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
) -> Result<Vec<Api>, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    let projects = match project {
        Some(p) => {
            ctx.require_in(Permission::ReadCatalog, p)?;
            Some(vec![p.to_owned()])
        }
        None => ctx.projects(),
    };
    Ok(store::apis::list_in(ops.db, projects.as_deref()).await?)
}

/// One API: of the actor's projects, shared, or `admin`; others are `NotFound`.
pub async fn api(ops: &Ops<'_>, ctx: &Context, name: &str) -> Result<Api, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    let api = store::apis::get(ops.db, name).await?;
    if ctx.sees_project(&api.project) || api.shared || api.name == store::apis::ADMIN_API {
        Ok(api)
    } else {
        Err(OpsError::NotFound(format!("API {name}")))
    }
}

/// An API the actor may change: one of its projects' (a shared API of another project is
/// visible but not changeable: `NotFound` like any other object outside the project).
async fn own_api(ops: &Ops<'_>, ctx: &Context, name: &str) -> Result<Api, OpsError> {
    ctx.require(Permission::ManageCatalog)?;
    let api = store::apis::get(ops.db, name).await?;
    if !ctx.sees_project(&api.project) {
        return Err(OpsError::NotFound(format!("API {name}")));
    }
    ctx.require_in(Permission::ManageCatalog, &api.project)?;
    Ok(api)
}

/// Registers an API in `new.project`.
pub async fn create_api(ops: &Ops<'_>, ctx: &Context, new: NewApi) -> Result<Api, OpsError> {
    ctx.require_in(Permission::ManageCatalog, &new.project)?;
    store::projects::get(ops.db, &new.project).await?;
    Ok(store::apis::create(ops.db, new, &ctx.actor).await?)
}

/// Changes an API's audience, permissions and sharing.
pub async fn replace_api(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    audience: String,
    permissions: Vec<String>,
    shared: Option<bool>,
) -> Result<Api, OpsError> {
    let existing = own_api(ops, ctx, name).await?;
    let shared = shared.unwrap_or(existing.shared);
    let api = store::apis::replace(ops.db, name, audience, permissions, shared, &ctx.actor).await?;
    // Audiences (and which projects may use the API) are cached with every client's grants.
    ops.invalidate_all();
    Ok(api)
}

/// Deletes an API (with `force`, also its grants).
pub async fn delete_api(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    force: bool,
) -> Result<(), OpsError> {
    own_api(ops, ctx, name).await?;
    let affected = store::apis::delete(ops.db, name, force, &ctx.actor).await?;
    ops.invalidate(&affected).await;
    Ok(())
}

/// A role's scopes must be grantable by the actor: a person may put into a role only what
/// their ceiling allows (a role reaches every client holding it, whoever owns them).
fn check_role_scopes(ctx: &Context, project: &str, scopes: &[String]) -> Result<(), OpsError> {
    let granter = ctx.granter(project);
    let allowed = |s: &str| match &granter {
        super::Granter::Anything => true,
        super::Granter::Holds(held) => held.iter().any(|h| h == s),
        super::Granter::Person(ceiling) => ceiling.allows(s),
    };
    let mut beyond: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !allowed(s))
        .collect();
    beyond.sort_unstable();
    beyond.dedup();
    if beyond.is_empty() {
        Ok(())
    } else {
        Err(OpsError::Forbidden(format!(
            "you may not grant in project {project:?}: {}",
            beyond.join(" ")
        )))
    }
}

/// The project a role request addresses: the one named, else the caller's own.
fn role_project(ctx: &Context, project: Option<&str>) -> String {
    project.map_or_else(|| ctx.home_project(), str::to_owned)
}

/// The roles of the actor's projects (or of `project`), by project and name.
pub async fn roles(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
) -> Result<Vec<Role>, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    let projects = match project {
        Some(p) => {
            ctx.require_in(Permission::ReadCatalog, p)?;
            Some(vec![p.to_owned()])
        }
        None => ctx.projects(),
    };
    Ok(store::roles::list(ops.db, projects.as_deref()).await?)
}

/// One role of `project` (default: the caller's).
pub async fn role(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
    name: &str,
) -> Result<Role, OpsError> {
    let project = role_project(ctx, project);
    ctx.require_in(Permission::ReadCatalog, &project)?;
    if name.contains('/') {
        return Err(OpsError::NotFound(format!("role {name}")));
    }
    Ok(store::roles::get(ops.db, &store::roles::key(&project, name)).await?)
}

/// Makes a role in `project` (default: the caller's).
pub async fn create_role(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
    name: &str,
    description: &str,
    scopes: &[String],
) -> Result<Role, OpsError> {
    let project = role_project(ctx, project);
    ctx.require_in(Permission::ManageCatalog, &project)?;
    check_role_scopes(ctx, &project, scopes)?;
    Ok(store::roles::create(ops.db, &project, name, description, scopes, &ctx.actor).await?)
}

/// Replaces a role's description and scopes; its holders' next tokens follow.
pub async fn replace_role(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
    name: &str,
    description: &str,
    scopes: &[String],
) -> Result<Role, OpsError> {
    let project = role_project(ctx, project);
    ctx.require_in(Permission::ManageCatalog, &project)?;
    if name.contains('/') {
        return Err(OpsError::NotFound(format!("role {name}")));
    }
    let key = store::roles::key(&project, name);
    check_role_scopes(ctx, &project, scopes)?;
    // Changing a role whose current scopes exceed the actor's ceiling would let them strip
    // or repurpose rights they could not grant either.
    let current = store::roles::get(ops.db, &key).await?;
    check_role_scopes(ctx, &project, &current.scopes)?;
    let (role, holders) =
        store::roles::replace(ops.db, &key, description, scopes, &ctx.actor).await?;
    ops.invalidate(&holders).await;
    Ok(role)
}

/// Deletes a role (with `force`, also from its holders).
pub async fn delete_role(
    ops: &Ops<'_>,
    ctx: &Context,
    project: Option<&str>,
    name: &str,
    force: bool,
) -> Result<(), OpsError> {
    let project = role_project(ctx, project);
    ctx.require_in(Permission::ManageCatalog, &project)?;
    if name.contains('/') {
        return Err(OpsError::NotFound(format!("role {name}")));
    }
    let key = store::roles::key(&project, name);
    let holders = store::roles::delete(ops.db, &key, force, &ctx.actor).await?;
    ops.invalidate(&holders).await;
    Ok(())
}
