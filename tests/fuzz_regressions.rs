//! Inputs the fuzz targets in `fuzz/` found (or that their findings point at), kept as tests.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tessera::keys::{KeyEncryptionKey, SigningAlgorithm, SigningKeyRing, generate_signing_key};
use tessera::oauth::verify::verify_access_token;

const ISSUER: &str = "https://tessera.fuzz.invalid";
/// 2026-01-01T00:00:00Z, as in the fuzz target.
const NOW: i64 = 1_767_225_600;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

/// A ring with one ES256 key, active since a day before [`NOW`].
fn ring() -> SigningKeyRing {
    let dir = tempfile::tempdir().unwrap();
    let kek = KeyEncryptionKey::load_or_create(dir.path()).unwrap();
    let key = generate_signing_key(SigningAlgorithm::Es256, &kek).unwrap();
    let created = now() - chrono::Duration::days(1);
    let row = key.into_stored(created, created);
    SigningKeyRing::build(&[row], &kek, now(), Duration::from_secs(3600)).unwrap()
}

/// `claims` signed by the ring's signing key, with the server's own header.
fn signed(ring: &SigningKeyRing, claims: &str) -> String {
    ring.signer_at(now())
        .unwrap()
        .sign(claims.as_bytes())
        .unwrap()
}

/// bearer_verify, mode 1 (claims signed with the fixture key). Fuzz input, hex:
/// 317b22697373223a2268747470733a2f2f746573736572612e66757a7a2e696e76616c6964222c22636c69656e
/// 745f6964223a2261222c22617564223a2278222c22657870223a393232333337323033363835343737353830377d
/// i.e. `1{"iss":"https://tessera.fuzz.invalid","client_id":"a","aud":"x","exp":9223372036854775807}`.
///
/// Panicked with overflow checks on (debug builds, the fuzz build):
/// `attempt to add with overflow` at src/oauth/verify.rs:119 (`claims.exp + LEEWAY_SECONDS`).
/// Without overflow checks the sum wraps negative and a token valid until the end of time is
/// refused as expired. Reaching it needs a signature by a published key, so only this server
/// (or a holder of its key) can send it; still, verification must not panic on any claims.
#[test]
fn verify_does_not_overflow_on_exp_near_i64_max() {
    let ring = ring();
    for exp in [i64::MAX, i64::MAX - 29, i64::MAX - 30] {
        let token = signed(
            &ring,
            &format!(r#"{{"iss":"{ISSUER}","client_id":"a","aud":"x","exp":{exp}}}"#),
        );
        let verified = verify_access_token(&ring, ISSUER, &token, now());
        // Far in the future: valid, whatever else the fix decides about absurd lifetimes,
        // not "expired".
        if let Err(e) = &verified {
            assert_ne!(e.0, "expired", "exp = {exp}");
        }
    }
}

/// The same arithmetic on `nbf`: `nbf - LEEWAY_SECONDS` at src/oauth/verify.rs:122 underflows
/// for `nbf` near `i64::MIN` (`attempt to subtract with overflow`); wrapped, a token valid since
/// the beginning of time is refused as not yet valid.
#[test]
fn verify_does_not_overflow_on_nbf_near_i64_min() {
    let ring = ring();
    for nbf in [i64::MIN, i64::MIN + 29] {
        let token = signed(
            &ring,
            &format!(
                r#"{{"iss":"{ISSUER}","client_id":"a","aud":"x","exp":{exp},"nbf":{nbf}}}"#,
                exp = NOW + 600
            ),
        );
        let verified = verify_access_token(&ring, ISSUER, &token, now());
        assert!(verified.is_ok(), "nbf = {nbf}: {verified:?}");
    }
}
