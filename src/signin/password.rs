//! Administrators' passwords: the policy of SPEC §7 (at least 12 characters, not one of the
//! 1,000 most common passwords) and argon2id hashing off the async workers.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::{Argon2, PasswordHasher};
use zeroize::Zeroizing;

use crate::secret::{Argon2Pool, VerifiableHash, VerifyError};

/// Fewest characters a password may have.
pub const MIN_CHARS: usize = 12;

/// Most bytes a password may have: argon2 takes any length, but a megabyte "password" is a
/// denial of service, not a password.
pub const MAX_BYTES: usize = 1024;

/// The 1,000 most common passwords: SecLists
/// `Passwords/Common-Credentials/10-million-password-list-top-1000.txt`
/// (danielmiessler/SecLists, MIT licence), one a line.
const COMMON: &str = include_str!("common-passwords.txt");

static COMMON_SET: LazyLock<HashSet<String>> = LazyLock::new(|| {
    COMMON
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_lowercase)
        .collect()
});

/// What is wrong with a proposed password; the message names the rule, never the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("must be at least 12 characters long")]
    TooShort,
    #[error("must be at most 1024 bytes long")]
    TooLong,
    #[error("is too common (a well-known password, perhaps with digits added); choose another")]
    Common,
}

/// Checks a new password against the policy.
pub fn check_policy(password: &str) -> Result<(), PasswordProblem> {
    if password.len() > MAX_BYTES {
        return Err(PasswordProblem::TooLong);
    }
    if password.chars().count() < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if is_common(password) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

/// Longest entry worth looking up (the list's longest is 11 characters).
const LONGEST_COMMON: usize = 16;

/// Whether `password` is on the common list, compared case-insensitively: as it is, with only
/// digits or symbols put before or after a listed one (`password1234`, `!123456789012`), or
/// as a listed one repeated (`monkeymonkey`). Every listed password is shorter than the
/// 12-character minimum, so the plain comparison alone would never refuse anything.
pub fn is_common(password: &str) -> bool {
    let lower: Vec<char> = password.to_lowercase().chars().collect();
    let n = lower.len();
    let listed = |from: usize, to: usize| {
        to > from
            && to - from <= LONGEST_COMMON
            && COMMON_SET.contains(&lower[from..to].iter().collect::<String>())
    };
    if listed(0, n) {
        return true;
    }
    // Padding: a run of non-letters at either end around a listed password.
    let lead = lower.iter().take_while(|c| !c.is_alphabetic()).count();
    let trail = lower
        .iter()
        .rev()
        .take_while(|c| !c.is_alphabetic())
        .count();
    for from in 0..=lead.min(n) {
        for to in (n - trail.min(n)..=n).rev() {
            if to > from && listed(from, to) {
                return true;
            }
        }
    }
    // Repetition of one listed password (or of a short unit: `abcabcabcabc`).
    (1..=n / 2)
        .filter(|p| n.is_multiple_of(*p))
        .any(|p| lower.chunks(p).all(|c| c == &lower[..p]) && (p <= 3 || listed(0, p)))
}

/// An argon2id PHC string of `password` (OWASP parameters, random salt), computed on a
/// blocking thread as client secrets are (`ClientSecret::generate_hashed`): never on an async
/// worker.
pub async fn hash(password: &str) -> String {
    let password = Zeroizing::new(password.to_owned());
    let hash_it = |p: &str| {
        Argon2::default()
            .hash_password(p.as_bytes())
            .map(|h| h.to_string())
    };
    let copy = password.clone();
    match tokio::task::spawn_blocking(move || hash_it(&copy)).await {
        Ok(Ok(h)) => h,
        // Only if the blocking pool is gone (shutting down): hash here instead.
        Ok(Err(_)) | Err(_) => hash_it(&password).unwrap_or_default(),
    }
}

/// Checks `password` against `stored` on the argon2 verifier pool. With no stored hash (an
/// unknown email, or an administrator who has not enrolled) the decoy is checked instead, so
/// the answer takes as long and is `false`.
pub async fn verify(
    pool: &Argon2Pool,
    decoy: &Arc<VerifiableHash>,
    stored: Option<&str>,
    password: &str,
) -> Result<bool, VerifyError> {
    let (hash, real) = match stored.and_then(VerifiableHash::parse) {
        Some(h) => (Arc::new(h), true),
        None => (decoy.clone(), false),
    };
    let found = pool.verify(vec![hash], password.as_bytes()).await?;
    Ok(real && found == Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_a_thousand_passwords() {
        assert!(COMMON_SET.len() >= 990, "{}", COMMON_SET.len());
        assert!(is_common("password") && is_common("PassWord") && is_common("qwertyuiop"));
        assert!(!is_common("correct horse battery staple"));
        for weak in [
            "password1234",
            "Password123!",
            "!!QWERTYUIOP",
            "123456789012",
            "monkeymonkey",
            "aaaaaaaaaaaa",
            "abcabcabcabc",
        ] {
            assert!(is_common(weak), "{weak}");
            assert_eq!(check_policy(weak), Err(PasswordProblem::Common), "{weak}");
        }
        for fine in [
            "password is not enough",
            "1234 my own words 5678",
            "dragonfly-on-toast",
        ] {
            assert!(!is_common(fine), "{fine}");
        }
    }

    #[test]
    fn the_policy_names_each_rule() {
        assert_eq!(check_policy("short"), Err(PasswordProblem::TooShort));
        // Twelve characters, counted as characters, not bytes.
        assert_eq!(check_policy("éàüöïçñøåæœ"), Err(PasswordProblem::TooShort));
        assert_eq!(check_policy("éàüöïçñøåæœß"), Ok(()));
        assert_eq!(check_policy("1111111111"), Err(PasswordProblem::TooShort));
        assert_eq!(check_policy("1234567890"), Err(PasswordProblem::TooShort));
        assert_eq!(
            check_policy(&"a".repeat(MAX_BYTES + 1)),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(check_policy("a long enough passphrase"), Ok(()));
    }

    #[test]
    fn every_listed_password_padded_to_length_is_refused() {
        for p in COMMON.lines().filter(|l| !l.is_empty()) {
            let padded = format!("{}{}", p.to_uppercase(), "1".repeat(MIN_CHARS));
            assert_eq!(check_policy(&padded), Err(PasswordProblem::Common), "{p}");
        }
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let pool = Argon2Pool::start(1, 4);
        let decoy = Arc::new(VerifiableHash::decoy());
        let h = hash("a long enough passphrase").await;
        assert!(h.starts_with("$argon2id$"));
        assert!(
            verify(&pool, &decoy, Some(&h), "a long enough passphrase")
                .await
                .unwrap()
        );
        assert!(
            !verify(&pool, &decoy, Some(&h), "a long enough passphrasE")
                .await
                .unwrap()
        );
        assert!(
            !verify(&pool, &decoy, None, "a long enough passphrase")
                .await
                .unwrap()
        );
    }
}
