//! `verify_access_token` against a one-key ES256 ring (`fuzz/fixtures`), at a fixed now.
//!
//! The first byte picks a mode (its value mod 8, so `0`–`4` in ASCII seeds; 5–7 are `0`):
//! - `0`: the rest, lossy UTF-8, is the token.
//! - `1`: the rest is the claims JSON, signed by the ring's signer (the server's own header):
//!   reaches claim parsing and the `iss`/`exp`/`nbf` checks behind the signature.
//! - `2`: `header JSON \n claims JSON`, signed with the fixture key: reaches `typ`/`kid`/`alg`
//!   handling with a good signature.
//! - `3`: a valid token with one part replaced: the next byte's value mod 3 picks the part,
//!   its bit 2 whether the rest goes in base64url-encoded (set) or verbatim (lossy UTF-8).
//! - `4`: typed claims, signed by the ring's signer: `exp`, `nbf`, `iat` as three little-endian
//!   i64 (so integer mutations reach the extremes), a byte of which-claims-are-present flags,
//!   then `\n`-separated `client_id`, `scope`, `jti`, `aud` (`,`-separated when an array), `iss`.
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
    let token = match mode % 8 {
        1 => f.sign_claims(rest),
        2 => {
            let (header, claims) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b""[..]),
            };
            f.sign_raw(header, claims)
        }
        3 => {
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
        4 => f.sign_claims(&typed_claims(rest)),
        _ => String::from_utf8_lossy(rest).into_owned(),
    };
    if let Ok(v) = verify_access_token(&f.ring, ISSUER, &token, now()) {
        // Only a signature by the ring's key gets here, and only unexpired, current claims.
        assert!(v.exp > NOW_SECONDS - 30 - 1);
        assert!(v.nbf.is_none_or(|nbf| nbf <= NOW_SECONDS + 30));
        let _ = v.has_scope("orders:read");
    }
});

/// Mode 4: claims JSON from binary `exp`/`nbf`/`iat`, presence flags and text fields.
fn typed_claims(data: &[u8]) -> Vec<u8> {
    let int = |data: &mut &[u8]| {
        let mut bytes = [0u8; 8];
        let n = data.len().min(8);
        bytes[..n].copy_from_slice(&data[..n]);
        *data = &data[n..];
        i64::from_le_bytes(bytes)
    };
    let mut rest = data;
    let (exp, nbf, iat) = (int(&mut rest), int(&mut rest), int(&mut rest));
    let (flags, rest) = rest
        .split_first()
        .map_or((0xff, &b""[..]), |(f, r)| (*f, r));
    let text = String::from_utf8_lossy(rest);
    let mut fields = text.split('\n');
    let mut field = || fields.next().unwrap_or_default().to_owned();
    let (client_id, scope, jti, aud, iss) = (field(), field(), field(), field(), field());
    let mut claims = serde_json::Map::new();
    let mut put = |bit: u8, name: &str, value: serde_json::Value| {
        if flags & bit != 0 {
            claims.insert(name.to_owned(), value);
        }
    };
    put(1, "iss", ISSUER.into());
    put(2, "nbf", nbf.into());
    put(4, "iat", iat.into());
    put(8, "aud", aud.split(',').collect::<Vec<_>>().into());
    put(16, "scope", scope.into());
    put(32, "jti", jti.into());
    put(64, "client_id", client_id.into());
    put(128, "exp", exp.into());
    if flags & 1 == 0 {
        claims.insert("iss".into(), iss.into());
    }
    if flags & 8 == 0 {
        claims.insert("aud".into(), aud.into());
    }
    serde_json::to_vec(&claims).expect("JSON")
}
