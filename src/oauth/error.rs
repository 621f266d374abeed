//! Token-endpoint errors (RFC 6749 §5.2) and their one mapping to HTTP.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// A refusal at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Malformed request: bad body, repeated or missing parameter, wrong content type.
    #[error("{0}")]
    InvalidRequest(String),
    /// The body did not arrive in time (a slow client, or slowloris).
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// The body exceeded the limit.
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// Authentication failed, for any reason; `challenge` adds `WWW-Authenticate: Basic`.
    #[error("client authentication failed")]
    InvalidClient {
        /// Whether the client tried (or should try) HTTP Basic.
        challenge: bool,
    },
    /// The client may not use this grant from here.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// Only `client_credentials` is supported.
    #[error("only grant_type=client_credentials is supported")]
    UnsupportedGrantType,
    /// A requested scope is unknown, malformed or not granted.
    #[error("{0}")]
    InvalidScope(String),
    /// A `resource` is unknown or carries no granted scope.
    #[error("{0}")]
    InvalidTarget(String),
    /// A missing, malformed or wrong DPoP proof (RFC 9449 §5), or a DPoP-bound client without
    /// one.
    #[error("{0}")]
    InvalidDpopProof(String),
    /// The DPoP proof lacks a current server nonce (RFC 9449 §8); `nonce` is the one to use,
    /// sent as `DPoP-Nonce`.
    #[error("the DPoP proof must carry the nonce given in the DPoP-Nonce header")]
    UseDpopNonce {
        /// A fresh server nonce.
        nonce: String,
    },
    /// Too many failed authentications for this client id or from this address.
    #[error("too many failed authentications; retry after {0} s")]
    TooManyFailures(u64),
    /// Secret verification is saturated; retry shortly.
    #[error("the server is busy; retry shortly")]
    TemporarilyUnavailable,
    /// Something on our side failed.
    #[error("the server could not issue a token")]
    ServerError,
}

impl TokenError {
    /// Shorthand for [`TokenError::InvalidRequest`].
    pub fn invalid_request(msg: impl Into<String>) -> Self {
        TokenError::InvalidRequest(msg.into())
    }

    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_)
            | TokenError::PayloadTooLarge(_)
            | TokenError::BodyTimeout(_) => "invalid_request",
            TokenError::InvalidClient { .. } => "invalid_client",
            TokenError::UnauthorizedClient(_) => "unauthorized_client",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::InvalidScope(_) => "invalid_scope",
            TokenError::InvalidTarget(_) => "invalid_target",
            TokenError::InvalidDpopProof(_) => "invalid_dpop_proof",
            TokenError::UseDpopNonce { .. } => "use_dpop_nonce",
            TokenError::TemporarilyUnavailable | TokenError::TooManyFailures(_) => {
                "temporarily_unavailable"
            }
            TokenError::ServerError => "server_error",
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    error_description: &'a str,
}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        match self {
            TokenError::InvalidClient { .. } => StatusCode::UNAUTHORIZED,
            TokenError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            TokenError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            TokenError::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            TokenError::TooManyFailures(_) => StatusCode::TOO_MANY_REQUESTS,
            TokenError::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = self.to_string();
        let mut response = HttpResponse::build(self.status_code());
        no_store(&mut response);
        match self {
            TokenError::InvalidClient { challenge: true } => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"tessera\""),
                ));
            }
            TokenError::TemporarilyUnavailable => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
            }
            TokenError::TooManyFailures(seconds) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from(*seconds)));
            }
            TokenError::UseDpopNonce { nonce } => {
                if let Ok(value) = HeaderValue::from_str(nonce) {
                    response.insert_header((super::dpop::DPOP_NONCE, value));
                }
            }
            _ => {}
        }
        response.json(ErrorBody {
            error: self.code(),
            error_description: &description,
        })
    }
}

/// Marks a response as not cacheable (RFC 6749 §5.1).
pub fn no_store(response: &mut actix_web::HttpResponseBuilder) {
    response
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
}
