//! OAuth 2.0 endpoints: token, introspection, revocation, discovery and JWKS.

pub mod authenticate;
pub mod brute_force;
pub mod discovery;
pub mod dpop;
mod error;
mod flow;
mod grant;
pub mod introspect;
pub(crate) mod request;
pub mod revoke;
pub mod verify;

pub use error::{TokenError, no_store};
pub use flow::issue_token;
pub use grant::{Confirmation, Grant, IssuedAccessToken, negotiate, sign_access_token};
pub use request::{ClientCredential, SecretPlacement, TokenReference, TokenRequest};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::state::AppState;

/// Token, introspection and revocation bodies are small forms.
pub const TOKEN_BODY_LIMIT: usize = 16 * 1024;

/// The token response (RFC 6749 §5.1), written straight into a buffer of the right size: the
/// access token is a compact JWS (base64url and dots) with nothing to escape, so only the
/// scope goes through serde_json. Generic serialisation escaped the token byte by byte into
/// a buffer that grew three times.
fn token_response_body(issued: &IssuedAccessToken) -> Vec<u8> {
    debug_assert!(
        issued
            .access_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    );
    let mut body = Vec::with_capacity(issued.access_token.len() + issued.scope.len() + 96);
    body.extend_from_slice(br#"{"access_token":""#);
    body.extend_from_slice(issued.access_token.as_bytes());
    body.extend_from_slice(br#"","token_type":""#);
    body.extend_from_slice(issued.token_type.as_bytes());
    body.extend_from_slice(br#"","expires_in":"#);
    body.extend_from_slice(itoa::Buffer::new().format(issued.expires_in).as_bytes());
    body.extend_from_slice(br#","scope":"#);
    // Writing a `&str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut body, &issued.scope);
    body.push(b'}');
    body
}

/// `POST /oauth2/token`: the client-credentials grant.
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, TokenError> {
    let result = token_response(&state, &req, payload).await;
    let outcome = match &result {
        Ok(_) => "issued",
        Err(e) => e.code(),
    };
    state.metrics.token_request(outcome);
    result
}

async fn token_response(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, TokenError> {
    let body = read_body(req, payload, TOKEN_BODY_LIMIT).await?;
    let headers = req.headers();
    let mut request = TokenRequest::parse(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        headers.get_all(header::AUTHORIZATION).map(|v| v.as_bytes()),
        &body,
    )?;
    request.source = request::source_address(
        req.peer_addr().map(|a| a.ip()),
        headers.get_all("x-forwarded-for").map(|v| v.as_bytes()),
        &state.settings.trusted_proxies,
    );
    request.certificate = authenticate::certificate::of_request(state, req);
    // Before the client authenticates: a proof sent back for a nonce must not have consumed
    // the client's assertion (SPEC §9).
    // Boxed, and only with a proof: its future is large, and requests without one (most) would
    // otherwise carry and copy it.
    request.dpop_jkt = if headers.contains_key(&dpop::DPOP) {
        Box::pin(dpop::token_request_proof(state, headers)).await?
    } else {
        None
    };
    let with_proof = request.dpop_jkt.is_some();
    let issued = issue_token(state, request).await?;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    if with_proof && let Some(nonce) = dpop::response_nonce(state) {
        // RFC 9449 §8.2: the next proof can use it without a round trip.
        response.insert_header((dpop::DPOP_NONCE, nonce));
    }
    Ok(response
        .content_type(header::HeaderValue::from_static("application/json"))
        .body(token_response_body(&issued)))
}

/// Reads at most `limit` bytes of body within `server.body_timeout_seconds`; more is `413`
/// before the rest is read, slower is `408`.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, TokenError> {
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(std::time::Duration::from_secs(10), |s| {
            s.settings.body_timeout
        });
    tokio::time::timeout(timeout, read_body_within_limit(req, payload, limit))
        .await
        .map_err(|_| TokenError::BodyTimeout(timeout.as_secs()))?
}

async fn read_body_within_limit(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, TokenError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(TokenError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(256).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| TokenError::invalid_request("the request body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(TokenError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `405` for other methods on OAuth endpoints, in the RFC 6749 error shape.
pub async fn method_not_allowed() -> HttpResponse {
    let mut response = HttpResponse::MethodNotAllowed();
    no_store(&mut response);
    response
        .insert_header((header::ALLOW, "POST"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": "use POST",
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_response_is_the_json_object_of_rfc_6749() {
        let issued = IssuedAccessToken {
            access_token: "eyJh.eyJz-_.c2ln".into(),
            token_type: "DPoP",
            expires_in: 900,
            scope: "orders:read a\"b".into(),
        };
        let body: serde_json::Value =
            serde_json::from_slice(&token_response_body(&issued)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "access_token": "eyJh.eyJz-_.c2ln",
                "token_type": "DPoP",
                "expires_in": 900,
                "scope": "orders:read a\"b",
            })
        );
    }
}
