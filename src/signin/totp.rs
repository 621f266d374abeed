//! TOTP second factors (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step of clock
//! skew either way) with the `totp-rs` crate. SHA-1 because authenticator apps that do not
//! understand the `algorithm` parameter silently use it. Secrets are stored sealed under the
//! key-encryption key (as signing keys are), and each code is accepted once.

use rand::RngCore;
use sea_orm::DatabaseConnection;
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use super::SigninError;
use crate::keys::KeyEncryptionKey;
use crate::store;

/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds a code lasts.
pub const STEP_SECONDS: u64 = 30;
/// Steps of skew accepted either side of now.
pub const SKEW: u16 = 1;
/// Bytes of a new secret: 160 bits, the HMAC-SHA-1 output size RFC 4226 §4 recommends.
pub const SECRET_BYTES: usize = 20;

/// A TOTP secret; its `Debug` prints nothing of it.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(…)")
    }
}

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        TotpSecret(Zeroizing::new(bytes))
    }

    /// The secret as authenticator apps take it: base32 without padding.
    pub fn base32(&self) -> String {
        Secret::new(self.0.to_vec().into_boxed_slice())
            .to_base32()
            .trim_end_matches('=')
            .to_owned()
    }

    /// The `otpauth://` URI (the de-facto Key Uri Format) for `account` at `issuer`.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            enc(issuer),
            enc(account),
            self.base32(),
            enc(issuer),
        )
    }

    /// The step whose code `code` is, within the skew of `unix_seconds`.
    pub fn matching_step(&self, code: &str, unix_seconds: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        totp(&self.0, DIGITS, SKEW).ok()?.check(code, unix_seconds)
    }

    /// Sealed under the key-encryption key, for the database.
    pub fn seal(&self, kek: &KeyEncryptionKey) -> Result<String, SigninError> {
        Ok(kek.seal(&self.0)?)
    }

    /// Opens a secret sealed by [`seal`](Self::seal).
    pub fn open(kek: &KeyEncryptionKey, sealed: &str) -> Result<Self, SigninError> {
        Ok(TotpSecret(Zeroizing::new(kek.open("totp", sealed)?)))
    }
}

fn totp(secret: &[u8], digits: u8, skew: u16) -> Result<Totp, totp_rs::TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(skew)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .build()
}

/// Seconds since the Unix epoch.
pub fn now_seconds() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Checks `code` against the administrator's TOTP secret and accepts it once: a code of a
/// step at or before the last one accepted is refused, decided by one conditional UPDATE so
/// concurrent requests (on any replica) cannot both succeed. `false` for a wrong, replayed or
/// missing credential.
pub async fn verify_code(
    db: &DatabaseConnection,
    kek: &KeyEncryptionKey,
    administrator_id: &str,
    code: &str,
) -> Result<bool, SigninError> {
    let Some(sealed) = store::signin::totp_secret(db, administrator_id).await? else {
        return Ok(false);
    };
    let secret = TotpSecret::open(kek, &sealed)?;
    let Some(step) = secret.matching_step(code, now_seconds()) else {
        return Ok(false);
    };
    let step = i64::try_from(step).map_err(|_| SigninError::Corrupt("TOTP step"))?;
    Ok(store::signin::accept_totp_step(db, administrator_id, step).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 rows: the seed is the ASCII of "12345678901234567890" and the
    /// codes have 8 digits.
    #[test]
    fn rfc_6238_test_vectors() {
        let t = totp(b"12345678901234567890", 8, 0).unwrap();
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(t.generate(time).to_string(), code, "T = {time}");
            assert_eq!(t.check(code, time), Some(time / 30));
        }
    }

    #[test]
    fn six_digit_codes_match_within_one_step_either_way_only() {
        let s = TotpSecret(Zeroizing::new(b"12345678901234567890".to_vec()));
        let t = totp(&s.0, DIGITS, 0).unwrap();
        let now = 1_234_567_890;
        let code = t.generate(now).to_string();
        assert_eq!(code, "005924", "the last six digits of the 8-digit vector");
        assert_eq!(s.matching_step(&code, now), Some(now / 30));
        assert_eq!(s.matching_step(&code, now + 30), Some(now / 30));
        assert_eq!(s.matching_step(&code, now - 30), Some(now / 30));
        assert_eq!(s.matching_step(&code, now + 60), None);
        assert_eq!(s.matching_step(&code, now - 60), None);
        assert_eq!(s.matching_step("00592", now), None);
        assert_eq!(s.matching_step("0059244", now), None);
        assert_eq!(s.matching_step("+05924", now), None);
    }

    #[test]
    fn the_uri_carries_the_secret_and_parameters() {
        let s = TotpSecret::generate();
        let uri = s.otpauth_uri("Tessera", "ada@example.com");
        assert!(uri.starts_with("otpauth://totp/Tessera:ada%40example%2Ecom?secret="));
        assert!(uri.contains(&s.base32()));
        assert!(uri.ends_with("&algorithm=SHA1&digits=6&period=30"));
        assert_eq!(s.base32().len(), 32);
        assert!(!format!("{s:?}").contains(&s.base32()));
    }

    #[test]
    fn sealed_secrets_open_under_the_same_key_only() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let kek = KeyEncryptionKey::load_or_create(a.path()).unwrap();
        let other = KeyEncryptionKey::load_or_create(b.path()).unwrap();
        let s = TotpSecret::generate();
        let sealed = s.seal(&kek).unwrap();
        assert!(!sealed.contains(&s.base32()));
        assert_eq!(
            TotpSecret::open(&kek, &sealed).unwrap().base32(),
            s.base32()
        );
        assert!(TotpSecret::open(&other, &sealed).is_err());
    }
}
