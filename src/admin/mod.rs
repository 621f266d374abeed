//! The admin REST API (`/admin/v1`): clients, secrets, APIs, keys and audit events.

mod apis;
mod clients;
mod keys;
mod openapi;
mod people;
mod problem;
mod roles;
mod tokens;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use problem::{AdminError, FieldError, Problem};

use crate::oauth::verify::{TokenCheckError, check_active_with_client};
use crate::ops::Context;
use crate::state::AppState;

/// Admin bodies are small JSON documents.
pub const ADMIN_BODY_LIMIT: usize = 256 * 1024;

/// Every admin route, under `/admin/v1`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    // A known path with another method is 405 with Allow; an unknown path is 404.
    fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
        web::resource(path).default_service(web::to(move || method_not_allowed(allow)))
    }
    cfg.service(
        web::scope("/admin/v1")
            // Query strings that do not parse (e.g. a repeated parameter) are problems too.
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| AdminError::field("query", err.to_string()).into()),
            )
            .service(resource("/openapi.json", "GET").route(web::get().to(openapi::document)))
            .service(
                resource("/clients", "GET, POST")
                    .route(web::get().to(clients::list))
                    .route(web::post().to(clients::create)),
            )
            .service(
                resource("/clients/{client_id}", "GET, PUT, PATCH, DELETE")
                    .route(web::get().to(clients::get))
                    .route(web::put().to(clients::replace))
                    .route(web::patch().to(clients::patch))
                    .route(web::delete().to(clients::delete)),
            )
            .service(
                resource("/clients/{client_id}/secrets", "GET, POST")
                    .route(web::get().to(clients::list_secrets))
                    .route(web::post().to(clients::add_secret)),
            )
            .service(
                resource("/clients/{client_id}/secrets/{secret_id}", "DELETE")
                    .route(web::delete().to(clients::delete_secret)),
            )
            .service(
                resource("/clients/{client_id}/reset-secret", "POST")
                    .route(web::post().to(clients::reset_secret)),
            )
            .service(
                resource("/clients/{client_id}/transfer", "POST")
                    .route(web::post().to(clients::transfer)),
            )
            .service(
                resource("/projects", "GET, POST")
                    .route(web::get().to(people::list_projects))
                    .route(web::post().to(people::create_project)),
            )
            .service(
                resource("/projects/{name}", "GET, PATCH, DELETE")
                    .route(web::get().to(people::get_project))
                    .route(web::patch().to(people::patch_project))
                    .route(web::delete().to(people::delete_project)),
            )
            .service(
                resource("/administrators", "GET, POST")
                    .route(web::get().to(people::list_administrators))
                    .route(web::post().to(people::create_administrator)),
            )
            .service(
                resource("/administrators/{id}", "GET, PATCH, DELETE")
                    .route(web::get().to(people::get_administrator))
                    .route(web::patch().to(people::patch_administrator))
                    .route(web::delete().to(people::delete_administrator)),
            )
            .service(
                resource("/clients/{client_id}/revoke-tokens", "POST")
                    .route(web::post().to(tokens::revoke_client_tokens)),
            )
            .service(resource("/tokens/revoke", "POST").route(web::post().to(tokens::revoke_token)))
            .service(
                resource("/apis", "GET, POST")
                    .route(web::get().to(apis::list))
                    .route(web::post().to(apis::create)),
            )
            .service(
                resource("/apis/{name}", "GET, PUT, DELETE")
                    .route(web::get().to(apis::get))
                    .route(web::put().to(apis::replace))
                    .route(web::delete().to(apis::delete)),
            )
            .service(
                resource("/roles", "GET, POST")
                    .route(web::get().to(roles::list))
                    .route(web::post().to(roles::create)),
            )
            .service(
                resource("/roles/{name}", "GET, PUT, DELETE")
                    .route(web::get().to(roles::get))
                    .route(web::put().to(roles::replace))
                    .route(web::delete().to(roles::delete)),
            )
            .service(resource("/keys", "GET").route(web::get().to(keys::list)))
            .service(resource("/keys/rotate", "POST").route(web::post().to(keys::rotate)))
            .service(resource("/audit-events", "GET").route(web::get().to(keys::audit_events)))
            .default_service(web::to(not_found)),
    );
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, AdminError> {
    Err(AdminError::NotFound(format!(
        "{} {}",
        req.method(),
        req.path()
    )))
}

async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut response = AdminError::MethodNotAllowed(allow).error_response();
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

/// An authenticated administrator: a client whose token carries the admin audience, with the
/// admin scopes it holds now. Each operation checks the permission it needs.
pub struct Admin {
    /// Who acts, for the domain operations.
    pub ctx: Context,
}

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AdminError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Admin, AdminError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(AdminError::Internal)?;
    // Without the database nothing can be read or changed safely: answer at once.
    if !state.db_health.is_up() {
        return Err(AdminError::Unavailable);
    }
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(AdminError::NoToken);
    };
    if values.next().is_some() {
        return Err(AdminError::BadRequest(
            "more than one Authorization header".into(),
        ));
    }
    let value = value.to_str().map_err(|_| AdminError::InvalidToken)?;
    // `DPoP` for a token bound to a key (RFC 9449 §7.1), `Bearer` for any other.
    let (token, dpop) = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => (token.trim(), false),
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") => (token.trim(), true),
        _ => return Err(AdminError::NoToken),
    };
    let refused = |e: TokenCheckError| match e {
        TokenCheckError::Inactive(reason) => {
            tracing::info!(reason, "admin token refused");
            AdminError::InvalidToken
        }
        TokenCheckError::Store(e) => {
            tracing::error!(error = %e, "loading admin client failed");
            AdminError::Internal
        }
    };
    // Active, and its client as it is now: enabled with every owner, its current owner-capped
    // scopes.
    let (verified, current) = check_active_with_client(state, token, chrono::Utc::now())
        .await
        .map_err(refused)?;
    let bound = verified.cnf.as_ref().and_then(|c| c.jkt.as_deref());
    match (bound, dpop) {
        (None, false) => {}
        // A bearer token under the DPoP scheme would pass for a bound one.
        (None, true) => return Err(AdminError::InvalidToken),
        (Some(_), false) => return Err(AdminError::DpopRequired),
        (Some(jkt), true) => check_dpop_proof(state, req, token, jkt).await?,
    }
    // A token bound to a certificate (RFC 8705 §3) comes with that certificate, on this
    // connection or from a trusted proxy: a copy of the token alone is worth nothing.
    if let Some(bound) = verified.cnf.as_ref().and_then(|c| c.x5t_s256.as_deref()) {
        let presented = crate::oauth::authenticate::certificate::of_request(state, req);
        if presented.is_none_or(|c| c.thumbprint() != bound) {
            tracing::info!("certificate-bound admin token without its certificate");
            return Err(AdminError::InvalidToken);
        }
    }
    if !verified
        .audiences
        .iter()
        .any(|a| *a == state.admin_audience())
    {
        return Err(AdminError::InvalidToken);
    }
    Ok(Admin {
        ctx: Context::client(&current, &verified.scopes),
    })
}

/// The request's DPoP proof must be for this request (`htm`, `htu` from the issuer and the
/// path), for this token (`ath`) and by the key the token is bound to.
async fn check_dpop_proof(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    jkt: &str,
) -> Result<(), AdminError> {
    use crate::oauth::dpop::{self, DpopError};
    let refused = |e: DpopError| match e {
        DpopError::Invalid(why) => {
            tracing::info!(reason = %why, "admin DPoP proof refused");
            AdminError::InvalidDpopProof(why)
        }
        // Nonces are demanded at the token endpoint only.
        DpopError::UseNonce => AdminError::InvalidDpopProof(e.to_string()),
        DpopError::Store(e) => e.into(),
    };
    let proof = dpop::proof_header(req.headers())
        .map_err(refused)?
        .ok_or(AdminError::DpopRequired)?;
    let url = format!("{}{}", state.issuer, req.path());
    let expected = dpop::Expected {
        method: req.method().as_str(),
        url: &url,
        access_token: Some(token),
        jkt: Some(jkt),
        nonce: false,
    };
    dpop::verify(state, proof, expected)
        .await
        .map(|_| ())
        .map_err(refused)
}

/// Reads a JSON body (at most [`ADMIN_BODY_LIMIT`]); errors name the field at fault.
pub(crate) async fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    merge_patch: bool,
) -> Result<T, AdminError> {
    let body = read_body(req, payload).await?;
    check_content_type(req, merge_patch)?;
    parse_json(&body)
}

/// Like [`json_body`], but an empty body means `T::default()`.
pub(crate) async fn json_body_or_default<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, AdminError> {
    let body = read_body(req, payload).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    check_content_type(req, false)?;
    parse_json(&body)
}

async fn read_body(req: &HttpRequest, payload: web::Payload) -> Result<web::BytesMut, AdminError> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(std::time::Duration::from_secs(10), |s| {
            s.settings.body_timeout
        });
    tokio::time::timeout(timeout, read_body_within_limit(payload))
        .await
        .map_err(|_| AdminError::BodyTimeout(timeout.as_secs()))?
}

async fn read_body_within_limit(mut payload: web::Payload) -> Result<web::BytesMut, AdminError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| AdminError::BadRequest("unreadable body".into()))?;
        if body.len() + chunk.len() > ADMIN_BODY_LIMIT {
            return Err(AdminError::PayloadTooLarge(ADMIN_BODY_LIMIT));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn check_content_type(req: &HttpRequest, merge_patch: bool) -> Result<(), AdminError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        Some("application/json") => Ok(()),
        Some("application/merge-patch+json") if merge_patch => Ok(()),
        _ => Err(AdminError::UnsupportedMediaType(if merge_patch {
            "use Content-Type: application/merge-patch+json or application/json".into()
        } else {
            "use Content-Type: application/json".into()
        })),
    }
}

/// Parses JSON into `T`, naming the offending field on error.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    // Every admin body is an object; serde would otherwise read a struct from an array.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => AdminError::field("body", "must be a JSON object"),
                Err(e) => AdminError::BadRequest(format!("the body is not valid JSON: {e}")),
            },
        );
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return AdminError::BadRequest(format!("the body is not valid JSON: {inner}"));
        }
        let message = inner.to_string();
        // serde reports an unknown field at its parent's path; name the field itself.
        let named = message
            .strip_prefix("unknown field `")
            .or_else(|| message.strip_prefix("missing field `"));
        // serde_path_to_error already ends an unknown field's path with its name; a missing
        // field's path ends at its parent.
        let field = match named.map(|rest| rest.split('`').next().unwrap_or_default()) {
            Some(name) if path == "." => name.to_owned(),
            Some(name) if path == name || path.ends_with(&format!(".{name}")) => path,
            Some(name) => format!("{path}.{name}"),
            None if path == "." => "body".to_owned(),
            None => path,
        };
        AdminError::Validation(vec![FieldError {
            field,
            message: message
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        }])
    })
}

/// Largest `offset` accepted.
pub const MAX_OFFSET: u64 = 1_000_000_000_000;

/// `offset` and `limit` of a list request.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// Items to skip.
    pub offset: u64,
    /// Items to return (1–1000).
    pub limit: u64,
}

/// Query parameters of list endpoints, read as strings so errors can name them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items to skip (default 0).
    #[param(value_type = Option<u64>, maximum = 1_000_000_000_000u64)]
    pub(crate) offset: Option<String>,
    /// Items to return, 1–1000 (default 50).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<String>,
    /// Only this project's items.
    #[param(value_type = Option<String>)]
    pub(crate) project: Option<String>,
}

impl PageQuery {
    /// Validates the parameters.
    pub fn paging(&self) -> Result<Paging, AdminError> {
        let mut errors = Vec::new();
        // Bounded well inside i64 (the databases' integer) so no offset can overflow.
        let offset = match self.offset.as_deref() {
            None => 0,
            Some(s) => match s.parse::<u64>() {
                Ok(n) if n <= MAX_OFFSET => n,
                _ => {
                    errors.push(FieldError {
                        field: "offset".into(),
                        message: format!("must be a whole number from 0 to {MAX_OFFSET}"),
                    });
                    0
                }
            },
        };
        let limit = match self.limit.as_deref() {
            None => 50,
            Some(s) => match s.parse::<u64>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    errors.push(FieldError {
                        field: "limit".into(),
                        message: "must be a whole number from 1 to 1000".into(),
                    });
                    50
                }
            },
        };
        if errors.is_empty() {
            Ok(Paging { offset, limit })
        } else {
            Err(AdminError::Validation(errors))
        }
    }
}

/// Links of a page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageLinks {
    /// This page.
    #[serde(rename = "self")]
    pub this: String,
    /// The next page, if any.
    pub next: Option<String>,
    /// The previous page, if any.
    pub prev: Option<String>,
}

/// The page object every list endpoint answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T: utoipa::ToSchema> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: u64,
    /// Items skipped.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
    /// Navigation.
    pub links: PageLinks,
}

impl<T: utoipa::ToSchema> Page<T> {
    /// A page of `items` at `paging` out of `total`; `base` is the absolute path with any
    /// filter parameters (`…?type=x` or `…`).
    pub fn new(items: Vec<T>, total: u64, paging: Paging, base: &str) -> Self {
        let sep = if base.contains('?') { '&' } else { '?' };
        let link = |offset: u64| format!("{base}{sep}offset={offset}&limit={}", paging.limit);
        let next =
            (paging.offset + paging.limit < total).then(|| link(paging.offset + paging.limit));
        let prev = (paging.offset > 0).then(|| link(paging.offset.saturating_sub(paging.limit)));
        Page {
            items,
            total,
            offset: paging.offset,
            limit: paging.limit,
            links: PageLinks {
                this: link(paging.offset),
                next,
                prev,
            },
        }
    }

    /// The page `paging` selects from a whole list held in memory (small catalogs).
    pub fn of_all(all: Vec<T>, paging: Paging, base: &str) -> Self {
        let total = all.len() as u64;
        let items = all
            .into_iter()
            .skip(usize::try_from(paging.offset).unwrap_or(usize::MAX))
            .take(paging.limit as usize)
            .collect();
        Self::new(items, total, paging, base)
    }

    /// Everything on one page (small lists).
    pub fn whole(items: Vec<T>, base: &str) -> Self {
        let total = items.len() as u64;
        Self::new(
            items,
            total,
            Paging {
                offset: 0,
                limit: total.max(1),
            },
            base,
        )
    }
}

/// `200` with JSON and `Cache-Control: no-store` (admin data is never cached).
pub(crate) fn ok_json(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .json(body)
}

/// `201` with `Location`.
pub(crate) fn created(location: String, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .json(body)
}

/// Runs every admin body parser over `body`, as the handlers would (the fuzz target's entry
/// point; see `fuzz/`). Results are dropped: the point is that nothing panics.
#[doc(hidden)]
pub fn parse_every_body(body: &[u8]) {
    if let Ok(input) = parse_json::<clients::ClientInput>(body) {
        for ip in &input.allowed_ips {
            let _ = crate::store::parse_ip_range(ip);
        }
    }
    let _ = parse_json::<clients::NewSecretInput>(body);
    let _ = parse_json::<apis::ApiInput>(body);
    let _ = parse_json::<apis::ApiUpdate>(body);
    let _ = parse_json::<roles::RoleInput>(body);
    let _ = parse_json::<roles::RoleUpdate>(body);
    let _ = parse_json::<keys::RotateInput>(body);
    let _ = parse_json::<tokens::RevokeTokenInput>(body);
    let _ = parse_json::<clients::TransferInput>(body);
    let _ = parse_json::<people::ProjectInput>(body);
    let _ = parse_json::<people::ProjectPatch>(body);
    let _ = parse_json::<people::AdministratorInput>(body);
    let _ = parse_json::<people::AdministratorPatch>(body);
    // PATCH: a merge patch over a client document, then parsed as a client.
    if let Ok(patch) = serde_json::from_slice::<serde_json::Value>(body)
        && patch.is_object()
    {
        let mut doc = serde_json::json!({
            "name": "n", "description": "", "enabled": true, "scopes": ["a:read"],
            "roles": [], "allowed_ips": ["10.0.0.0/8"], "token_ttl_seconds": null,
        });
        json_patch::merge(&mut doc, &patch);
        if let Ok(bytes) = serde_json::to_vec(&doc) {
            let _ = parse_json::<clients::ClientInput>(&bytes);
        }
    }
}
