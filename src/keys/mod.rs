//! Signing keys: generation, sealing at rest, their life cycle, the in-memory ring and the JWKS.

mod kek;
mod ring;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use josekit::jwk::alg::ed::EdCurve;
use josekit::jws::{ES256, EdDSA, JwsSigner, JwsVerifier, RS256};

pub use kek::{KEK_ENV, KekSettings, KekSource, KeyEncryptionKey, sealed_kek_id};
pub use ring::{Jwks, SigningKey, SigningKeyRing, StoredKey};

/// Errors of key handling.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key-encryption key is missing, unreadable or malformed; `source` names where it was
    /// looked for (`keys.kek_file (…)`, `TESSERA_KEK`, `keys.dir (…)`).
    #[error("key-encryption key from {from}: {why}")]
    Kek { from: String, why: String },
    /// A signing key was sealed under a key-encryption key this process does not hold.
    #[error(
        "signing key {kid} cannot be decrypted: it was sealed under key-encryption key {sealed_under}, \
         but this process holds {have}; give it the key-encryption key the database was sealed with \
         (keys.kek_file, TESSERA_KEK or keys.dir; keys.previous_kek_file for one replaced by a rewrap)"
    )]
    WrongKek {
        kid: String,
        sealed_under: String,
        have: String,
    },
    /// A stored key is not usable (bad JWK, unknown algorithm).
    #[error("signing key {kid} is unusable: {why}")]
    BadKey { kid: String, why: String },
    /// josekit failed.
    #[error("cryptography failed: {0}")]
    Crypto(String),
}

/// A JWS algorithm Tessera signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlgorithm {
    /// ECDSA P-256 with SHA-256: the default, cheapest to sign.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit): for verifiers that know nothing else.
    Rs256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlgorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::Rs256 => "RS256",
            SigningAlgorithm::EdDsa => "EdDSA",
        }
    }

    fn generate(self) -> Result<Jwk, KeyError> {
        let jwk = match self {
            SigningAlgorithm::Es256 => Jwk::generate_ec_key(EcCurve::P256),
            SigningAlgorithm::Rs256 => Jwk::generate_rsa_key(2048),
            SigningAlgorithm::EdDsa => Jwk::generate_ed_key(EdCurve::Ed25519),
        };
        jwk.map_err(|e| KeyError::Crypto(e.to_string()))
    }

    fn signer(self, jwk: &Jwk) -> Result<Box<dyn JwsSigner>, josekit::JoseError> {
        Ok(match self {
            SigningAlgorithm::Es256 => Box::new(ES256.signer_from_jwk(jwk)?),
            SigningAlgorithm::Rs256 => Box::new(RS256.signer_from_jwk(jwk)?),
            SigningAlgorithm::EdDsa => Box::new(EdDSA.signer_from_jwk(jwk)?),
        })
    }
}

impl SigningAlgorithm {
    fn verifier(self, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
        Ok(match self {
            SigningAlgorithm::Es256 => Box::new(ES256.verifier_from_jwk(jwk)?),
            SigningAlgorithm::Rs256 => Box::new(RS256.verifier_from_jwk(jwk)?),
            SigningAlgorithm::EdDsa => Box::new(EdDSA.verifier_from_jwk(jwk)?),
        })
    }
}

impl FromStr for SigningAlgorithm {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "ES256" => Ok(SigningAlgorithm::Es256),
            "RS256" => Ok(SigningAlgorithm::Rs256),
            "EdDSA" => Ok(SigningAlgorithm::EdDsa),
            _ => Err(()),
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a key is in its life: `next` → `signing` → `verifying` → `retired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published in the JWKS, not yet signing.
    Next,
    /// Signs new tokens.
    Signing,
    /// Superseded; published until every token it signed has expired.
    Verifying,
    /// Gone from the JWKS.
    Retired,
}

/// A freshly generated key pair, its private part sealed for storage.
pub struct NewSigningKey {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: SigningAlgorithm,
    /// Public JWK as JSON.
    pub public_jwk: String,
    /// Private JWK sealed under the key-encryption key.
    pub private_jwe: String,
}

impl NewSigningKey {
    /// The row this key is stored as, made at `created_at` and signing from `activates_at`.
    pub fn into_stored(self, created_at: DateTime<Utc>, activates_at: DateTime<Utc>) -> StoredKey {
        StoredKey {
            kid: self.kid,
            algorithm: self.algorithm.as_str().to_owned(),
            public_jwk: self.public_jwk,
            private_jwe: self.private_jwe,
            created_at,
            activates_at,
        }
    }
}

/// Generates a key pair for `algorithm` and seals its private part under `kek`.
pub fn generate_signing_key(
    algorithm: SigningAlgorithm,
    kek: &KeyEncryptionKey,
) -> Result<NewSigningKey, KeyError> {
    let kid = crate::secret::random_id(12);
    let mut private = algorithm.generate()?;
    private.set_key_id(kid.clone());
    private.set_algorithm(algorithm.as_str());
    private.set_key_use("sig");
    // josekit's public projection drops kid and alg; verifiers select keys by both.
    let mut public = private
        .to_public_key()
        .map_err(|e| KeyError::Crypto(e.to_string()))?;
    public.set_key_id(kid.clone());
    public.set_algorithm(algorithm.as_str());
    public.set_key_use("sig");
    let private_jwe = kek.seal(private.to_string().as_bytes())?;
    Ok(NewSigningKey {
        kid,
        algorithm,
        public_jwk: public.to_string(),
        private_jwe,
    })
}

/// How long after a key stops signing it stays published: the longest token lifetime plus a
/// minute for clock skew between issuers and verifiers.
pub fn retention(max_ttl: Duration) -> chrono::Duration {
    chrono::Duration::seconds(max_ttl.as_secs() as i64 + 60)
}

/// How long a `next` key is published before it signs: one JWKS cache lifetime, plus a margin
/// for other processes to reload their key rings, so the JWKS `max-age` is always shorter.
pub fn prepublication(jwks_max_age: Duration) -> chrono::Duration {
    chrono::Duration::seconds(jwks_max_age.as_secs() as i64 + 5)
}

/// The timeline of one key, as every process derives it from the stored activation times.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct KeyStatus {
    /// Key id.
    pub kid: String,
    /// JOSE algorithm name.
    pub alg: String,
    /// State at the time asked.
    pub state: KeyState,
    /// When the key was made.
    pub created_at: DateTime<Utc>,
    /// When it starts (or started) signing.
    pub activates_at: DateTime<Utc>,
    /// When a later key took over signing, if one has.
    pub superseded_at: Option<DateTime<Utc>>,
    /// When it leaves the JWKS, once known.
    pub retires_at: Option<DateTime<Utc>>,
}

/// Derives every key's state at `now`. `keys` are `(kid, alg, created_at, activates_at)`.
pub fn key_timeline(
    mut keys: Vec<(String, String, DateTime<Utc>, DateTime<Utc>)>,
    now: DateTime<Utc>,
    max_ttl: Duration,
) -> Vec<KeyStatus> {
    keys.sort_by(|a, b| (a.3, a.2, &a.0).cmp(&(b.3, b.2, &b.0)));
    let activated: Vec<DateTime<Utc>> = keys.iter().map(|k| k.3).filter(|t| *t <= now).collect();
    keys.iter()
        .enumerate()
        .map(|(i, (kid, alg, created_at, activates_at))| {
            // A key is superseded when the next key in activation order has activated.
            let superseded_at = activated.get(i + 1).copied();
            let retires_at = superseded_at.map(|t| t + retention(max_ttl));
            let state = if *activates_at > now {
                KeyState::Next
            } else if superseded_at.is_none() {
                KeyState::Signing
            } else if retires_at.is_some_and(|r| r <= now) {
                KeyState::Retired
            } else {
                KeyState::Verifying
            };
            KeyStatus {
                kid: kid.clone(),
                alg: alg.clone(),
                state,
                created_at: *created_at,
                activates_at: *activates_at,
                superseded_at,
                retires_at,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).unwrap()
    }

    #[test]
    fn timeline_moves_keys_through_their_states() {
        let keys = vec![
            ("a".into(), "ES256".into(), at(0), at(0)),
            ("b".into(), "ES256".into(), at(100), at(400)),
        ];
        let ttl = Duration::from_secs(900);
        let states = |now| {
            key_timeline(keys.clone(), at(now), ttl)
                .into_iter()
                .map(|k| k.state)
                .collect::<Vec<_>>()
        };
        assert_eq!(states(200), [KeyState::Signing, KeyState::Next]);
        assert_eq!(states(400), [KeyState::Verifying, KeyState::Signing]);
        assert_eq!(states(400 + 959), [KeyState::Verifying, KeyState::Signing]);
        assert_eq!(states(400 + 960), [KeyState::Retired, KeyState::Signing]);
    }
}
