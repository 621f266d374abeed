//! `verify_access_token` against a one-key ES256 ring (`fuzz/fixtures`), at a fixed now.
//!
//! The first byte picks a mode (its value mod 4, so `0`–`3` in ASCII seeds):
//! - `0`: the rest, lossy UTF-8, is the token.
//! - `1`: the rest is the claims JSON, signed by the ring's signer (the server's own header):
//!   reaches claim parsing and the `iss`/`exp`/`nbf` checks behind the signature.
//! - `2`: `header JSON \n claims JSON`, signed with the fixture key: reaches `typ`/`kid`/`alg`
//!   handling with a good signature.
//! - `3`: a valid token with one part replaced: the next byte's value mod 3 picks the part,
//!   its bit 2 whether the rest goes in base64url-encoded (set) or verbatim (lossy UTF-8).
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tessera::oauth::verify::verify_access_token;
use tessera_fuzz::{ISSUER, NOW_SECONDS, bearer, now};

fuzz_target!(|data: &[u8]| {
    let f = bearer();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = match mode % 4 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => f.sign_claims(rest),
        2 => {
            let (header, claims) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b""[..]),
            };
            f.sign_raw(header, claims)
        }
        _ => {
            let Some((&sel, rest)) = rest.split_first() else {
                return;
            };
            let replacement = if sel & 4 != 0 {
                URL_SAFE_NO_PAD.encode(rest)
            } else {
                String::from_utf8_lossy(rest).into_owned()
            };
            let mut parts: Vec<&str> = f.valid_token.split('.').collect();
            parts[usize::from(sel % 3)] = &replacement;
            parts.join(".")
        }
    };
    if let Ok(v) = verify_access_token(&f.ring, ISSUER, &token, now()) {
        // Only a signature by the ring's key gets here, and only unexpired, current claims.
        assert!(v.exp > NOW_SECONDS - 30 - 1);
        assert!(v.nbf.is_none_or(|nbf| nbf <= NOW_SECONDS + 30));
        let _ = v.has_scope("orders:read");
    }
});
