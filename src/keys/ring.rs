//! The in-memory key ring every request signs with, and the JWKS rendered from it.

use std::sync::Arc;
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
    /// `None` for a key published for verification only: its private part could not be
    /// unsealed by this process (see [`SigningKeyRing::rebuild`]).
    signer: Option<TokenSigner>,
    verifier: Box<dyn JwsVerifier>,
    /// The public key, as published.
    pub public_jwk: Jwk,
    /// The stored row's algorithm and public JWK text: a held key is reused for a row only
    /// while they are the same.
    stored: (String, String),
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
        let signer = self.signer.as_ref().ok_or_else(|| {
            KeyError::Crypto(format!(
                "signing key {} is held for verification only",
                self.kid
            ))
        })?;
        signer.sign_appending(&mut out)?;
        Ok(out)
    }
}

impl SigningKey {
    /// Checks a signature over `message` (the `header.payload` of a compact JWS).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify(message, signature).is_ok()
    }
}

/// The private half of a signing key, in the library that signs it fastest.
///
/// One core of the bench machine (`cargo run --release --example sigbench`): ES256 and EdDSA
/// sign with aws-lc-rs, the fastest of the three for both (see the example for the figures);
/// josekit sets up an OpenSSL 3 `EVP_DigestSign` context for every signature, so it keeps only
/// RS256. Every key is checked against josekit's (OpenSSL's) verifier when it is loaded, so a
/// key pair that does not match is refused by a second, independent implementation.
enum TokenSigner {
    Ecdsa(aws_lc_rs::signature::EcdsaKeyPair),
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
    Jose(Box<dyn JwsSigner>),
}

/// aws-lc-rs draws ECDSA nonces from AWS-LC's own generator; its API still asks for one.
static RNG: std::sync::LazyLock<aws_lc_rs::rand::SystemRandom> =
    std::sync::LazyLock::new(aws_lc_rs::rand::SystemRandom::new);

impl TokenSigner {
    fn from_jwk(algorithm: SigningAlgorithm, private: &Jwk) -> Result<Self, String> {
        // Private scalars and seeds are wiped when dropped.
        let param = |name: &str| -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
            let text = private
                .parameter(name)
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("the private JWK has no {name:?}"))?;
            URL_SAFE_NO_PAD
                .decode(text)
                .map(zeroize::Zeroizing::new)
                .map_err(|_| format!("the private JWK's {name:?} is not base64url"))
        };
        Ok(match algorithm {
            SigningAlgorithm::Es256 => {
                let mut public = vec![4u8];
                public.extend_from_slice(&param("x")?);
                public.extend_from_slice(&param("y")?);
                TokenSigner::Ecdsa(
                    aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
                        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                        &param("d")?,
                        &public,
                    )
                    .map_err(|e| format!("not a P-256 key pair: {e}"))?,
                )
            }
            SigningAlgorithm::EdDsa => TokenSigner::Ed25519(
                aws_lc_rs::signature::Ed25519KeyPair::from_seed_and_public_key(
                    &param("d")?,
                    &param("x")?,
                )
                .map_err(|e| format!("not an Ed25519 key pair: {e}"))?,
            ),
            SigningAlgorithm::Rs256 => {
                TokenSigner::Jose(algorithm.signer(private).map_err(|e| e.to_string())?)
            }
        })
    }

    /// Signs `jws` (`header.payload`) and appends `.` and the base64url signature to it.
    /// aws-lc-rs's signature is a fixed 4.6 KB buffer: it is encoded where it is made rather
    /// than moved out through a `Result`, which copied it twice a token.
    fn sign_appending(&self, jws: &mut String) -> Result<(), KeyError> {
        match self {
            TokenSigner::Ecdsa(pair) => {
                let signature = pair
                    .sign(&*RNG, jws.as_bytes())
                    .map_err(|_| KeyError::Crypto("ECDSA signing failed".into()))?;
                append_signature(jws, signature.as_ref());
            }
            TokenSigner::Ed25519(pair) => {
                let signature = pair.sign(jws.as_bytes());
                append_signature(jws, signature.as_ref());
            }
            TokenSigner::Jose(signer) => {
                let signature = signer
                    .sign(jws.as_bytes())
                    .map_err(|e| KeyError::Crypto(e.to_string()))?;
                append_signature(jws, &signature);
            }
        }
        Ok(())
    }
}

fn append_signature(jws: &mut String, signature: &[u8]) {
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, jws);
}

/// The JWKS document (`{"keys":[…]}`), serialised once per key-set change.
pub type Jwks = crate::CachedDocument;

/// The keys that are published now (next, signing, verifying), in activation order.
pub struct SigningKeyRing {
    keys: Vec<Arc<SigningKey>>,
    jwks: Jwks,
    fingerprint: String,
}

/// A stored key: `(kid, algorithm, public_jwk, private_jwe, created_at, activates_at)`.
pub type StoredKey = entity::signing_key::Model;

impl SigningKeyRing {
    /// Builds the ring from stored keys, decrypting the private parts of the published ones.
    /// Fails if any of them cannot be decrypted or used (start-up refuses a wrong KEK).
    pub fn build(
        stored: &[StoredKey],
        kek: &KeyEncryptionKey,
        now: DateTime<Utc>,
        max_ttl: Duration,
    ) -> Result<Self, KeyError> {
        let published = published_kids(stored, now, max_ttl);
        let mut keys = Vec::with_capacity(published.len());
        for row in published.iter().filter_map(|kid| row_of(stored, kid)) {
            keys.push(Arc::new(load_key(row, kek)?));
        }
        Ok(Self::assemble(keys, published))
    }

    /// Builds the ring for a changed key set from this one: every key already held is reused
    /// as it is (never decrypted again: a running process keeps the keys it holds across a
    /// KEK rewrap, whatever KEK the rows are sealed under now); only keys new to this process
    /// are decrypted. A new key whose private part cannot be decrypted (sealed by a replica
    /// under a KEK this process was not given) is still published, for verification only, and
    /// the newest key this process can sign with keeps signing; such failures are returned
    /// for the caller to log.
    pub fn rebuild(
        &self,
        stored: &[StoredKey],
        kek: &KeyEncryptionKey,
        now: DateTime<Utc>,
        max_ttl: Duration,
    ) -> (Self, Vec<KeyError>) {
        let published = published_kids(stored, now, max_ttl);
        let mut keys = Vec::with_capacity(published.len());
        let mut failures = Vec::new();
        for row in published.iter().filter_map(|kid| row_of(stored, kid)) {
            if let Some(held) = self.keys.iter().find(|k| k.holds(row)) {
                keys.push(held.clone());
                continue;
            }
            match load_key(row, kek) {
                Ok(key) => keys.push(Arc::new(key)),
                Err(e) => {
                    match verification_only(row) {
                        Ok(key) => keys.push(Arc::new(key)),
                        Err(bad) => failures.push(bad),
                    }
                    failures.push(e);
                }
            }
        }
        (Self::assemble(keys, published), failures)
    }

    fn assemble(mut keys: Vec<Arc<SigningKey>>, published: Vec<String>) -> Self {
        keys.sort_by_key(|k| k.activates_at_ms);
        let mut body = br#"{"keys":["#.to_vec();
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(key.public_jwk.to_string().as_bytes());
        }
        body.extend_from_slice(b"]}");
        SigningKeyRing {
            keys,
            jwks: Jwks::new(body),
            fingerprint: published.join(","),
        }
    }

    /// Whether `stored` at `now` would publish a different set of keys than this ring.
    pub fn is_stale(&self, stored: &[StoredKey], now: DateTime<Utc>, max_ttl: Duration) -> bool {
        published_kids(stored, now, max_ttl).join(",") != self.fingerprint
    }

    /// The key that signs at `now`: the last one activated.
    /// (A key held for verification only is passed over: see [`rebuild`](Self::rebuild).)
    pub fn signer_at(&self, now: DateTime<Utc>) -> Option<&SigningKey> {
        let now_ms = now.timestamp_millis();
        self.keys
            .iter()
            .rev()
            .find(|k| k.activates_at_ms <= now_ms && k.signer.is_some())
            .map(|k| &**k)
    }

    /// A published key by id.
    pub fn key(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &**k)
    }

    /// Ids of the published keys this process cannot sign with (their private part could not
    /// be decrypted here).
    pub fn verification_only(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|k| k.signer.is_none())
            .map(|k| k.kid.as_str())
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
    let signer = TokenSigner::from_jwk(algorithm, &private).map_err(bad)?;
    let public_jwk = Jwk::from_bytes(row.public_jwk.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let verifier = algorithm
        .verifier(&public_jwk)
        .map_err(|e| bad(e.to_string()))?;
    // Two libraries hold the two halves: prove once that they are halves of one key pair.
    let probe = "tessera signing-key self-check";
    let mut signed = probe.to_owned();
    signer
        .sign_appending(&mut signed)
        .map_err(|e| bad(format!("cannot sign: {e}")))?;
    let signature = URL_SAFE_NO_PAD
        .decode(&signed[probe.len() + 1..])
        .map_err(|e| bad(format!("cannot sign: {e}")))?;
    if verifier.verify(probe.as_bytes(), &signature).is_err() {
        return Err(bad(
            "its private part does not match the published public key".into(),
        ));
    }
    Ok(signing_key(
        row,
        algorithm,
        Some(signer),
        verifier,
        public_jwk,
    ))
}

/// A stored key published for verification only: its public part, no signer.
fn verification_only(row: &StoredKey) -> Result<SigningKey, KeyError> {
    let bad = |why: String| KeyError::BadKey {
        kid: row.kid.clone(),
        why,
    };
    let algorithm: SigningAlgorithm = row
        .algorithm
        .parse()
        .map_err(|_| bad(format!("unknown algorithm {}", row.algorithm)))?;
    let public_jwk = Jwk::from_bytes(row.public_jwk.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let verifier = algorithm
        .verifier(&public_jwk)
        .map_err(|e| bad(e.to_string()))?;
    Ok(signing_key(row, algorithm, None, verifier, public_jwk))
}

fn signing_key(
    row: &StoredKey,
    algorithm: SigningAlgorithm,
    signer: Option<TokenSigner>,
    verifier: Box<dyn JwsVerifier>,
    public_jwk: Jwk,
) -> SigningKey {
    let header = serde_json::json!({"alg": algorithm.as_str(), "typ": "at+jwt", "kid": row.kid});
    let mut header_prefix = URL_SAFE_NO_PAD.encode(header.to_string());
    header_prefix.push('.');
    SigningKey {
        kid: row.kid.clone(),
        algorithm,
        activates_at_ms: row.activates_at.timestamp_millis(),
        header_prefix,
        signer,
        verifier,
        public_jwk,
        stored: (row.algorithm.clone(), row.public_jwk.clone()),
    }
}

fn row_of<'a>(stored: &'a [StoredKey], kid: &str) -> Option<&'a StoredKey> {
    stored.iter().find(|k| k.kid == kid)
}

impl SigningKey {
    /// Whether this key, held with its signer, is the one `row` stores (same id, algorithm,
    /// public part and activation time): then it can be reused without decrypting `row`.
    fn holds(&self, row: &StoredKey) -> bool {
        self.signer.is_some()
            && self.kid == row.kid
            && self.activates_at_ms == row.activates_at.timestamp_millis()
            && self.stored.0 == row.algorithm
            && self.stored.1 == row.public_jwk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_signing_key;

    fn stored(key: crate::keys::NewSigningKey) -> StoredKey {
        key.into_stored(Utc::now(), Utc::now())
    }

    #[test]
    fn ring_signatures_verify_and_mismatched_halves_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kek = KeyEncryptionKey::load_or_create(dir.path()).unwrap();
        for algorithm in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let row = stored(generate_signing_key(algorithm, &kek).unwrap());
            let key = load_key(&row, &kek).unwrap();
            let token = key.sign(br#"{"sub":"x"}"#).unwrap();
            let (message, signature) = token.rsplit_once('.').unwrap();
            let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
            assert!(key.verify(message.as_bytes(), &signature), "{algorithm}");

            // The public half of another key: the load-time self-check must refuse it.
            let other = stored(generate_signing_key(algorithm, &kek).unwrap());
            let mismatched = StoredKey {
                public_jwk: other.public_jwk,
                ..row
            };
            let err = load_key(&mismatched, &kek).err().expect("mismatch refused");
            assert!(matches!(err, KeyError::BadKey { .. }), "{algorithm}: {err}");
        }
    }

    #[test]
    fn a_rebuild_reuses_held_keys_and_publishes_new_ones_it_cannot_open_for_verification() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let old = KeyEncryptionKey::load_or_create(a.path()).unwrap();
        let new = KeyEncryptionKey::load_or_create(b.path()).unwrap();
        let ttl = Duration::from_secs(900);
        let t0 = Utc::now();
        let first = generate_signing_key(SigningAlgorithm::Es256, &old)
            .unwrap()
            .into_stored(t0, t0);
        let ring = SigningKeyRing::build(std::slice::from_ref(&first), &old, t0, ttl).unwrap();
        // A rewrap under the new KEK, and a key another replica made under it.
        let private = old.open(&first.kid, &first.private_jwe).unwrap();
        let rewrapped = StoredKey {
            private_jwe: new.seal(&private).unwrap(),
            ..first.clone()
        };
        let t1 = t0 + chrono::Duration::seconds(1);
        let second = generate_signing_key(SigningAlgorithm::Es256, &new)
            .unwrap()
            .into_stored(t1, t1);
        let rows = [rewrapped, second.clone()];
        let t2 = t1 + chrono::Duration::seconds(1);
        // Start-up is strict: the old KEK alone cannot open the key set.
        assert!(SigningKeyRing::build(&rows, &old, t2, ttl).is_err());
        // A running process keeps what it holds and publishes the rest.
        let (next, failures) = ring.rebuild(&rows, &old, t2, ttl);
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(next.len(), 2);
        assert_eq!(next.signer_at(t2).unwrap().kid, first.kid);
        assert_eq!(
            next.verification_only().collect::<Vec<_>>(),
            [second.kid.as_str()]
        );
        assert!(next.key(&second.kid).is_some());
        // The very key held before, not a copy decrypted again.
        assert!(Arc::ptr_eq(&ring.keys[0], &next.keys[0]));
        next.signer_at(t2).unwrap().sign(b"{}").unwrap();
    }
}
