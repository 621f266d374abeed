//! Verifying access tokens this server issued (admin API, introspection, revocation).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::keys::SigningKeyRing;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 30;

/// The claims of a verified token that callers use.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// `client_id` (= `sub`).
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Audiences.
    pub audiences: Vec<String>,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issue time (unix seconds).
    pub iat: i64,
    /// Not-before time (unix seconds), if the token has one.
    pub nbf: Option<i64>,
    /// Token id.
    pub jti: String,
    /// What the token is bound to (a DPoP key, a certificate), if anything.
    pub cnf: Option<super::Confirmation>,
}

impl VerifiedToken {
    /// `DPoP` for a token bound to a DPoP key, else `Bearer`.
    pub fn token_type(&self) -> &'static str {
        if self.cnf.as_ref().is_some_and(|c| c.jkt.is_some()) {
            "DPoP"
        } else {
            "Bearer"
        }
    }

    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Aud {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    client_id: String,
    aud: Aud,
    #[serde(default)]
    scope: String,
    exp: i64,
    #[serde(default)]
    iat: i64,
    nbf: Option<i64>,
    #[serde(default)]
    jti: String,
    cnf: Option<super::Confirmation>,
}

/// Why a token was refused; deliberately without detail for the caller.
#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(pub &'static str);

/// The reason given for a `kid` this process does not publish.
pub const UNKNOWN_KEY: &str = "unknown key";

/// Verifies signature (against a published key), `typ`, `iss`, `exp` and `nbf`.
pub fn verify_access_token(
    ring: &SigningKeyRing,
    issuer: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<VerifiedToken, InvalidToken> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(InvalidToken("not a compact JWS"));
    };
    let decode = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| InvalidToken("bad base64url"))
    };
    let header: Header =
        serde_json::from_slice(&decode(h)?).map_err(|_| InvalidToken("bad header"))?;
    if !header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Err(InvalidToken("typ is not at+jwt"));
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| ring.key(kid))
        .ok_or(InvalidToken(UNKNOWN_KEY))?;
    if header.alg != key.algorithm.as_str() {
        return Err(InvalidToken("algorithm mismatch"));
    }
    let signed_len = h.len() + 1 + p.len();
    if !key.verify(&token.as_bytes()[..signed_len], &decode(sig)?) {
        return Err(InvalidToken("bad signature"));
    }
    let claims: Claims =
        serde_json::from_slice(&decode(p)?).map_err(|_| InvalidToken("bad claims"))?;
    if claims.iss != issuer {
        return Err(InvalidToken("wrong issuer"));
    }
    let now = now.timestamp();
    if claims.exp.saturating_add(LEEWAY_SECONDS) <= now {
        return Err(InvalidToken("expired"));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf.saturating_sub(LEEWAY_SECONDS) > now)
    {
        return Err(InvalidToken("not yet valid"));
    }
    Ok(VerifiedToken {
        client_id: claims.client_id,
        scopes: claims
            .scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        audiences: match claims.aud {
            Aud::One(a) => vec![a],
            Aud::Many(a) => a,
        },
        exp: claims.exp,
        iat: claims.iat,
        nbf: claims.nbf,
        jti: claims.jti,
        cnf: claims.cnf,
    })
}

/// Why a well-formed request about a token found it not active.
#[derive(Debug, thiserror::Error)]
pub enum TokenCheckError {
    /// Not a valid, unexpired token of this server, or revoked, or its client is disabled or
    /// gone; the reason is for logs only.
    #[error("inactive token: {0}")]
    Inactive(&'static str),
    /// The client could not be loaded.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A token is active when it verifies, has not been revoked, and its client still exists and
/// is enabled (a token outlives changes to its client).
pub async fn check_active(
    state: &crate::state::AppState,
    token: &str,
    now: DateTime<Utc>,
) -> Result<VerifiedToken, TokenCheckError> {
    Ok(check_active_with_client(state, token, now).await?.0)
}

/// [`check_active`], also returning the token's client as the server knows it now.
pub async fn check_active_with_client(
    state: &crate::state::AppState,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(VerifiedToken, std::sync::Arc<crate::store::TokenClient>), TokenCheckError> {
    let verified = verify_access_token(&state.keys.load(), &state.issuer, token, now)
        .map_err(|e| TokenCheckError::Inactive(e.0))?;
    // The skew leeway is for other verifiers' clocks; we issued it, so expiry is exact here.
    if verified.exp <= now.timestamp() {
        return Err(TokenCheckError::Inactive("expired"));
    }
    if state
        .revocations
        .load()
        .is_revoked(&verified.client_id, &verified.jti, verified.iat)
    {
        return Err(TokenCheckError::Inactive("revoked"));
    }
    let client = active_client(state, &verified).await?;
    Ok((verified, client))
}

/// The client of a verified token, if the token is still in force for it: the client exists,
/// is effective (it and its owners enabled), and no cutoff (a disable, a revoke-all) came
/// after the token was issued.
async fn active_client(
    state: &crate::state::AppState,
    verified: &VerifiedToken,
) -> Result<std::sync::Arc<crate::store::TokenClient>, TokenCheckError> {
    match state.clients.get(&verified.client_id).await? {
        Some(client) if !client.enabled => Err(TokenCheckError::Inactive("client disabled")),
        Some(client)
            if client.revoked_at_issue(super::grant::issued_at_ms(&verified.jti, verified.iat)) =>
        {
            Err(TokenCheckError::Inactive("issued before a cutoff"))
        }
        Some(client) => Ok(client),
        None => Err(TokenCheckError::Inactive("client deleted")),
    }
}
