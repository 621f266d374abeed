//! The API catalog and roles: readable with `admin:read`, changed by root clients only.

use super::{Context, Ops, OpsError, Permission};
use crate::store::{self, Api, NewApi, roles::Role};

/// Every API, by name.
pub async fn apis(ops: &Ops<'_>, ctx: &Context) -> Result<Vec<Api>, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    Ok(store::apis::list(ops.db).await?)
}

/// One API.
pub async fn api(ops: &Ops<'_>, ctx: &Context, name: &str) -> Result<Api, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    Ok(store::apis::get(ops.db, name).await?)
}

/// Registers an API.
pub async fn create_api(ops: &Ops<'_>, ctx: &Context, new: NewApi) -> Result<Api, OpsError> {
    ctx.require(Permission::ManageCatalog)?;
    Ok(store::apis::create(ops.db, new, &ctx.actor).await?)
}

/// Changes an API's audience and permissions.
pub async fn replace_api(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    audience: String,
    permissions: Vec<String>,
) -> Result<Api, OpsError> {
    ctx.require(Permission::ManageCatalog)?;
    let api = store::apis::replace(ops.db, name, audience, permissions, &ctx.actor).await?;
    // Audiences are cached with every client's grants.
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
    ctx.require(Permission::ManageCatalog)?;
    let affected = store::apis::delete(ops.db, name, force, &ctx.actor).await?;
    ops.invalidate(&affected).await;
    Ok(())
}

/// Every role, by name.
pub async fn roles(ops: &Ops<'_>, ctx: &Context) -> Result<Vec<Role>, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    Ok(store::roles::list(ops.db).await?)
}

/// One role.
pub async fn role(ops: &Ops<'_>, ctx: &Context, name: &str) -> Result<Role, OpsError> {
    ctx.require(Permission::ReadCatalog)?;
    Ok(store::roles::get(ops.db, name).await?)
}

/// Makes a role.
pub async fn create_role(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    description: &str,
    scopes: &[String],
) -> Result<Role, OpsError> {
    ctx.require(Permission::ManageCatalog)?;
    Ok(store::roles::create(ops.db, name, description, scopes, &ctx.actor).await?)
}

/// Replaces a role's description and scopes; its holders' next tokens follow.
pub async fn replace_role(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    description: &str,
    scopes: &[String],
) -> Result<Role, OpsError> {
    ctx.require(Permission::ManageCatalog)?;
    let (role, holders) =
        store::roles::replace(ops.db, name, description, scopes, &ctx.actor).await?;
    ops.invalidate(&holders).await;
    Ok(role)
}

/// Deletes a role (with `force`, also from its holders).
pub async fn delete_role(
    ops: &Ops<'_>,
    ctx: &Context,
    name: &str,
    force: bool,
) -> Result<(), OpsError> {
    ctx.require(Permission::ManageCatalog)?;
    let holders = store::roles::delete(ops.db, name, force, &ctx.actor).await?;
    ops.invalidate(&holders).await;
    Ok(())
}
