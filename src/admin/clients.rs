//! `/admin/v1/clients…`: clients and their secrets.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Admin, AdminError, Page, PageQuery, created, json_body, ok_json, parse_json};
use crate::ops::{self, Ops};
use crate::state::AppState;
use crate::store::client_auth::{AssertionAlg, AuthFields, AuthSettings, TokenEndpointAuthMethod};
use crate::store::clients::OwnerRef;
use crate::store::secrets::SecretInfo;
use crate::store::{Client, ClientFields};

/// A client as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    /// Opaque, URL-safe id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Whether it may get tokens.
    pub enabled: bool,
    /// Directly granted scopes.
    pub scopes: Vec<String>,
    /// Roles whose scopes it also holds.
    pub roles: Vec<String>,
    /// Addresses and CIDRs it may call from; empty means any.
    pub allowed_ips: Vec<String>,
    /// Lifetime of its tokens, in seconds.
    pub token_ttl_seconds: u32,
    /// Its project.
    pub project: String,
    /// Who owns it: `{"type": "administrator"|"client", "id"}`; `null` for root clients made
    /// by the CLI.
    pub owner: Option<OwnerRef>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful token request (may lag by the flush interval).
    pub last_used_at: Option<DateTime<Utc>>,
    /// How it authenticates at the token, introspection and revocation endpoints.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The settings of its method (`jwks`, `jwks_uri`, `token_endpoint_auth_signing_alg`,
    /// `tls_client_auth_*`); only those set are present.
    #[serde(flatten)]
    pub auth_settings: AuthSettings,
    /// Its token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// Usage, on `GET /clients/{client_id}` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

/// Token use of a client.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// Tokens issued in the last 24 hours.
    pub tokens_issued_24h: u64,
    /// Last successful token request.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new client with its first secret, shown only in this response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedClient {
    /// The client.
    #[serde(flatten)]
    pub client: ClientView,
    /// The secret: store it now, it is never shown again. Absent for clients that
    /// authenticate without a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

fn yes() -> bool {
    true
}

/// The settable fields of a client (`POST`, `PUT`; `PATCH` merges into them).
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientInput {
    /// Display name (1–200 characters).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Whether it may get tokens (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Scopes `{api}:{permission}`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// IPv4/IPv6 addresses or CIDRs.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// Token lifetime, 60 … `token.max_ttl_seconds`; `null` for the server default.
    #[serde(default)]
    pub token_ttl_seconds: Option<u32>,
    /// Its project (on creation; default: the caller's). It cannot change afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// How it authenticates (default `client_secret_basic`; `client_secret_post` means the
    /// same). Clients of the other methods hold no secret.
    #[serde(default)]
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// `private_key_jwt`: its public JWK set; `self_signed_tls_client_auth`: its certificates
    /// in `x5c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// `private_key_jwt`: where it publishes its JWK set (`https`), instead of `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `private_key_jwt`: the one algorithm of its assertions (default `ES256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<AssertionAlg>,
    /// `tls_client_auth`: its certificate's subject DN (give exactly one `tls_client_auth_*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth`: a DNS name in its certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// `tls_client_auth`: a URI in its certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// `tls_client_auth`: an IP address in its certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// `tls_client_auth`: an email address in its certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// Its token requests must carry a DPoP proof (RFC 9449).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

/// The fields of [`ClientInput`], as JSON names them.
const CLIENT_INPUT_FIELDS: &[&str] = &[
    "name",
    "description",
    "enabled",
    "scopes",
    "roles",
    "allowed_ips",
    "token_ttl_seconds",
    "project",
    "token_endpoint_auth_method",
    "jwks",
    "jwks_uri",
    "token_endpoint_auth_signing_alg",
    "tls_client_auth_subject_dn",
    "tls_client_auth_san_dns",
    "tls_client_auth_san_uri",
    "tls_client_auth_san_ip",
    "tls_client_auth_san_email",
    "dpop_bound_access_tokens",
];

impl ClientInput {
    /// The input that would leave `c` as it is (what a merge patch applies to).
    fn of(c: Client) -> Self {
        let s = c.auth_settings;
        ClientInput {
            name: c.name,
            description: c.description,
            enabled: c.enabled,
            scopes: c.scopes,
            roles: c.roles,
            allowed_ips: c.allowed_ips,
            token_ttl_seconds: c.token_ttl_seconds,
            project: Some(c.project),
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            jwks: s.jwks,
            jwks_uri: s.jwks_uri,
            token_endpoint_auth_signing_alg: s.token_endpoint_auth_signing_alg,
            tls_client_auth_subject_dn: s.tls_client_auth_subject_dn,
            tls_client_auth_san_dns: s.tls_client_auth_san_dns,
            tls_client_auth_san_uri: s.tls_client_auth_san_uri,
            tls_client_auth_san_ip: s.tls_client_auth_san_ip,
            tls_client_auth_san_email: s.tls_client_auth_san_email,
            dpop_bound_access_tokens: c.dpop_bound_access_tokens,
        }
    }
}

/// A merge patch of a client (RFC 7396): every field optional; `null` resets one to its
/// default. Documentation only: the patch is merged into the current client, then read as a
/// [`ClientInput`].
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ClientPatch {
    /// Display name (1–200 characters).
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// `false` disables the client.
    pub enabled: Option<bool>,
    /// Scopes `{api}:{permission}`.
    pub scopes: Option<Vec<String>>,
    /// Role names.
    pub roles: Option<Vec<String>>,
    /// IPv4/IPv6 addresses or CIDRs.
    pub allowed_ips: Option<Vec<String>>,
    /// Token lifetime, 60 … `token.max_ttl_seconds`.
    pub token_ttl_seconds: Option<u32>,
    /// Must equal the client's project if given.
    pub project: Option<String>,
    /// How it authenticates.
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// Its public JWK set.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// Where it publishes its JWK set.
    pub jwks_uri: Option<String>,
    /// The algorithm of its assertions.
    pub token_endpoint_auth_signing_alg: Option<AssertionAlg>,
    /// Its certificate's subject DN.
    pub tls_client_auth_subject_dn: Option<String>,
    /// A DNS name in its certificate.
    pub tls_client_auth_san_dns: Option<String>,
    /// A URI in its certificate.
    pub tls_client_auth_san_uri: Option<String>,
    /// An IP address in its certificate.
    pub tls_client_auth_san_ip: Option<String>,
    /// An email address in its certificate.
    pub tls_client_auth_san_email: Option<String>,
    /// Token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: Option<bool>,
}

/// Body of `POST /clients/{client_id}/transfer`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// The id of the administrator who becomes the owner.
    pub owner: String,
}

impl From<ClientInput> for ClientFields {
    fn from(i: ClientInput) -> Self {
        ClientFields {
            name: i.name,
            description: i.description,
            enabled: i.enabled,
            scopes: i.scopes,
            roles: i.roles,
            allowed_ips: i.allowed_ips,
            token_ttl_seconds: i.token_ttl_seconds,
            auth: Some(AuthFields {
                method: i.token_endpoint_auth_method,
                settings: AuthSettings {
                    jwks: i.jwks,
                    jwks_uri: i.jwks_uri,
                    token_endpoint_auth_signing_alg: i.token_endpoint_auth_signing_alg,
                    tls_client_auth_subject_dn: i.tls_client_auth_subject_dn,
                    tls_client_auth_san_dns: i.tls_client_auth_san_dns,
                    tls_client_auth_san_uri: i.tls_client_auth_san_uri,
                    tls_client_auth_san_ip: i.tls_client_auth_san_ip,
                    tls_client_auth_san_email: i.tls_client_auth_san_email,
                },
                dpop_bound_access_tokens: i.dpop_bound_access_tokens,
            }),
        }
    }
}

/// Body of `POST /clients/{client_id}/secrets`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSecretInput {
    /// When the secret stops working (RFC 3339); never if absent.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new secret, shown only in this response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedSecret {
    /// The secret's id.
    pub secret_id: String,
    /// The secret: store it now, it is never shown again.
    pub client_secret: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
}

fn view(state: &AppState, c: Client) -> ClientView {
    ClientView {
        client_id: c.client_id,
        name: c.name,
        description: c.description,
        enabled: c.enabled,
        scopes: c.scopes,
        roles: c.roles,
        allowed_ips: c.allowed_ips,
        token_ttl_seconds: c
            .token_ttl_seconds
            .unwrap_or(state.settings.token_ttl.as_secs() as u32),
        project: c.project,
        owner: c.owner_ref,
        created_at: c.created_at,
        updated_at: c.updated_at,
        last_used_at: c.last_used_at,
        token_endpoint_auth_method: c.token_endpoint_auth_method,
        auth_settings: c.auth_settings,
        dpop_bound_access_tokens: c.dpop_bound_access_tokens,
        usage: None,
    }
}

fn base(state: &AppState) -> String {
    format!("{}/admin/v1/clients", state.issuer)
}

#[utoipa::path(get, path = "/admin/v1/clients", operation_id = "list_clients", tag = "clients", params(PageQuery),
    responses((status = 200, body = Page<ClientView>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// List clients, oldest first.
pub async fn list(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AdminError> {
    let paging = query.paging()?;
    let (clients, total) = ops::clients::list(
        &Ops::of(&state),
        &admin.ctx,
        query.project.as_deref(),
        paging.offset,
        paging.limit,
    )
    .await?;
    let items = clients.into_iter().map(|c| view(&state, c)).collect();
    Ok(ok_json(&Page::new(items, total, paging, &base(&state))))
}

#[utoipa::path(post, path = "/admin/v1/clients", operation_id = "create_client", tag = "clients", request_body = ClientInput,
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 201, body = CreatedClient, headers(("Location" = String))), (status = 404, description = "No such project (or not yours)", body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Create a client owned by the caller; its first secret (for `client_secret_basic`) is in the
/// response, only there.
pub async fn create(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let mut input: ClientInput = json_body(&req, payload, false).await?;
    let project = input.project.take();
    let (client, secret) =
        ops::clients::create(&Ops::of(&state), &admin.ctx, project, input.into()).await?;
    let location = format!("{}/{}", base(&state), client.client_id);
    Ok(created(
        location,
        &CreatedClient {
            client: view(&state, client),
            client_secret: secret.map(|s| s.expose().to_owned()),
        },
    ))
}

#[utoipa::path(get, path = "/admin/v1/clients/{client_id}", operation_id = "get_client", tag = "clients",
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientView), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// One client, with its usage.
pub async fn get(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (client, tokens_issued_24h) =
        ops::clients::get(&Ops::of(&state), &admin.ctx, &path).await?;
    let mut v = view(&state, client);
    v.usage = Some(Usage {
        tokens_issued_24h,
        last_used_at: v.last_used_at,
    });
    Ok(ok_json(&v))
}

async fn apply(
    admin: &Admin,
    state: &AppState,
    client_id: &str,
    mut input: ClientInput,
) -> Result<HttpResponse, AdminError> {
    if let Some(project) = input.project.take() {
        let current = ops::clients::current(&Ops::of(state), &admin.ctx, client_id).await?;
        if project != current.project {
            return Err(AdminError::field(
                "project",
                "a client's project cannot change; create a client in the other project",
            ));
        }
    }
    let client =
        ops::clients::replace(&Ops::of(state), &admin.ctx, client_id, input.into()).await?;
    Ok(ok_json(&view(state, client)))
}

#[utoipa::path(put, path = "/admin/v1/clients/{client_id}", operation_id = "replace_client", tag = "clients", request_body = ClientInput,
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 200, body = ClientView), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Enabling a client under a disabled owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Replace a client's settable fields (omitted ones take their defaults).
pub async fn replace(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: ClientInput = json_body(&req, payload, false).await?;
    apply(&admin, &state, &path, input).await
}

#[utoipa::path(patch, path = "/admin/v1/clients/{client_id}", operation_id = "patch_client", tag = "clients",
    request_body(content = ClientPatch, content_type = "application/merge-patch+json", description = "RFC 7396 merge patch of the settable fields"),
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 200, body = ClientView), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Enabling a client under a disabled owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Change some fields (RFC 7396 JSON merge patch); `"enabled": false` disables the client.
pub async fn patch(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let patch: serde_json::Value = json_body(&req, payload, true).await?;
    if !patch.is_object() {
        return Err(AdminError::field(
            "body",
            "a merge patch must be a JSON object",
        ));
    }
    // A merge patch may only name fields of a client, even to remove them (`null`).
    if let Some(unknown) = patch.as_object().and_then(|o| {
        o.keys()
            .find(|k| !CLIENT_INPUT_FIELDS.contains(&k.as_str()))
    }) {
        return Err(AdminError::field(unknown, "unknown field"));
    }
    let current = ops::clients::current(&Ops::of(&state), &admin.ctx, &path).await?;
    let mut doc =
        serde_json::to_value(ClientInput::of(current)).map_err(|_| AdminError::Internal)?;
    json_patch::merge(&mut doc, &patch);
    let bytes = serde_json::to_vec(&doc).map_err(|_| AdminError::Internal)?;
    let input: ClientInput = parse_json(&bytes)?;
    apply(&admin, &state, &path, input).await
}

#[utoipa::path(delete, path = "/admin/v1/clients/{client_id}", operation_id = "delete_client", tag = "clients",
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 204, description = "Deleted with its secrets"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Delete a client and its secrets; its tokens stop being accepted here.
pub async fn delete(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    ops::clients::delete(&Ops::of(&state), &admin.ctx, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/admin/v1/clients/{client_id}/secrets", operation_id = "list_secrets", tag = "secrets",
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 200, body = Page<SecretInfo>), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:read"])))]
/// A client's secrets, masked.
pub async fn list_secrets(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let secrets = ops::clients::secrets(&Ops::of(&state), &admin.ctx, &path).await?;
    let base = format!("{}/{}/secrets", base(&state), path);
    Ok(ok_json(&Page::whole(secrets, &base)))
}

#[utoipa::path(post, path = "/admin/v1/clients/{client_id}/secrets", operation_id = "add_secret", tag = "secrets", request_body(content = Option<NewSecretInput>, description = "Optional; an empty body means no expiry"),
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 201, body = CreatedSecret, headers(("Location" = String))), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client already holds 10 live secrets, or authenticates without a secret", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Add a secret beside the existing ones (rotation without downtime).
pub async fn add_secret(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: NewSecretInput = super::json_body_or_default(&req, payload).await?;
    let (info, secret) =
        ops::clients::add_secret(&Ops::of(&state), &admin.ctx, &path, input.expires_at).await?;
    let location = format!("{}/{}/secrets/{}", base(&state), path, info.secret_id);
    Ok(created(location, &created_secret(info, secret)))
}

fn created_secret(info: SecretInfo, secret: crate::secret::ClientSecret) -> CreatedSecret {
    CreatedSecret {
        secret_id: info.secret_id,
        client_secret: secret.expose().to_owned(),
        created_at: info.created_at,
        expires_at: info.expires_at,
    }
}

#[utoipa::path(delete, path = "/admin/v1/clients/{client_id}/secrets/{secret_id}", operation_id = "delete_secret", tag = "secrets",
    params(("client_id" = String, Path, description = "Client id"), ("secret_id" = String, Path, description = "Secret id")),
    responses((status = 204, description = "Deleted; it stops working at once"), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Delete one secret.
pub async fn delete_secret(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AdminError> {
    let (client_id, secret_id) = path.into_inner();
    ops::clients::delete_secret(&Ops::of(&state), &admin.ctx, &client_id, &secret_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/admin/v1/clients/{client_id}/reset-secret", operation_id = "reset_secret", tag = "secrets",
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 200, body = CreatedSecret), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client authenticates without a secret", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Replace every secret with a new one; the old ones stop working at once.
pub async fn reset_secret(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let (info, secret) = ops::clients::reset_secret(&Ops::of(&state), &admin.ctx, &path).await?;
    Ok(ok_json(&created_secret(info, secret)))
}

use super::Problem;

#[utoipa::path(post, path = "/admin/v1/clients/{client_id}/transfer", operation_id = "transfer_client", tag = "clients", request_body = TransferInput,
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"), (status = 200, body = ClientView), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A root client has no owner to transfer", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Make another administrator of the client's project its owner (audited); a client disabled
/// because its owner left can then be re-enabled.
pub async fn transfer(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: TransferInput = json_body(&req, payload, false).await?;
    let client = ops::people::transfer(&Ops::of(&state), &admin.ctx, &path, &input.owner).await?;
    Ok(ok_json(&view(&state, client)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_merge_patch_field_list_is_every_field_of_client_input() {
        let every = ClientInput {
            name: "n".into(),
            description: String::new(),
            enabled: true,
            scopes: vec![],
            roles: vec![],
            allowed_ips: vec![],
            token_ttl_seconds: Some(60),
            project: Some("p".into()),
            token_endpoint_auth_method: TokenEndpointAuthMethod::default(),
            jwks: Some(serde_json::json!({})),
            jwks_uri: Some(String::new()),
            token_endpoint_auth_signing_alg: Some(AssertionAlg::ES256),
            tls_client_auth_subject_dn: Some(String::new()),
            tls_client_auth_san_dns: Some(String::new()),
            tls_client_auth_san_uri: Some(String::new()),
            tls_client_auth_san_ip: Some(String::new()),
            tls_client_auth_san_email: Some(String::new()),
            dpop_bound_access_tokens: false,
        };
        let value = serde_json::to_value(every).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut listed = CLIENT_INPUT_FIELDS.to_vec();
        keys.sort_unstable();
        listed.sort_unstable();
        assert_eq!(keys, listed);
    }
}
