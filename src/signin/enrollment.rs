//! One-time enrollment links (SPEC §7): `{issuer}/console/enroll/{token}`, valid 24 hours,
//! spent once the person has set a password and a second factor. Tokens are issued by
//! `store::administrators::issue_enrollment` (`tessera admins create|enroll`, the admin API);
//! only their SHA-256 is stored.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::{SigninError, sha256_hex};
use crate::store::{self, StoreError, signin::Person};

/// Whether `token` could be one we issued (base64url of 32 bytes): anything else is refused
/// without a database read.
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The enabled administrator a valid (unused, unexpired) token enrolls.
pub async fn holder(
    db: &impl ConnectionTrait,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Person>, StoreError> {
    if !well_formed(token) {
        return Ok(None);
    }
    Ok(
        store::signin::enrollment_holder(db, &sha256_hex(token), now)
            .await?
            .filter(|p| p.enabled),
    )
}

/// What the person chose.
pub struct Choice<'a> {
    /// argon2id hash of the new password.
    pub password_hash: &'a str,
    /// The TOTP secret, sealed.
    pub totp_secret_jwe: String,
    /// The step of the code that confirmed it.
    pub totp_step: u64,
}

/// Spends `token` and stores the password and second factor at once; `false` (nothing
/// stored) if the token was spent, expired or the administrator disabled meanwhile.
pub async fn complete(
    db: &DatabaseConnection,
    token_hash: &str,
    administrator_id: &str,
    choice: Choice<'_>,
) -> Result<bool, SigninError> {
    let step = i64::try_from(choice.totp_step).map_err(|_| SigninError::Corrupt("TOTP step"))?;
    Ok(store::signin::complete_enrollment(
        db,
        store::signin::Enrolled {
            token_hash,
            administrator_id,
            password_hash: choice.password_hash,
            totp_secret_jwe: choice.totp_secret_jwe,
            totp_step: step,
        },
        Utc::now(),
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_for_shape_before_any_lookup() {
        use crate::secret::random_token;
        assert!(well_formed(&random_token(32)));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}/", random_token(31))));
    }
}
