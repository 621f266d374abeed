//! DPoP (RFC 9449): checking proofs of possession at the token endpoint and the admin API,
//! and the server nonces of §8.
//!
//! A proof is checked in the order of RFC 9449 §4.3 and its `jti` is recorded last, so a
//! proof refused for any other reason (a missing nonce above all) is not consumed.
//!
//! Nonces are stateless: `base64url(HMAC(k, window))[..16 bytes]` for 60-second windows,
//! where `k` is derived from the key-encryption key. Every replica holds that key (it opens
//! the signing keys), so a nonce minted by one replica is accepted by all without a shared
//! table; a nonce is good for the window it was minted in and the next one.

use actix_web::http::header::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::TokenError;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::client_auth::AssertionAlg;
use crate::store::jtis::{self, JtiIssuer};

/// The request header carrying the proof.
pub static DPOP: actix_web::http::header::HeaderName =
    actix_web::http::header::HeaderName::from_static("dpop");
/// The response header carrying a fresh server nonce.
pub const DPOP_NONCE: &str = "dpop-nonce";

/// How far a proof's `iat` may lie from now, either way (SPEC §9).
const IAT_WINDOW_SECONDS: i64 = 60;
/// A proof's `jti` is kept this long after its `iat`: past it, `iat` alone refuses the proof.
const JTI_RETENTION_SECONDS: i64 = 2 * IAT_WINDOW_SECONDS;
/// A proof is a few hundred bytes (an RSA key makes it about a kilobyte).
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti` recorded; a UUID or 128 random bits in base64url is far shorter.
const MAX_JTI_CHARS: usize = 128;
/// Largest RSA modulus verified: bounds the cost of one verification.
const MAX_RSA_BITS: usize = 8192;
/// Length of a nonce window.
const NONCE_WINDOW_SECONDS: i64 = 60;
/// Replicas' clocks may differ by this much: a nonce of the window starting within it ahead is
/// still accepted.
const NONCE_CLOCK_SKEW_SECONDS: i64 = 5;

/// Why a proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum DpopError {
    /// Missing, malformed or wrong proof; the description is safe to send.
    #[error("{0}")]
    Invalid(String),
    /// The proof lacks a current server nonce.
    #[error("a DPoP proof with a current server nonce is required")]
    UseNonce,
    /// The `jti` could not be recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(why: impl Into<String>) -> DpopError {
    DpopError::Invalid(why.into())
}

/// What the request a proof comes with must look like.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// `htm`: the request's method.
    pub method: &'a str,
    /// `htu`: the request's URL, built from the issuer.
    pub url: &'a str,
    /// The access token the request presents (`ath`), at a protected resource.
    pub access_token: Option<&'a str>,
    /// The thumbprint the proof's key must have (the token's `cnf.jkt`).
    pub jkt: Option<&'a str>,
    /// Whether the proof must carry a current server nonce.
    pub nonce: bool,
}

/// A proof that passed every check but the `jti` replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// RFC 7638 thumbprint of the proof's key.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
}

/// The one `DPoP` header of a request, if any; two or more are refused (RFC 9449 §4.3).
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, DpopError> {
    // A static name: looking a `&str` name up would build (and allocate) it on every request.
    let mut values = headers.get_all(&DPOP);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid("more than one DPoP header"));
    }
    let value = value
        .to_str()
        .map_err(|_| invalid("the DPoP header is not ASCII"))?;
    Ok(Some(value.trim()))
}

/// The DPoP proof of a token request, checked: the thumbprint of its key, or `None` when the
/// request has no `DPoP` header.
pub async fn token_request_proof(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<String>, TokenError> {
    let Some(proof) = proof_header(headers).map_err(|e| token_error(state, e))? else {
        return Ok(None);
    };
    let url = token_endpoint(&state.issuer);
    let expected = Expected {
        method: "POST",
        url: &url,
        access_token: None,
        jkt: None,
        nonce: state.settings.client_auth.dpop_nonce,
    };
    verify(state, proof, expected)
        .await
        .map(Some)
        .map_err(|e| token_error(state, e))
}

/// A fresh nonce for a response, when the server demands nonces.
pub fn response_nonce(state: &AppState) -> Option<String> {
    state
        .settings
        .client_auth
        .dpop_nonce
        .then(|| Nonces::of(state).current(chrono::Utc::now().timestamp()))
}

/// The token endpoint's URL, the `htu` of token requests: from the issuer, never from `Host`.
fn token_endpoint(issuer: &str) -> String {
    format!("{issuer}/oauth2/token")
}

fn token_error(state: &AppState, e: DpopError) -> TokenError {
    match e {
        DpopError::Invalid(why) => TokenError::InvalidDpopProof(why),
        DpopError::UseNonce => TokenError::UseDpopNonce {
            nonce: Nonces::of(state).current(chrono::Utc::now().timestamp()),
        },
        DpopError::Store(e) if e.is_unavailable() => TokenError::TemporarilyUnavailable,
        DpopError::Store(e) => {
            tracing::error!(error = %e, "recording a DPoP proof's jti failed");
            TokenError::ServerError
        }
    }
}

/// Checks `proof` against `expected` and records its `jti`: the key's thumbprint if the proof
/// is good and new.
pub async fn verify(
    state: &AppState,
    proof: &str,
    expected: Expected<'_>,
) -> Result<String, DpopError> {
    let now = chrono::Utc::now().timestamp();
    let nonces = expected.nonce.then(|| Nonces::of(state));
    let checked = check(proof, expected, nonces.as_ref(), now)?;
    // Last, so that a proof refused for anything else can be sent again once fixed.
    let expires_at = checked.iat.saturating_add(JTI_RETENTION_SECONDS);
    if !jtis::record_once(
        &state.db,
        JtiIssuer::DpopKey(&checked.jkt),
        &checked.jti,
        expires_at,
    )
    .await?
    {
        return Err(invalid("the DPoP proof's jti was used before"));
    }
    Ok(checked.jkt)
}

/// Every check of RFC 9449 §4.3 but the `jti` replay check, at `now` (unix seconds).
pub fn check(
    proof: &str,
    expected: Expected<'_>,
    nonces: Option<&Nonces>,
    now: i64,
) -> Result<CheckedProof, DpopError> {
    if proof.is_empty() {
        return Err(invalid("the DPoP header is empty"));
    }
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid("the DPoP proof is too large"));
    }
    let header = decode_header(proof)?;
    if !header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
    {
        return Err(invalid("the DPoP proof's typ must be dpop+jwt"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("the DPoP proof has no alg"))?;
    let alg: AssertionAlg = alg.parse().map_err(|_| {
        invalid(format!(
            "the DPoP proof's alg must be one of {}",
            algorithms().join(", ")
        ))
    })?;
    // josekit would accept critical parameters it knows (b64); a proof needs none.
    if header.contains_key("crit") {
        return Err(invalid("the DPoP proof must not have crit"));
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("the DPoP proof's header must carry a jwk"))?;
    let (public, jkt) = public_key(alg, jwk)?;
    let verifier =
        verifier(alg, &public).map_err(|_| invalid("the DPoP proof's jwk is not usable"))?;
    let (payload, _) = jws::deserialize_compact(proof, &*verifier)
        .map_err(|_| invalid("the DPoP proof's signature does not verify"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&payload)
        .map_err(|_| invalid("the DPoP proof's claims are not a JSON object"))?;
    let claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if claim("htm") != Some(expected.method) {
        return Err(invalid(format!(
            "the DPoP proof's htm must be {}",
            expected.method
        )));
    }
    if !same_target(claim("htu"), expected.url) {
        return Err(invalid(format!(
            "the DPoP proof's htu must be {}",
            expected.url
        )));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .filter(|t| t.is_finite())
        .ok_or_else(|| invalid("the DPoP proof has no numeric iat"))? as i64;
    if (now - iat).abs() > IAT_WINDOW_SECONDS {
        return Err(invalid(format!(
            "the DPoP proof's iat is more than {IAT_WINDOW_SECONDS} s from now"
        )));
    }
    let jti = claim("jti")
        .filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS)
        .ok_or_else(|| {
            invalid(format!(
                "the DPoP proof needs a jti of 1 to {MAX_JTI_CHARS} characters"
            ))
        })?;
    if let Some(token) = expected.access_token
        && claim("ath") != Some(access_token_hash(token).as_str())
    {
        return Err(invalid(
            "the DPoP proof's ath is not the hash of the access token",
        ));
    }
    if let Some(bound) = expected.jkt
        && bound != jkt
    {
        return Err(invalid(
            "the DPoP proof is signed by another key than the one the token is bound to",
        ));
    }
    if let Some(nonces) = nonces
        && !claim("nonce").is_some_and(|n| nonces.accepts(n, now))
    {
        return Err(DpopError::UseNonce);
    }
    Ok(CheckedProof {
        jkt,
        jti: jti.to_owned(),
        iat,
    })
}

/// The names of the accepted algorithms, as discovery lists them.
pub fn algorithms() -> Vec<&'static str> {
    AssertionAlg::ALL.iter().map(|a| a.as_str()).collect()
}

/// `ath`: base64url SHA-256 of the access token (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn decode_header(proof: &str) -> Result<Map<String, Value>, DpopError> {
    let (header, _) = proof
        .split_once('.')
        .ok_or_else(|| invalid("the DPoP proof is not a compact JWS"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| invalid("the DPoP proof's header is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid("the DPoP proof's header is not JSON"))
}

/// The public key of `jwk` reduced to the members RFC 7638 hashes (which also drops `kid`,
/// `use`, `alg` that josekit would otherwise match against the header), and its thumbprint.
fn public_key(alg: AssertionAlg, jwk: &Map<String, Value>) -> Result<(Jwk, String), DpopError> {
    if let Some(member) = crate::store::client_auth::PRIVATE_MEMBERS
        .iter()
        .find(|m| jwk.contains_key(**m))
    {
        return Err(invalid(format!(
            "the DPoP proof's jwk has the private member {member:?}"
        )));
    }
    let kty = jwk.get("kty").and_then(Value::as_str);
    if kty != Some(alg.key_type()) {
        return Err(invalid(format!(
            "the DPoP proof's jwk must have kty {} for {}",
            alg.key_type(),
            alg.as_str()
        )));
    }
    // Lexicographic order, as RFC 7638 §3.2 wants; inserted in order so that it holds
    // whatever map serde_json is built with.
    let members: &[&str] = match alg.key_type() {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => &["e", "kty", "n"],
    };
    let mut required = Map::new();
    for name in members {
        let value = jwk
            .get(*name)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("the DPoP proof's jwk lacks {name}")))?;
        required.insert((*name).to_owned(), Value::String(value.to_owned()));
    }
    if let Some(Value::String(n)) = required.get("n")
        && n.len() * 6 > MAX_RSA_BITS + 8
    {
        return Err(invalid("the DPoP proof's RSA key is too large"));
    }
    let canonical =
        serde_json::to_vec(&required).map_err(|_| invalid("the DPoP proof's jwk is not usable"))?;
    let jkt = URL_SAFE_NO_PAD.encode(Sha256::digest(&canonical));
    let public =
        Jwk::from_map(required).map_err(|_| invalid("the DPoP proof's jwk is not usable"))?;
    Ok((public, jkt))
}

fn verifier(alg: AssertionAlg, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
    Ok(match alg {
        AssertionAlg::ES256 => Box::new(jws::ES256.verifier_from_jwk(jwk)?),
        AssertionAlg::ES384 => Box::new(jws::ES384.verifier_from_jwk(jwk)?),
        AssertionAlg::EdDSA => Box::new(jws::EdDSA.verifier_from_jwk(jwk)?),
        AssertionAlg::PS256 => Box::new(jws::PS256.verifier_from_jwk(jwk)?),
        AssertionAlg::RS256 => Box::new(jws::RS256.verifier_from_jwk(jwk)?),
    })
}

/// `htu` names `expected`, ignoring query and fragment (RFC 9449 §4.3 step 9) and comparing
/// after the URL parser's normalisation (case of scheme and host, default port, dot segments).
fn same_target(htu: Option<&str>, expected: &str) -> bool {
    let strip = |s: &str| {
        url::Url::parse(s).ok().map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u
        })
    };
    match (htu.and_then(strip), strip(expected)) {
        (Some(got), Some(want)) => got == want,
        _ => false,
    }
}

/// The server nonces of this process's replicas.
pub struct Nonces(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(<redacted>)")
    }
}

impl Nonces {
    /// The nonces every replica sharing this server's key-encryption key mints and accepts.
    pub fn of(state: &AppState) -> Self {
        Nonces(state.kek.derive("dpop-nonce"))
    }

    /// Nonces keyed by `key` (tests).
    pub fn with_key(key: [u8; 32]) -> Self {
        Nonces(Zeroizing::new(key))
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        self.for_window(now.div_euclid(NONCE_WINDOW_SECONDS))
    }

    /// Whether `nonce` is this window's, the previous one's, or (for a replica whose clock is
    /// slightly ahead) the next one's within [`NONCE_CLOCK_SKEW_SECONDS`].
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        use subtle::ConstantTimeEq;
        let window = now.div_euclid(NONCE_WINDOW_SECONDS);
        let ahead = (now + NONCE_CLOCK_SKEW_SECONDS).div_euclid(NONCE_WINDOW_SECONDS);
        let mut candidates = vec![window, window - 1];
        if ahead != window {
            candidates.push(ahead);
        }
        candidates
            .into_iter()
            .any(|w| bool::from(self.for_window(w).as_bytes().ct_eq(nonce.as_bytes())))
    }

    fn for_window(&self, window: i64) -> String {
        use hmac::{Hmac, Mac};
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&*self.0).expect("HMAC takes any key length");
        mac.update(&window.to_be_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://as.example/oauth2/token";
    const NOW: i64 = 1_800_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            method: "POST",
            url: URL,
            access_token: None,
            jkt: None,
            nonce: false,
        }
    }

    struct Key {
        pkcs8: Vec<u8>,
        jwk: Map<String, Value>,
    }

    fn key() -> Key {
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        let jwk = pair.to_jwk_public_key();
        Key {
            pkcs8: pair.to_der_private_key(),
            jwk: jwk.as_ref().clone(),
        }
    }

    fn sign(key: &Key, header: Value, claims: Value) -> String {
        let signer = jws::ES256.signer_from_der(&key.pkcs8).unwrap();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = josekit::jws::JwsSigner::sign(&signer, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn proof(key: &Key, claims: Value) -> String {
        sign(
            key,
            serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk}),
            claims,
        )
    }

    fn claims() -> Value {
        serde_json::json!({"htm": "POST", "htu": URL, "iat": NOW, "jti": "j1"})
    }

    #[test]
    fn a_good_proof_gives_the_rfc7638_thumbprint() {
        let k = key();
        let checked = check(&proof(&k, claims()), expected(), None, NOW).unwrap();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            k.jwk["x"].as_str().unwrap(),
            k.jwk["y"].as_str().unwrap()
        );
        assert_eq!(
            checked.jkt,
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!((checked.jti.as_str(), checked.iat), ("j1", NOW));
        // Query and fragment are ignored; so are the default port and host case.
        let mut c = claims();
        c["htu"] = "https://AS.example:443/oauth2/token?x=1#f".into();
        check(&proof(&k, c), expected(), None, NOW).unwrap();
    }

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let jwk: Map<String, Value> = serde_json::from_str(
            r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
        )
        .unwrap();
        let (_, jkt) = public_key(AssertionAlg::RS256, &jwk).unwrap();
        assert_eq!(jkt, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn each_bad_proof_is_refused() {
        let k = key();
        let with = |name: &str, value: Value| {
            let mut c = claims();
            c[name] = value;
            proof(&k, c)
        };
        let mut private = k.jwk.clone();
        private.insert("d".into(), "AAAA".into());
        let good = proof(&k, claims());
        let (signed, _) = good.rsplit_once('.').unwrap();
        let cases = [
            (
                "another htu",
                with("htu", "https://as.example/other".into()),
            ),
            ("another method", with("htm", "GET".into())),
            ("stale iat", with("iat", (NOW - 300).into())),
            ("future iat", with("iat", (NOW + 300).into())),
            ("no jti", {
                let mut c = claims();
                c.as_object_mut().unwrap().remove("jti");
                proof(&k, c)
            }),
            (
                "private jwk",
                sign(
                    &k,
                    serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
                    claims(),
                ),
            ),
            (
                "wrong typ",
                sign(
                    &k,
                    serde_json::json!({"typ": "JWT", "alg": "ES256", "jwk": k.jwk}),
                    claims(),
                ),
            ),
            (
                "alg none",
                format!(
                    "{}.{}.",
                    URL_SAFE_NO_PAD.encode(
                        serde_json::json!({"typ": "dpop+jwt", "alg": "none", "jwk": k.jwk})
                            .to_string()
                    ),
                    URL_SAFE_NO_PAD.encode(claims().to_string())
                ),
            ),
            ("bad signature", format!("{signed}.{}", "A".repeat(86))),
            ("not a JWS", "abc".into()),
        ];
        for (what, p) in cases {
            let err = check(&p, expected(), None, NOW).expect_err(what);
            assert!(matches!(err, DpopError::Invalid(_)), "{what}: {err:?}");
        }
    }

    #[test]
    fn a_resource_checks_ath_and_the_bound_key() {
        let k = key();
        let token = "eyJhbGciOiJFUzI1NiJ9.e30.sig";
        let mut c = claims();
        c["ath"] = access_token_hash(token).into();
        let p = proof(&k, c);
        let jkt = check(&p, expected(), None, NOW).unwrap().jkt;
        let at_resource = Expected {
            access_token: Some(token),
            jkt: Some(&jkt),
            ..expected()
        };
        check(&p, at_resource, None, NOW).unwrap();
        let other_token = Expected {
            access_token: Some("another"),
            ..at_resource
        };
        assert!(check(&p, other_token, None, NOW).is_err());
        let other_key = Expected {
            jkt: Some("another"),
            ..at_resource
        };
        assert!(check(&p, other_key, None, NOW).is_err());
    }

    #[test]
    fn nonces_last_two_windows_and_need_the_key() {
        let nonces = Nonces::with_key([7; 32]);
        let n = nonces.current(NOW);
        assert!(nonces.accepts(&n, NOW));
        assert!(nonces.accepts(&n, NOW + NONCE_WINDOW_SECONDS));
        assert!(!nonces.accepts(&n, NOW + 2 * NONCE_WINDOW_SECONDS));
        assert!(!Nonces::with_key([8; 32]).accepts(&n, NOW));
        // A replica a little ahead minted it: accepted near the window's end.
        let start = (NOW / NONCE_WINDOW_SECONDS + 1) * NONCE_WINDOW_SECONDS;
        assert!(nonces.accepts(&nonces.current(start), start - 2));

        let k = key();
        let with_nonce = |nonce: Option<&str>| {
            let mut c = claims();
            if let Some(n) = nonce {
                c["nonce"] = n.into();
            }
            check(&proof(&k, c), expected(), Some(&nonces), NOW)
        };
        assert!(matches!(with_nonce(None), Err(DpopError::UseNonce)));
        assert!(matches!(
            with_nonce(Some("stale")),
            Err(DpopError::UseNonce)
        ));
        with_nonce(Some(&n)).unwrap();
    }
}
