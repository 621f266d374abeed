//! What a token grants (scope negotiation, RFC 8707 narrowing) and the signed RFC 9068 JWT.

use serde::Serialize;

use super::TokenError;
use crate::keys::SigningKeyRing;
use crate::store::TokenClient;

/// The outcome of scope negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Granted scopes, sorted, space-separated.
    pub scope: String,
    /// Distinct audiences of the granted scopes' APIs, sorted.
    pub audiences: Vec<String>,
}

/// Decides the scopes and audiences of a token for `client`.
///
/// - `resources` (RFC 8707) must each be the audience of an API the client holds a scope on;
///   they narrow the candidates to those APIs.
/// - No `requested` scope means every candidate; otherwise each must be a candidate.
pub fn negotiate<'r>(
    client: &TokenClient,
    requested: Option<impl Iterator<Item = &'r str>>,
    resources: &[String],
) -> Result<Grant, TokenError> {
    for resource in resources {
        if !client.scopes.iter().any(|s| &s.audience == resource) {
            return Err(TokenError::InvalidTarget(format!(
                "resource {resource:?} is not an API this client holds a scope on"
            )));
        }
    }
    let in_resources = |aud: &str| resources.is_empty() || resources.iter().any(|r| r == aud);
    let mut chosen: Vec<&crate::store::GrantedScope> = match requested {
        None => client
            .scopes
            .iter()
            .filter(|s| in_resources(&s.audience))
            .collect(),
        Some(requested) => {
            let mut chosen = Vec::new();
            for want in requested {
                let granted = client
                    .scopes
                    .iter()
                    .find(|s| s.scope == want)
                    .filter(|s| in_resources(&s.audience))
                    .ok_or_else(|| {
                        TokenError::InvalidScope(format!(
                            "scope {want:?} is not granted to this client{}",
                            if resources.is_empty() {
                                ""
                            } else {
                                " for the requested resource"
                            }
                        ))
                    })?;
                chosen.push(granted);
            }
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(TokenError::InvalidScope(
            "this client holds no scope to grant".into(),
        ));
    }
    chosen.sort_by(|a, b| a.scope.cmp(&b.scope));
    chosen.dedup_by(|a, b| a.scope == b.scope);
    let mut audiences: Vec<String> = chosen.iter().map(|s| s.audience.clone()).collect();
    audiences.sort();
    audiences.dedup();
    let mut scope = String::with_capacity(chosen.iter().map(|s| s.scope.len() + 1).sum());
    for s in &chosen {
        if !scope.is_empty() {
            scope.push(' ');
        }
        scope.push_str(&s.scope);
    }
    Ok(Grant { scope, audiences })
}

/// What a token is bound to (RFC 7800 `cnf`): a DPoP key's RFC 7638 thumbprint (RFC 9449
/// §6), a client certificate's SHA-256 thumbprint (RFC 8705 §3.1), or both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Confirmation {
    /// `jkt`: base64url SHA-256 thumbprint of the DPoP public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// `x5t#S256`: base64url SHA-256 of the DER certificate.
    #[serde(default, rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

/// An issued access token and what the response says about it.
#[derive(Debug)]
pub struct IssuedAccessToken {
    /// The compact JWS.
    pub access_token: String,
    /// `DPoP` for a DPoP-bound token, else `Bearer`.
    pub token_type: &'static str,
    /// Lifetime in seconds.
    pub expires_in: u32,
    /// Granted scopes.
    pub scope: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// RFC 9068 claims; times are integers (NumericDate), which josekit's setters would not give.
#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    client_id: &'a str,
    scope: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
}

/// Bytes of issue time (unix milliseconds, big-endian) at the head of a token id.
const JTI_TIME_BYTES: usize = 6;

/// A unique token id: the issue time in milliseconds, then 128 random bits. The time lets a
/// cutoff (a disable, a revoke-all) separate tokens issued within the same second as it,
/// which `iat` (whole seconds) cannot.
fn token_id(now: chrono::DateTime<chrono::Utc>) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; JTI_TIME_BYTES + 16];
    let ms = now.timestamp_millis().to_be_bytes();
    bytes[..JTI_TIME_BYTES].copy_from_slice(&ms[8 - JTI_TIME_BYTES..]);
    rand::rng().fill_bytes(&mut bytes[JTI_TIME_BYTES..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// When a token of ours was issued, in unix milliseconds: from its `jti`, or, for ids of the
/// older form, the start of its `iat` second (so a cutoff in that second covers it).
pub fn issued_at_ms(jti: &str, iat: i64) -> i64 {
    use base64::Engine;
    let mut bytes = [0u8; JTI_TIME_BYTES + 16];
    match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode_slice(jti, &mut bytes) {
        Ok(n) if n == bytes.len() => {
            let mut ms = [0u8; 8];
            ms[8 - JTI_TIME_BYTES..].copy_from_slice(&bytes[..JTI_TIME_BYTES]);
            i64::from_be_bytes(ms)
        }
        _ => iat.saturating_mul(1000),
    }
}

/// Signs an access token for `client_id` with the key that signs at `now`; the grant's scope
/// moves into the answer.
pub fn sign_access_token(
    ring: &SigningKeyRing,
    issuer: &str,
    client_id: &str,
    grant: Grant,
    cnf: Option<&Confirmation>,
    ttl_seconds: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<IssuedAccessToken, TokenError> {
    let key = ring.signer_at(now).ok_or_else(|| {
        tracing::error!("no signing key is active");
        TokenError::ServerError
    })?;
    let jti = token_id(now);
    let aud = match grant.audiences.as_slice() {
        [one] => Audience::One(one),
        many => Audience::Many(many),
    };
    let claims = AccessTokenClaims {
        iss: issuer,
        sub: client_id,
        aud,
        client_id,
        scope: &grant.scope,
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp: now.timestamp() + i64::from(ttl_seconds),
        jti: &jti,
        cnf,
    };
    let claims = serde_json::to_vec(&claims).map_err(|_| TokenError::ServerError)?;
    let access_token = key.sign(&claims).map_err(|e| {
        tracing::error!(error = %e, kid = %key.kid, "signing failed");
        TokenError::ServerError
    })?;
    Ok(IssuedAccessToken {
        access_token,
        token_type: if cnf.is_some_and(|c| c.jkt.is_some()) {
            "DPoP"
        } else {
            "Bearer"
        },
        expires_in: ttl_seconds,
        scope: grant.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::GrantedScope;

    fn client() -> TokenClient {
        let g = |scope: &str, audience: &str| GrantedScope {
            scope: scope.into(),
            audience: audience.into(),
        };
        TokenClient {
            client_id: "c".into(),
            enabled: true,
            root: true,
            project: "default".into(),
            tokens_valid_after_ms: None,
            token_ttl_seconds: None,
            allowed_ips: vec![],
            scopes: vec![
                g("audit:read", "https://audit"),
                g("orders:read", "https://orders"),
                g("orders:write", "https://orders"),
            ],
            secrets: vec![],
            authentication: Default::default(),
            dpop_bound: false,
        }
    }

    fn none() -> Option<std::str::Split<'static, char>> {
        None
    }

    #[test]
    fn token_ids_carry_their_issue_time_in_milliseconds() {
        let now = chrono::DateTime::from_timestamp_millis(1_795_345_173_456).unwrap();
        let jti = token_id(now);
        assert_eq!(issued_at_ms(&jti, 1), 1_795_345_173_456);
        assert_ne!(jti, token_id(now), "ids are unique");
        // Ids of the older form (16 random bytes) fall back to the start of the iat second.
        assert_eq!(
            issued_at_ms("AAAAAAAAAAAAAAAAAAAAAA", 1_795_345_173),
            1_795_345_173_000
        );
    }

    #[test]
    fn no_scope_means_everything_granted() {
        let g = negotiate(&client(), none(), &[]).unwrap();
        assert_eq!(g.scope, "audit:read orders:read orders:write");
        assert_eq!(g.audiences, ["https://audit", "https://orders"]);
    }

    #[test]
    fn resource_narrows_scopes_and_audience() {
        let g = negotiate(&client(), none(), &["https://orders".into()]).unwrap();
        assert_eq!(g.scope, "orders:read orders:write");
        assert_eq!(g.audiences, ["https://orders"]);
        let err = negotiate(
            &client(),
            Some("audit:read".split(' ')),
            &["https://orders".into()],
        );
        assert_eq!(err.unwrap_err().code(), "invalid_scope");
        let err = negotiate(&client(), none(), &["https://unknown".into()]);
        assert_eq!(err.unwrap_err().code(), "invalid_target");
    }

    #[test]
    fn requested_scopes_must_be_granted() {
        let g = negotiate(&client(), Some("orders:read orders:read".split(' ')), &[]).unwrap();
        assert_eq!(g.scope, "orders:read");
        let err = negotiate(&client(), Some("admin:write".split(' ')), &[]).unwrap_err();
        assert_eq!(err.code(), "invalid_scope");
    }
}
