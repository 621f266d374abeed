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
