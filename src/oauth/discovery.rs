//! RFC 8414 metadata and the RFC 7517 JWKS, both served from memory with validators.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;
use crate::store::Api;
use crate::store::client_auth::AssertionAlg;

/// The metadata document, serialised once per catalog change.
pub type Metadata = crate::CachedDocument;

/// Renders the metadata document for `issuer` and the current API catalog.
pub fn render_metadata(issuer: &str, apis: &[Api], settings: &crate::config::Settings) -> Metadata {
    let mut scopes: Vec<String> = apis
        .iter()
        .flat_map(|a| a.permissions.iter().map(move |p| format!("{}:{p}", a.name)))
        .collect();
    scopes.sort();
    // Certificates reach us over our own TLS or from trusted proxies: the certificate
    // methods are offered only where one of them is configured.
    let certificates = settings.tls.is_some() || settings.client_cert_header.is_some();
    let mut methods = vec![
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    if certificates {
        // CA-issued certificates can be checked only against a configured CA.
        if settings.client_ca_file.is_some() {
            methods.push("tls_client_auth");
        }
        methods.push("self_signed_tls_client_auth");
    }
    let algs: Vec<&str> = AssertionAlg::ALL.iter().map(|a| a.as_str()).collect();
    let mut doc = serde_json::json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_signing_alg_values_supported": algs,
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_signing_alg_values_supported": algs,
        "dpop_signing_alg_values_supported": super::dpop::algorithms(),
        "scopes_supported": scopes,
        "response_types_supported": [],
    });
    if certificates {
        doc["tls_client_certificate_bound_access_tokens"] = true.into();
    }
    Metadata::new(serde_json::to_vec(&doc).unwrap_or_default())
}

fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn cached(
    req: &HttpRequest,
    doc: &crate::CachedDocument,
    cache_control: HeaderValue,
) -> HttpResponse {
    let status = if doc.etag.to_str().is_ok_and(|etag| not_modified(req, etag)) {
        actix_web::http::StatusCode::NOT_MODIFIED
    } else {
        actix_web::http::StatusCode::OK
    };
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::ETAG, doc.etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ));
    if status == actix_web::http::StatusCode::NOT_MODIFIED {
        return response.finish();
    }
    response
        .content_type("application/json")
        .body(doc.body.clone())
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let ring = state.keys.load();
    cached(&req, ring.jwks(), state.jwks_cache_control.clone())
}

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
pub async fn metadata(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let doc = state.metadata.load();
    cached(&req, &doc, HeaderValue::from_static("public, max-age=300"))
}
