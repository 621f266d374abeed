//! `/admin/v1/apis…`: the API catalog.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{Admin, AdminError, Page, PageQuery, Problem, created, json_body, ok_json};
use crate::ops::{self, Ops};
use crate::state::AppState;
use crate::store::{Api, NewApi};

/// Body of `POST /apis`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiInput {
    /// `[a-z0-9][a-z0-9._-]{0,62}`.
    #[schema(pattern = "^[a-z0-9][a-z0-9._-]{0,62}$")]
    pub name: String,
    /// Absolute URI, unique: the `aud` of its tokens and the `resource` that selects it.
    pub audience: String,
    /// Subset of `read`, `write` (default both).
    #[serde(default = "both")]
    pub permissions: Vec<String>,
    /// Its project (default: the caller's).
    #[serde(default)]
    pub project: Option<String>,
    /// Offered to every project (default false).
    #[serde(default)]
    pub shared: bool,
}

/// Body of `PUT /apis/{name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiUpdate {
    /// Must equal the name in the path if given.
    #[serde(default)]
    pub name: Option<String>,
    /// New audience URI.
    pub audience: String,
    /// New permissions; one still granted cannot be dropped.
    pub permissions: Vec<String>,
    /// Offered to every project; unchanged if absent. Unsharing needs no grant outside the
    /// project.
    #[serde(default)]
    pub shared: Option<bool>,
    /// Must equal the API's project if given (a project cannot change).
    #[serde(default)]
    pub project: Option<String>,
}

fn both() -> Vec<String> {
    vec!["read".into(), "write".into()]
}

/// `?force=true` on delete.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForceQuery {
    /// Also remove every grant of this API.
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    force: Option<String>,
}

impl ForceQuery {
    /// The flag, validated.
    pub fn force(&self) -> Result<bool, AdminError> {
        match self.force.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(AdminError::field("force", "must be true or false")),
        }
    }
}

fn base(state: &AppState) -> String {
    format!("{}/admin/v1/apis", state.issuer)
}

#[utoipa::path(get, path = "/admin/v1/apis", operation_id = "list_apis", tag = "apis", params(PageQuery),
    responses((status = 200, body = Page<Api>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// List APIs by name.
pub async fn list(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AdminError> {
    let paging = query.paging()?;
    let all = ops::catalog::apis(&Ops::of(&state), &admin.ctx, query.project.as_deref()).await?;
    Ok(ok_json(&Page::of_all(all, paging, &base(&state))))
}

#[utoipa::path(post, path = "/admin/v1/apis", operation_id = "create_api", tag = "apis", request_body = ApiInput,
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 201, body = Api, headers(("Location" = String))), (status = 404, description = "No such project (or not yours)", body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Register an API.
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: ApiInput = json_body(&req, payload, false).await?;
    let new = NewApi {
        name: input.name,
        audience: input.audience,
        permissions: input.permissions,
        project: input.project.unwrap_or_else(|| admin.ctx.home_project()),
        shared: input.shared,
    };
    let api = ops::catalog::create_api(&Ops::of(&state), &admin.ctx, new).await?;
    Ok(created(format!("{}/{}", base(&state), api.name), &api))
}

#[utoipa::path(get, path = "/admin/v1/apis/{name}", operation_id = "get_api", tag = "apis",
    params(("name" = String, Path, description = "API name")),
    responses((status = 200, body = Api), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// One API.
pub async fn get(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    Ok(ok_json(
        &ops::catalog::api(&Ops::of(&state), &admin.ctx, &path).await?,
    ))
}

#[utoipa::path(put, path = "/admin/v1/apis/{name}", operation_id = "replace_api", tag = "apis", request_body = ApiUpdate,
    params(("name" = String, Path, description = "API name")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 200, body = Api), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Change an API's audience and permissions.
pub async fn replace(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: ApiUpdate = json_body(&req, payload, false).await?;
    if input.name.as_ref().is_some_and(|n| *n != *path) {
        return Err(AdminError::field("name", "must match the name in the path"));
    }
    if let Some(project) = &input.project {
        let current = ops::catalog::api(&Ops::of(&state), &admin.ctx, &path).await?;
        if *project != current.project {
            return Err(AdminError::field(
                "project",
                "an API's project cannot change",
            ));
        }
    }
    let api = ops::catalog::replace_api(
        &Ops::of(&state),
        &admin.ctx,
        &path,
        input.audience,
        input.permissions,
        input.shared,
    )
    .await?;
    Ok(ok_json(&api))
}

#[utoipa::path(delete, path = "/admin/v1/apis/{name}", operation_id = "delete_api", tag = "apis",
    params(("name" = String, Path, description = "API name"), ForceQuery),
    responses((status = 422, description = "Bad force value", body = Problem, content_type = "application/problem+json"), (status = 204, description = "Deleted"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Delete an API; one still granted needs `?force=true`, which removes those grants.
pub async fn delete(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ForceQuery>,
) -> Result<HttpResponse, AdminError> {
    ops::catalog::delete_api(&Ops::of(&state), &admin.ctx, &path, query.force()?).await?;
    Ok(HttpResponse::NoContent().finish())
}
