//! The in-memory key ring every request signs with, and the JWKS rendered from it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use josekit::jwk::Jwk;
use josekit::jws::{JwsSigner, JwsVerifier};

use super::{KeyEncryptionKey, KeyError, KeyState, SigningAlgorithm, key_timeline};

/// A published key with its signer, ready to sign tokens.
pub struct SigningKey {
    /// Key id, as in the JWKS and the JWT header.
    pub kid: String,
    /// Algorithm.
    pub algorithm: SigningAlgorithm,
    /// Activation time in unix milliseconds: whole seconds would start a key up to 1 s early.
    activates_at_ms: i64,
    /// `base64url(header) + "."`, computed once: the header is the same for every token.
    header_prefix: String,
    signer: Box<dyn JwsSigner>,
    verifier: Box<dyn JwsVerifier>,
    /// The public key, as published.
    pub public_jwk: Jwk,
}

impl SigningKey {
    /// When this key starts (started) signing, in unix milliseconds.
    pub fn activates_at_ms(&self) -> i64 {
        self.activates_at_ms
    }

    /// Signs `claims` (JSON) into a compact JWS with header `{"alg","typ":"at+jwt","kid"}`.
    pub fn sign(&self, claims: &[u8]) -> Result<String, KeyError> {
        let mut out = String::with_capacity(self.header_prefix.len() + claims.len() * 4 / 3 + 400);
        out.push_str(&self.header_prefix);
        URL_SAFE_NO_PAD.encode_string(claims, &mut out);
        let signature = self
            .signer
            .sign(out.as_bytes())
            .map_err(|e| KeyError::Crypto(e.to_string()))?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut out);
        Ok(out)
    }
}

impl SigningKey {
    /// Checks a signature over `message` (the `header.payload` of a compact JWS).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify(message, signature).is_ok()
    }
}

/// The JWKS document, serialised once per key-set change.
pub struct Jwks {
    /// `{"keys":[…]}`.
    pub body: Vec<u8>,
    /// Strong validator for conditional requests.
    pub etag: String,
}

/// The keys that are published now (next, signing, verifying), in activation order.
pub struct SigningKeyRing {
    keys: Vec<SigningKey>,
    jwks: Jwks,
    fingerprint: String,
}

/// A stored key: `(kid, algorithm, public_jwk, private_jwe, created_at, activates_at)`.
pub type StoredKey = entity::signing_key::Model;

impl SigningKeyRing {
    /// Builds the ring from stored keys, decrypting the private parts of the published ones.
    pub fn build(
        stored: &[StoredKey],
        kek: &KeyEncryptionKey,
        now: DateTime<Utc>,
        max_ttl: Duration,
    ) -> Result<Self, KeyError> {
        let published = published_kids(stored, now, max_ttl);
        let mut keys = Vec::with_capacity(published.len());
        for kid in &published {
            let Some(row) = stored.iter().find(|k| &k.kid == kid) else {
                continue;
            };
            keys.push(load_key(row, kek)?);
        }
        keys.sort_by_key(|k| k.activates_at_ms);
        let mut body = br#"{"keys":["#.to_vec();
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(key.public_jwk.to_string().as_bytes());
        }
        body.extend_from_slice(b"]}");
        let etag = crate::strong_etag(&body);
        Ok(SigningKeyRing {
            keys,
            jwks: Jwks { body, etag },
            fingerprint: published.join(","),
        })
    }

    /// Whether `stored` at `now` would publish a different set of keys than this ring.
    pub fn is_stale(&self, stored: &[StoredKey], now: DateTime<Utc>, max_ttl: Duration) -> bool {
        published_kids(stored, now, max_ttl).join(",") != self.fingerprint
    }

    /// The key that signs at `now`: the last one activated.
    pub fn signer_at(&self, now: DateTime<Utc>) -> Option<&SigningKey> {
        let now_ms = now.timestamp_millis();
        self.keys.iter().rev().find(|k| k.activates_at_ms <= now_ms)
    }

    /// A published key by id.
    pub fn key(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// Number of published keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is published.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn published_kids(stored: &[StoredKey], now: DateTime<Utc>, max_ttl: Duration) -> Vec<String> {
    let rows = stored
        .iter()
        .map(|k| {
            (
                k.kid.clone(),
                k.algorithm.clone(),
                k.created_at,
                k.activates_at,
            )
        })
        .collect();
    key_timeline(rows, now, max_ttl)
        .into_iter()
        .filter(|k| k.state != KeyState::Retired)
        .map(|k| k.kid)
        .collect()
}

fn load_key(row: &StoredKey, kek: &KeyEncryptionKey) -> Result<SigningKey, KeyError> {
    let bad = |why: String| KeyError::BadKey {
        kid: row.kid.clone(),
        why,
    };
    let algorithm: SigningAlgorithm = row
        .algorithm
        .parse()
        .map_err(|_| bad(format!("unknown algorithm {}", row.algorithm)))?;
    let private = kek.open(&row.kid, &row.private_jwe)?;
    let private = Jwk::from_bytes(&private).map_err(|e| bad(e.to_string()))?;
    let signer = algorithm.signer(&private).map_err(|e| bad(e.to_string()))?;
    let public_jwk = Jwk::from_bytes(row.public_jwk.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let verifier = algorithm
        .verifier(&public_jwk)
        .map_err(|e| bad(e.to_string()))?;
    let header = serde_json::json!({"alg": algorithm.as_str(), "typ": "at+jwt", "kid": row.kid});
    let mut header_prefix = URL_SAFE_NO_PAD.encode(header.to_string());
    header_prefix.push('.');
    Ok(SigningKey {
        kid: row.kid.clone(),
        algorithm,
        activates_at_ms: row.activates_at.timestamp_millis(),
        header_prefix,
        signer,
        verifier,
        public_jwk,
    })
}
