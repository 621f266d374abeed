//! `/admin/v1/roles…`: named sets of scopes.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

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
    /// Its project (default: `?project=`, else the caller's).
    #[serde(default)]
    pub project: Option<String>,
}

/// `?project=` on a role's path: which project's role of that name.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleQuery {
    /// The role's project (default: the caller's, else `default`).
    #[serde(default)]
    pub project: Option<String>,
}

/// `?project=&force=` on a role's delete.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleDeleteQuery {
    /// The role's project (default: the caller's, else `default`).
    #[serde(default)]
    pub project: Option<String>,
    /// Also take the role from its clients.
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    pub force: Option<String>,
}

impl RoleDeleteQuery {
    fn force(&self) -> Result<bool, AdminError> {
        match self.force.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(AdminError::field("force", "must be true or false")),
        }
    }
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
    /// Must equal the role's project if given.
    #[serde(default)]
    pub project: Option<String>,
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
    let all = ops::catalog::roles(&Ops::of(&state), &admin.ctx, query.project.as_deref()).await?;
    Ok(ok_json(&Page::of_all(all, paging, &base(&state))))
}

#[utoipa::path(post, path = "/admin/v1/roles", operation_id = "create_role", tag = "roles", request_body = RoleInput, params(RoleQuery),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"),
        (status = 201, body = Role, headers(("Location" = String))), (status = 404, description = "No such project (or not yours)", body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Make a role.
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<RoleQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: RoleInput = json_body(&req, payload, false).await?;
    let project = input.project.clone().or_else(|| query.project.clone());
    let role = ops::catalog::create_role(
        &Ops::of(&state),
        &admin.ctx,
        project.as_deref(),
        &input.name,
        &input.description,
        &input.scopes,
    )
    .await?;
    let location = if role.project == crate::store::projects::DEFAULT {
        format!("{}/{}", base(&state), role.name)
    } else {
        format!("{}/{}?project={}", base(&state), role.name, role.project)
    };
    Ok(created(location, &role))
}

#[utoipa::path(get, path = "/admin/v1/roles/{name}", operation_id = "get_role", tag = "roles",
    params(("name" = String, Path, description = "Role name"), RoleQuery),
    responses((status = 200, body = Role), (status = 422, description = "Bad query", body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// One role.
pub async fn get(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<RoleQuery>,
) -> Result<HttpResponse, AdminError> {
    Ok(ok_json(
        &ops::catalog::role(
            &Ops::of(&state),
            &admin.ctx,
            query.project.as_deref(),
            &path,
        )
        .await?,
    ))
}

#[utoipa::path(put, path = "/admin/v1/roles/{name}", operation_id = "replace_role", tag = "roles", request_body = RoleUpdate,
    params(("name" = String, Path, description = "Role name"), RoleQuery),
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
    query: web::Query<RoleQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: RoleUpdate = json_body(&req, payload, false).await?;
    if input.name.as_ref().is_some_and(|n| *n != *path) {
        return Err(AdminError::field("name", "must match the name in the path"));
    }
    let project = input.project.clone().or_else(|| query.project.clone());
    let role = ops::catalog::replace_role(
        &Ops::of(&state),
        &admin.ctx,
        project.as_deref(),
        &path,
        &input.description,
        &input.scopes,
    )
    .await?;
    Ok(ok_json(&role))
}

#[utoipa::path(delete, path = "/admin/v1/roles/{name}", operation_id = "delete_role", tag = "roles",
    params(("name" = String, Path, description = "Role name"), RoleDeleteQuery),
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
    query: web::Query<RoleDeleteQuery>,
) -> Result<HttpResponse, AdminError> {
    ops::catalog::delete_role(
        &Ops::of(&state),
        &admin.ctx,
        query.project.as_deref(),
        &path,
        query.force()?,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
