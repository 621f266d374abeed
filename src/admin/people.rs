//! `/admin/v1/projects…` and `/admin/v1/administrators…`: teams and the people in them.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::apis::ForceQuery;
use super::{Admin, AdminError, Page, PageQuery, Problem, created, json_body, ok_json};
use crate::ops::{self, Ops};
use crate::state::AppState;
use crate::store::administrators::{
    Administrator, AdministratorChange, Membership, NewAdministrator,
};
use crate::store::projects::Project;

/// Body of `POST /projects`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    /// `[a-z0-9][a-z0-9-]{0,62}`; it never changes.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    pub name: String,
    /// Display name (default: the name).
    #[serde(default)]
    pub display_name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// Body of `PATCH /projects/{name}` (merge patch).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    /// Must equal the current name: a project's name never changes.
    #[serde(default)]
    pub name: Option<String>,
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
}

/// Body of `POST /administrators`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdministratorInput {
    /// Sign-in email (case-insensitive, unique).
    pub email: String,
    /// Display name (default: the email).
    #[serde(default)]
    pub display_name: String,
    /// Every project; manages projects, administrators and signing keys.
    #[serde(default)]
    pub superadmin: bool,
    /// Roles in projects.
    #[serde(default)]
    pub memberships: Vec<Membership>,
}

/// Body of `PATCH /administrators/{id}` (merge patch; absent fields keep their values).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdministratorPatch {
    /// New display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `false` ends their sessions and disables their clients.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Every project.
    #[serde(default)]
    pub superadmin: Option<bool>,
    /// Replaces their memberships (in the projects the caller reaches).
    #[serde(default)]
    pub memberships: Option<Vec<Membership>>,
}

/// A new administrator, with the one-time enrollment URL shown only in this response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedAdministrator {
    /// The administrator.
    #[serde(flatten)]
    pub administrator: Administrator,
    /// `{issuer}/console/enroll/{token}`: works once, for 24 hours.
    pub enrollment_url: String,
}

fn projects_base(state: &AppState) -> String {
    format!("{}/admin/v1/projects", state.issuer)
}

fn admins_base(state: &AppState) -> String {
    format!("{}/admin/v1/administrators", state.issuer)
}

#[utoipa::path(get, path = "/admin/v1/projects", operation_id = "list_projects", tag = "projects", params(PageQuery),
    responses((status = 200, body = Page<Project>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// The projects the caller reaches, by name.
pub async fn list_projects(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AdminError> {
    let paging = query.paging()?;
    let mut all = ops::people::projects(&Ops::of(&state), &admin.ctx).await?;
    if let Some(p) = &query.project {
        all.retain(|x| x.name == *p);
    }
    Ok(ok_json(&Page::of_all(all, paging, &projects_base(&state))))
}

#[utoipa::path(post, path = "/admin/v1/projects", operation_id = "create_project", tag = "projects", request_body = ProjectInput,
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 201, body = Project, headers(("Location" = String))), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Make a project (root clients of `default`).
pub async fn create_project(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: ProjectInput = json_body(&req, payload, false).await?;
    let p = ops::people::create_project(
        &Ops::of(&state),
        &admin.ctx,
        &input.name,
        &input.display_name,
        &input.description,
    )
    .await?;
    Ok(created(format!("{}/{}", projects_base(&state), p.name), &p))
}

#[utoipa::path(get, path = "/admin/v1/projects/{name}", operation_id = "get_project", tag = "projects",
    params(("name" = String, Path, description = "Project name")),
    responses((status = 200, body = Project), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// One project.
pub async fn get_project(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    Ok(ok_json(
        &ops::people::project(&Ops::of(&state), &admin.ctx, &path).await?,
    ))
}

#[utoipa::path(patch, path = "/admin/v1/projects/{name}", operation_id = "patch_project", tag = "projects",
    request_body(content = ProjectPatch, content_type = "application/merge-patch+json"),
    params(("name" = String, Path, description = "Project name")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 200, body = Project), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Changing the name", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Change a project's display name or description; its name never changes.
pub async fn patch_project(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: ProjectPatch = json_body(&req, payload, true).await?;
    if input.name.as_ref().is_some_and(|n| *n != *path) {
        return Err(AdminError::field(
            "name",
            "a project's name cannot change; make a new project instead",
        ));
    }
    let p = ops::people::update_project(
        &Ops::of(&state),
        &admin.ctx,
        &path,
        input.display_name,
        input.description,
    )
    .await?;
    Ok(ok_json(&p))
}

#[utoipa::path(delete, path = "/admin/v1/projects/{name}", operation_id = "delete_project", tag = "projects",
    params(("name" = String, Path, description = "Project name"), ForceQuery),
    responses((status = 422, description = "Bad force value", body = Problem, content_type = "application/problem+json"), (status = 204, description = "Deleted"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Delete a project with its APIs and roles; one holding clients needs `?force=true`, which
/// disables and then deletes them.
pub async fn delete_project(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse, AdminError> {
    ops::people::delete_project(&Ops::of(&state), &admin.ctx, &path, query.force()?).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/admin/v1/administrators", operation_id = "list_administrators", tag = "administrators", params(PageQuery),
    responses((status = 200, body = Page<Administrator>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// The administrators the caller reaches, by email.
pub async fn list_administrators(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AdminError> {
    let paging = query.paging()?;
    let all =
        ops::people::administrators(&Ops::of(&state), &admin.ctx, query.project.as_deref()).await?;
    Ok(ok_json(&Page::of_all(all, paging, &admins_base(&state))))
}

#[utoipa::path(post, path = "/admin/v1/administrators", operation_id = "create_administrator", tag = "administrators", request_body = AdministratorInput,
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 201, body = CreatedAdministrator, headers(("Location" = String))), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Make an administrator; the response carries their one-time enrollment URL, only there.
pub async fn create_administrator(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: AdministratorInput = json_body(&req, payload, false).await?;
    let new = NewAdministrator {
        email: input.email,
        display_name: input.display_name,
        superadmin: input.superadmin,
        memberships: input.memberships,
    };
    let (a, url) = ops::people::create_administrator(&Ops::of(&state), &admin.ctx, new).await?;
    Ok(created(
        format!("{}/{}", admins_base(&state), a.id),
        &CreatedAdministrator {
            administrator: a,
            enrollment_url: url,
        },
    ))
}

#[utoipa::path(get, path = "/admin/v1/administrators/{id}", operation_id = "get_administrator", tag = "administrators",
    params(("id" = String, Path, description = "Administrator id")),
    responses((status = 200, body = Administrator), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// One administrator.
pub async fn get_administrator(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    Ok(ok_json(
        &ops::people::administrator(&Ops::of(&state), &admin.ctx, &path).await?,
    ))
}

#[utoipa::path(patch, path = "/admin/v1/administrators/{id}", operation_id = "patch_administrator", tag = "administrators",
    request_body(content = AdministratorPatch, content_type = "application/merge-patch+json"),
    params(("id" = String, Path, description = "Administrator id")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 200, body = Administrator), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Change an administrator: disabling or taking a membership away disables their clients
/// there; lowering a ceiling lowers their clients' next tokens.
pub async fn patch_administrator(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: AdministratorPatch = json_body(&req, payload, true).await?;
    let change = AdministratorChange {
        display_name: input.display_name,
        enabled: input.enabled,
        superadmin: input.superadmin,
        memberships: input.memberships,
    };
    let a = ops::people::update_administrator(&Ops::of(&state), &admin.ctx, &path, change).await?;
    Ok(ok_json(&a))
}

#[utoipa::path(delete, path = "/admin/v1/administrators/{id}", operation_id = "delete_administrator", tag = "administrators",
    params(("id" = String, Path, description = "Administrator id")),
    responses((status = 204, description = "Deleted; their clients stay, disabled"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Delete an administrator; their clients stay, disabled, until transferred.
pub async fn delete_administrator(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    ops::people::delete_administrator(&Ops::of(&state), &admin.ctx, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}
