//! Sign-in of administrators (SPEC §7): password policy and hashing, TOTP second factors,
//! one-time enrollment, server-side sessions, and throttling of failures. No HTTP here: the
//! console (`crate::console`) calls these.

pub mod enrollment;
pub mod oidc;
pub mod passkeys;
pub mod password;
pub mod sessions;
pub mod throttle;
pub mod totp;

use sha2::{Digest, Sha256};

use crate::keys::KeyError;
use crate::secret::VerifyError;
use crate::store::StoreError;

/// Why a sign-in operation could not be carried out (not: why a credential was wrong, which
/// each operation answers in its result).
#[derive(Debug, thiserror::Error)]
pub enum SigninError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or unsealing a TOTP secret failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The argon2 pool is busy or gone.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A stored TOTP secret or pending state does not decode.
    #[error("stored sign-in state is corrupt: {0}")]
    Corrupt(&'static str),
}

/// SHA-256 of `value`, lower-case hex: how enrollment tokens and session ids are stored.
pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Emails are compared lower-cased and trimmed (the sign-in name is case-insensitive).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
