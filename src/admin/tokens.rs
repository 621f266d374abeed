//! Revoking access tokens as an administrator: one token, or every token of a client.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Admin, AdminError, Problem, json_body, ok_json};
use crate::oauth::revoke::Revocation;
use crate::ops::{self, Ops};
use crate::state::AppState;

/// Body of `POST /tokens/revoke`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenInput {
    /// The access token to revoke.
    #[schema(value_type = String)]
    pub token: Zeroizing<String>,
}

#[utoipa::path(post, path = "/admin/v1/tokens/revoke", operation_id = "revoke_token", tag = "tokens",
    request_body = RevokeTokenInput,
    responses((status = 204, description = "Revoked (or already revoked): introspection reports it inactive on every replica"),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Wrong Content-Type", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid, unexpired token of this server", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Revoke one access token of any client until it expires.
pub async fn revoke_token(
    admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AdminError> {
    let input: RevokeTokenInput = json_body(&req, payload, false).await?;
    match ops::tokens::revoke(&Ops::of(&state), &admin.ctx, &input.token).await? {
        Revocation::Revoked | Revocation::AlreadyRevoked => Ok(HttpResponse::NoContent().finish()),
        Revocation::NotAToken => Err(AdminError::field(
            "token",
            "not a valid, unexpired access token of this server",
        )),
    }
}

/// Answer of `POST /clients/{client_id}/revoke-tokens`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientTokensRevoked {
    /// The client.
    pub client_id: String,
    /// Every token issued to it at or before this time is revoked.
    pub revoked_before: DateTime<Utc>,
}

#[utoipa::path(post, path = "/admin/v1/clients/{client_id}/revoke-tokens", operation_id = "revoke_client_tokens", tag = "tokens",
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientTokensRevoked), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["admin:write"])))]
/// Revoke every token issued to a client so far; its secrets keep working for new tokens.
pub async fn revoke_client_tokens(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let revoked_before = ops::clients::revoke_tokens(&Ops::of(&state), &admin.ctx, &path).await?;
    Ok(ok_json(&ClientTokensRevoked {
        client_id: path.into_inner(),
        revoked_before,
    }))
}
