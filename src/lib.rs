//! Tessera: an OAuth 2.0 client-credentials authorization server issuing RFC 9068 JWTs.

pub mod admin;
pub mod cli;
pub mod config;
pub mod console;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod oauth;
pub mod ops;
pub mod secret;
pub mod server;
pub mod signin;
pub mod state;
pub mod store;
pub mod tls;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A strong HTTP validator for a response body: a quoted, truncated SHA-256.
pub fn strong_etag(body: &[u8]) -> String {
    format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(&Sha256::digest(body)[..16])
    )
}

/// A document served as it is, many times a second (the JWKS, the metadata): every response
/// shares its body and its ETag instead of copying them.
pub struct CachedDocument {
    pub body: actix_web::web::Bytes,
    /// Strong validator for conditional requests ([`strong_etag`]).
    pub etag: actix_web::http::header::HeaderValue,
}

impl CachedDocument {
    pub fn new(body: Vec<u8>) -> Self {
        let etag = actix_web::http::header::HeaderValue::from_maybe_shared(
            actix_web::web::Bytes::from(strong_etag(&body)),
        )
        // Quotes around base64url: always a valid header value.
        .unwrap_or_else(|_| actix_web::http::header::HeaderValue::from_static("\"\""));
        CachedDocument {
            body: body.into(),
            etag,
        }
    }
}
