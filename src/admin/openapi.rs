//! The OpenAPI 3.1 description of the admin API, generated from the handlers (utoipa).

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{apis, clients, keys, people, roles, tokens};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description = Some(
            "An access token from this server's /oauth2/token whose aud holds the admin audience: \
             admin:read for GET, admin:write otherwise."
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera admin API",
        version = "1",
        description = "Manage API clients, secrets, APIs, signing keys and audit events. Errors are RFC 9457 problem details."
    ),
    paths(
        clients::list, clients::create, clients::get, clients::replace, clients::patch,
        clients::delete, clients::list_secrets, clients::add_secret, clients::delete_secret,
        clients::reset_secret, apis::list, apis::create, apis::get, apis::replace, apis::delete,
        roles::list, roles::create, roles::get, roles::replace, roles::delete,
        keys::list, keys::rotate, keys::audit_events, tokens::revoke_token,
        tokens::revoke_client_tokens, clients::transfer, people::list_projects,
        people::create_project, people::get_project, people::patch_project,
        people::delete_project, people::list_administrators, people::create_administrator,
        people::get_administrator, people::patch_administrator, people::delete_administrator,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "clients", description = "API clients"),
        (name = "secrets", description = "Client secrets (shown once)"),
        (name = "apis", description = "The API catalog"),
        (name = "roles", description = "Named sets of scopes"),
        (name = "keys", description = "Signing keys"),
        (name = "tokens", description = "Access-token revocation"),
        (name = "audit", description = "Audit events and usage counters"),
        (name = "projects", description = "Projects: a team's APIs, roles and clients"),
        (name = "administrators", description = "People who manage clients, and their roles in projects"),
    )
)]
struct AdminApiDoc;

/// `GET /admin/v1/openapi.json` (public: it describes, it does not disclose).
pub async fn document() -> HttpResponse {
    match AdminApiDoc::openapi().to_json() {
        Ok(json) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(json),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
