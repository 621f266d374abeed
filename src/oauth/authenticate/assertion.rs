//! `private_key_jwt` (RFC 7523 §2.2, SPEC §9): a JWT signed by one of the client's keys.
//!
//! The order keeps replay impossible and errors uniform: find the client (the payload is read
//! unverified for its id only), stop if it is locked out, verify the signature with josekit,
//! check every claim, and only then record the `jti`, once across replicas. Every failure is
//! the same `invalid_client`; the reason goes to the log, never the assertion.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::JwsVerifier;
use josekit::jwt::JwtPayload;
use serde_json::Value;

use super::{
    AuthContext, AuthenticatedBy, AuthenticatedClient, accept, locked_out_here, refuse,
    registered_with, unavailable,
};
use crate::oauth::TokenError;
use crate::state::AppState;
use crate::store::client_auth::{
    AssertionAlg, ClientAuthentication, ClientKeys, KeyVerifiers, PublicJwkSet,
};
use crate::store::jtis::{self, JtiIssuer};

/// How far `iat` and `nbf` may lie in the future (clock skew).
const SKEW_SECONDS: i64 = 60;
/// The longest `jti` recorded.
const MAX_JTI_LEN: usize = 255;

/// Why an assertion was refused: logged, never shown (the client sees `invalid_client`).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("no client id in the request or the assertion")]
    NoClientId,
    #[error("unknown or disabled client, or not a private_key_jwt client")]
    NotRegistered,
    #[error("the JWT header is malformed")]
    Header,
    #[error("alg is not the client's registered token_endpoint_auth_signing_alg")]
    Alg,
    #[error("the JWK set could not be had: {0}")]
    Keys(#[from] super::jwks_uri::FetchError),
    #[error("no kid, and the client's JWK set has several keys")]
    KidNeeded,
    #[error("kid names no key of the client's JWK set")]
    UnknownKid,
    #[error("the key cannot verify the registered algorithm")]
    UnusableKey,
    #[error("the signature does not verify")]
    Signature,
    #[error("iss and sub must both be the client id")]
    Subject,
    #[error("aud must be the issuer, alone")]
    Audience,
    #[error("exp is missing, or has passed")]
    Expired,
    #[error("exp lies more than token.max_assertion_lifetime_seconds after iat (or now)")]
    TooLong,
    #[error("iat or nbf lies in the future")]
    NotYetValid,
    #[error("exp, iat or nbf is not a number")]
    NotADate,
    #[error("jti is missing or longer than {MAX_JTI_LEN} characters")]
    Jti,
    #[error("jti was used before (replay)")]
    Replayed,
}

/// Verifies a client assertion and records its `jti`.
pub(super) async fn authenticate(
    state: &AppState,
    client_id: Option<&str>,
    assertion: &str,
    ctx: AuthContext<'_>,
) -> Result<AuthenticatedClient, TokenError> {
    let Some(id) = client_id
        .map(str::to_owned)
        .or_else(|| unverified_client_id(assertion))
    else {
        return Err(refused(state, "", ctx, Refusal::NoClientId).await);
    };
    // Locked out first, as on the secret path: a locked-out id answers 429 whether or not it
    // names a private_key_jwt client, so the answer says nothing about which ids do.
    if let Some(locked) = locked_out_here(state, &id) {
        return Err(locked);
    }
    let Some(client) = registered_with(state, &id, |a| {
        matches!(a, ClientAuthentication::PrivateKeyJwt { .. })
    })
    .await?
    else {
        return Err(refused(state, &id, ctx, Refusal::NotRegistered).await);
    };
    let ClientAuthentication::PrivateKeyJwt { keys, alg } = &client.authentication else {
        return Err(refused(state, &id, ctx, Refusal::NotRegistered).await);
    };
    let now = chrono::Utc::now().timestamp();
    let checked = match verify(state, keys, *alg, assertion).await {
        Ok(payload) => check_claims(state, &payload, &id, now),
        Err(why) => Err(why),
    };
    let (jti, exp) = match checked {
        Ok(once) => once,
        Err(why) => return Err(refused(state, &id, ctx, why).await),
    };
    // Last, so that no assertion failing another check uses up its jti.
    match jtis::record_once(&state.db, JtiIssuer::Client(&id), &jti, exp).await {
        Ok(true) => accept(state, client, AuthenticatedBy::Assertion, ctx.source),
        Ok(false) => Err(refused(state, &id, ctx, Refusal::Replayed).await),
        Err(e) => Err(unavailable(e)),
    }
}

async fn refused(state: &AppState, id: &str, ctx: AuthContext<'_>, why: Refusal) -> TokenError {
    tracing::info!(
        client_id = crate::secret::loggable_id(id),
        reason = %why,
        "client assertion refused"
    );
    if let Refusal::Keys(_) = why {
        // The client's own JWK set host is down: not a guess at its credentials, so it does
        // not count towards locking the client out (it would stay locked after the host is back).
        return TokenError::InvalidClient { challenge: false };
    }
    refuse(state, id, ctx.source, false).await
}

/// The client an assertion claims to come from (`sub`, else `iss`), read without verifying:
/// only to find its keys.
fn unverified_client_id(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    ["sub", "iss"]
        .iter()
        .find_map(|c| claims.get(*c)?.as_str().map(str::to_owned))
}

/// Checks the header and the signature (josekit) against the client's keys; returns the
/// payload.
async fn verify(
    state: &AppState,
    keys: &ClientKeys,
    alg: AssertionAlg,
    assertion: &str,
) -> Result<JwtPayload, Refusal> {
    let header = josekit::jwt::decode_header(assertion).map_err(|_| Refusal::Header)?;
    // The one registered algorithm: never `none`, an HMAC keyed with a public key, or another.
    if header.claim("alg").and_then(Value::as_str) != Some(alg.as_str()) {
        return Err(Refusal::Alg);
    }
    let kid = match header.claim("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(Refusal::Header),
    };
    let (set, mut prepared) = match keys {
        ClientKeys::Inline(set) => (set.clone(), verifiers(set, alg)),
        ClientKeys::Uri(url) => {
            let set = state.jwks_uris.keys(url).await?;
            let prepared = verifiers(&set, alg);
            (set, prepared)
        }
    };
    let unknown_kid = matches!(pick(&prepared, kid), Err(Refusal::UnknownKid));
    if let (ClientKeys::Uri(url), true) = (keys, unknown_kid) {
        // The client may have rotated its keys since the set was cached.
        if let Some(newer) = state.jwks_uris.keys_for_unknown_kid(url, &set).await? {
            prepared = verifiers(&newer, alg);
        }
    }
    let verifier = pick(&prepared, kid)?;
    let (payload, _) =
        josekit::jwt::decode_with_verifier(assertion, verifier).map_err(|_| Refusal::Signature)?;
    Ok(payload)
}

/// The verifier of the key `kid` names (the set's only key may go without).
fn pick<'a>(
    verifiers: &'a KeyVerifiers,
    kid: Option<&str>,
) -> Result<&'a dyn JwsVerifier, Refusal> {
    let entry = match (kid, verifiers.keys.as_slice()) {
        // A lone key without a kid is the key, whatever kid the client put in its header.
        (_, [only @ (None, _)]) => only,
        (None, [only]) => only,
        (None, _) => return Err(Refusal::KidNeeded),
        (Some(kid), keys) => keys
            .iter()
            .find(|(k, _)| k.as_deref() == Some(kid))
            .ok_or(Refusal::UnknownKid)?,
    };
    entry.1.as_deref().ok_or(Refusal::UnusableKey)
}

/// The set's verifiers for `alg`, prepared once per set (a client's algorithm does not
/// change without its set being loaded again).
fn verifiers(set: &PublicJwkSet, alg: AssertionAlg) -> Arc<KeyVerifiers> {
    let prepared = set.verifiers.get_or_init(|| Arc::new(prepare(set, alg)));
    if prepared.alg == alg {
        prepared.clone()
    } else {
        // Two clients sharing one jwks_uri with different algorithms: rare, built each time.
        Arc::new(prepare(set, alg))
    }
}

fn prepare(set: &PublicJwkSet, alg: AssertionAlg) -> KeyVerifiers {
    let keys = set
        .keys
        .iter()
        .map(|jwk| (jwk.key_id().map(str::to_owned), verifier(jwk, alg)))
        .collect();
    KeyVerifiers { alg, keys }
}

/// A josekit verifier of `jwk` for `alg`, or `None` if the key cannot verify it. The `kid`
/// is dropped from the verifier: the key was picked by it already, and a lone key may be
/// used by an assertion without one.
fn verifier(jwk: &josekit::jwk::Jwk, alg: AssertionAlg) -> Option<Box<dyn JwsVerifier>> {
    use josekit::jws::{ES256, ES384, EdDSA, PS256, RS256};
    Some(match alg {
        AssertionAlg::ES256 => {
            let mut v = ES256.verifier_from_jwk(jwk).ok()?;
            v.remove_key_id();
            Box::new(v)
        }
        AssertionAlg::ES384 => {
            let mut v = ES384.verifier_from_jwk(jwk).ok()?;
            v.remove_key_id();
            Box::new(v)
        }
        AssertionAlg::EdDSA => {
            let mut v = EdDSA.verifier_from_jwk(jwk).ok()?;
            v.remove_key_id();
            Box::new(v)
        }
        AssertionAlg::PS256 => {
            let mut v = PS256.verifier_from_jwk(jwk).ok()?;
            v.remove_key_id();
            Box::new(v)
        }
        AssertionAlg::RS256 => {
            let mut v = RS256.verifier_from_jwk(jwk).ok()?;
            v.remove_key_id();
            Box::new(v)
        }
    })
}

/// The claims of a verified assertion; returns its `jti` and `exp`.
fn check_claims(
    state: &AppState,
    payload: &JwtPayload,
    client_id: &str,
    now: i64,
) -> Result<(String, i64), Refusal> {
    let text = |name: &str| payload.claim(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(Refusal::Subject);
    }
    let audience = match payload.claim("aud") {
        Some(Value::String(aud)) => aud.as_str(),
        Some(Value::Array(auds)) => match auds.as_slice() {
            [Value::String(aud)] => aud.as_str(),
            _ => return Err(Refusal::Audience),
        },
        _ => return Err(Refusal::Audience),
    };
    let token_endpoint = format!("{}/oauth2/token", state.issuer);
    let accepted = audience == state.issuer
        || (state.settings.client_auth.accept_token_endpoint_audience
            && audience == token_endpoint);
    if !accepted {
        return Err(Refusal::Audience);
    }
    let exp = numeric_date(payload, "exp")?.ok_or(Refusal::Expired)?;
    if exp <= now {
        return Err(Refusal::Expired);
    }
    let iat = numeric_date(payload, "iat")?;
    let nbf = numeric_date(payload, "nbf")?;
    if [iat, nbf]
        .into_iter()
        .flatten()
        .any(|t| t > now + SKEW_SECONDS)
    {
        return Err(Refusal::NotYetValid);
    }
    let max = i64::try_from(state.settings.client_auth.max_assertion_lifetime.as_secs())
        .unwrap_or(i64::MAX);
    if exp.saturating_sub(iat.unwrap_or(now)) > max {
        return Err(Refusal::TooLong);
    }
    match text("jti") {
        Some(jti) if !jti.is_empty() && jti.chars().count() <= MAX_JTI_LEN => {
            Ok((jti.to_owned(), exp))
        }
        _ => Err(Refusal::Jti),
    }
}

/// A NumericDate claim in whole seconds; a claim that is not a number is refused.
fn numeric_date(payload: &JwtPayload, name: &str) -> Result<Option<i64>, Refusal> {
    match payload.claim(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(Refusal::NotADate),
        Some(_) => Err(Refusal::NotADate),
    }
}
