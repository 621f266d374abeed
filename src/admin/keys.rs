//! `/admin/v1/keys…` and `/admin/v1/audit-events`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{
    Admin, AdminError, FieldError, Page, PageQuery, Problem, json_body_or_default, ok_json,
};
use crate::keys::KeyStatus;
use crate::ops::{self, Ops};
use crate::state::AppState;
use crate::store::{audit::AuditEvent, audit::AuditFilter};

#[utoipa::path(get, path = "/admin/v1/keys", operation_id = "list_keys", tag = "keys",
    responses((status = 200, body = Page<KeyStatus>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// Signing keys: public identity and state only, never private parts.
pub async fn list(admin: Admin, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let keys = ops::keys::list(&Ops::of(&state), &admin.ctx).await?;
    let base = format!("{}/admin/v1/keys", state.issuer);
    Ok(ok_json(&Page::whole(keys, &base)))
}

/// Body of `POST /keys/rotate`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateInput {
    /// Sign with the new key at once (emergency) instead of after one JWKS cache lifetime.
    #[serde(default)]
    pub now: bool,
}

#[utoipa::path(post, path = "/admin/v1/keys/rotate", operation_id = "rotate_keys", tag = "keys", request_body(content = Option<RotateInput>, description = "Optional; an empty body means {\"now\": false}"),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 200, body = KeyStatus), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Add a signing key: published at once, signing after one JWKS cache lifetime.
pub async fn rotate(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: RotateInput = json_body_or_default(&req, payload).await?;
    let key = ops::keys::rotate(&Ops::of(&state), &admin.ctx, &state.kek, input.now).await?;
    Ok(ok_json(&key))
}

/// Filters of `GET /audit-events`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events whose actor or target is this client.
    client_id: Option<String>,
    /// Events about this project (its clients, APIs, roles, members and itself).
    project: Option<String>,
    /// Exact event type, e.g. `client.created`, `token.issued`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// From this time (RFC 3339), inclusive.
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<String>,
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>, maximum = 1_000_000_000_000u64)]
    offset: Option<String>,
    /// Items to return, 1–1000 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

fn time_param(name: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, FieldError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| FieldError {
                    field: name.into(),
                    message: "must be an RFC 3339 time such as 2026-01-31T12:00:00Z".into(),
                })
        })
        .transpose()
}

#[utoipa::path(get, path = "/admin/v1/audit-events", operation_id = "list_audit_events", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such project (or not yours)", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// Admin changes and per-minute token counters, newest first.
pub async fn audit_events(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let q = query.into_inner();
    let paging = PageQuery {
        project: None,
        offset: q.offset.clone(),
        limit: q.limit.clone(),
    }
    .paging();
    let mut errors = Vec::new();
    let since = time_param("since", q.since.as_deref()).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let until = time_param("until", q.until.as_deref()).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let paging = match paging {
        Ok(p) if errors.is_empty() => p,
        Ok(_) => return Err(AdminError::Validation(errors)),
        Err(AdminError::Validation(mut e)) => {
            e.extend(errors);
            return Err(AdminError::Validation(e));
        }
        Err(e) => return Err(e),
    };
    let filter = AuditFilter {
        client_id: q.client_id.clone(),
        kind: q.kind.clone(),
        since,
        until,
        among: None,
        projects: q.project.clone().map(|p| vec![p]),
    };
    let (events, total) = ops::keys::audit_events(
        &Ops::of(&state),
        &admin.ctx,
        filter,
        paging.offset,
        paging.limit,
    )
    .await?;
    let mut base = format!("{}/admin/v1/audit-events", state.issuer);
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("client_id", &q.client_id),
        ("project", &q.project),
        ("type", &q.kind),
        ("since", &q.since),
        ("until", &q.until),
    ] {
        if let Some(v) = v {
            params.append_pair(k, v);
        }
    }
    let params = params.finish();
    if !params.is_empty() {
        base = format!("{base}?{params}");
    }
    Ok(ok_json(&Page::new(events, total, paging, &base)))
}
