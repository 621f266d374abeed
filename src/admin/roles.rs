//! `/admin/v1/roles…`: named sets of scopes.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::apis::ForceQuery;
use super::{Admin, AdminError, Page, PageQuery, Problem, created, json_body, ok_json};
use crate::ops::{self, Ops};
use crate::state::AppState;
use crate::store::roles::Role;

/// Body of `POST /roles`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// `[a-z0-9][a-z0-9._-]{0,62}`.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,62}$")]
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Scopes `{api}:{permission}`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Body of `PUT /roles/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleUpdate {
    /// Must equal the name in the path if given.
    #[serde(default)]
    pub name: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// The role's scopes (replaces them).
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn base(state: &AppState) -> String {
    format!("{}/admin/v1/roles", state.issuer)
}

#[utoipa::path(get, path = "/admin/v1/roles", operation_id = "list_roles", tag = "roles", params(PageQuery),
    responses((status = 200, body = Page<Role>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// List roles by name.
pub async fn list(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AdminError> {
    let paging = query.paging()?;
    let all = ops::catalog::roles(&Ops::of(&state), &admin.ctx).await?;
    Ok(ok_json(&Page::of_all(all, paging, &base(&state))))
}

#[utoipa::path(post, path = "/admin/v1/roles", operation_id = "create_role", tag = "roles", request_body = RoleInput,
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"),
        (status = 201, body = Role, headers(("Location" = String))), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Make a role.
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: RoleInput = json_body(&req, payload, false).await?;
    let role = ops::catalog::create_role(
        &Ops::of(&state),
        &admin.ctx,
        &input.name,
        &input.description,
        &input.scopes,
    )
    .await?;
    Ok(created(format!("{}/{}", base(&state), role.name), &role))
}

#[utoipa::path(get, path = "/admin/v1/roles/{name}", operation_id = "get_role", tag = "roles",
    params(("name" = String, Path, description = "Role name")),
    responses((status = 200, body = Role), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// One role.
pub async fn get(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    Ok(ok_json(
        &ops::catalog::role(&Ops::of(&state), &admin.ctx, &path).await?,
    ))
}

#[utoipa::path(put, path = "/admin/v1/roles/{name}", operation_id = "replace_role", tag = "roles", request_body = RoleUpdate,
    params(("name" = String, Path, description = "Role name")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"),
        (status = 200, body = Role), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Replace a role's description and scopes; its clients' next tokens follow.
pub async fn replace(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: RoleUpdate = json_body(&req, payload, false).await?;
    if input.name.as_ref().is_some_and(|n| *n != *path) {
        return Err(AdminError::field("name", "must match the name in the path"));
    }
    let role = ops::catalog::replace_role(
        &Ops::of(&state),
        &admin.ctx,
        &path,
        &input.description,
        &input.scopes,
    )
    .await?;
    Ok(ok_json(&role))
}

#[utoipa::path(delete, path = "/admin/v1/roles/{name}", operation_id = "delete_role", tag = "roles",
    params(("name" = String, Path, description = "Role name"), ForceQuery),
    responses((status = 422, description = "Bad force value", body = Problem, content_type = "application/problem+json"),
        (status = 204, description = "Deleted"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Delete a role; one still held needs `?force=true`, which takes it from its clients.
pub async fn delete(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse, AdminError> {
    ops::catalog::delete_role(&Ops::of(&state), &admin.ctx, &path, query.force()?).await?;
    Ok(HttpResponse::NoContent().finish())
}
