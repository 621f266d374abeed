//! `POST /oauth2/introspect` (RFC 7662): any enabled client asks whether a token is active.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::authenticate::{AuthContext, authenticate};
use super::request::TokenReference;
use super::verify::{TokenCheckError, VerifiedToken, check_active};
use super::{TOKEN_BODY_LIMIT, TokenError, no_store, read_body, request};
use crate::state::AppState;

/// The introspection answer: `{"active": false}` alone, or the token's claims.
#[derive(Debug, Serialize)]
pub struct Introspection {
    active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    claims: Option<ActiveClaims>,
}

#[derive(Debug, Serialize)]
struct ActiveClaims {
    scope: String,
    client_id: String,
    token_type: &'static str,
    exp: i64,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    sub: String,
    aud: serde_json::Value,
    iss: String,
    jti: String,
    /// What a bound token is bound to (RFC 7800; RFC 9449 §6.2, RFC 8705 §3.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<super::Confirmation>,
}

impl Introspection {
    /// The answer for every token that is not active, whatever the reason (RFC 7662 §2.2).
    pub fn inactive() -> Self {
        Introspection {
            active: false,
            claims: None,
        }
    }

    fn active(token: VerifiedToken, issuer: &str) -> Self {
        // `aud` keeps the token's own shape: a string for one audience, else an array.
        let aud = match token.audiences.as_slice() {
            [one] => serde_json::Value::from(one.as_str()),
            many => serde_json::Value::from(many.to_vec()),
        };
        Introspection {
            active: true,
            claims: Some(ActiveClaims {
                scope: token.scopes.join(" "),
                sub: token.client_id.clone(),
                token_type: token.token_type(),
                client_id: token.client_id,
                exp: token.exp,
                iat: token.iat,
                nbf: token.nbf,
                aud,
                iss: issuer.to_owned(),
                jti: token.jti,
                cnf: token.cnf,
            }),
        }
    }

    /// Whether the token was active.
    pub fn is_active(&self) -> bool {
        self.active
    }
}

/// What introspection reports about `token`.
pub async fn introspect_token(state: &AppState, token: &str) -> Result<Introspection, TokenError> {
    match check_active(state, token, chrono::Utc::now()).await {
        Ok(verified) => Ok(Introspection::active(verified, &state.issuer)),
        Err(TokenCheckError::Inactive(_)) => Ok(Introspection::inactive()),
        Err(TokenCheckError::Store(e)) if e.is_unavailable() => {
            Err(TokenError::TemporarilyUnavailable)
        }
        Err(TokenCheckError::Store(e)) => {
            tracing::error!(error = %e, "introspection could not load the client");
            Err(TokenError::ServerError)
        }
    }
}

/// Parses a request about a token and authenticates its caller; shared with revocation.
pub(crate) async fn authenticated_reference(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(TokenReference, String), TokenError> {
    let body = read_body(req, payload, TOKEN_BODY_LIMIT).await?;
    let headers = req.headers();
    let mut reference = TokenReference::parse(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        headers.get_all(header::AUTHORIZATION).map(|v| v.as_bytes()),
        &body,
    )?;
    reference.source = request::source_address(
        req.peer_addr().map(|a| a.ip()),
        headers.get_all("x-forwarded-for").map(|v| v.as_bytes()),
        &state.settings.trusted_proxies,
    );
    reference.certificate = super::authenticate::certificate::of_request(state, req);
    let ctx = AuthContext {
        source: reference.source,
        certificate: reference.certificate.as_ref(),
    };
    let caller = authenticate(state, &reference.credentials, ctx).await?;
    let caller_id = caller.client.client_id.clone();
    Ok((reference, caller_id))
}

/// `POST /oauth2/introspect`.
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, TokenError> {
    let (reference, _caller) = authenticated_reference(&state, &req, payload).await?;
    let answer = introspect_token(&state, &reference.token).await?;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.json(answer))
}
