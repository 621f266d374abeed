//! Shared input decoding and fixtures for Tessera's fuzz targets (see `fuzz/README.md`).

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsSigner};
use tessera::keys::{KeyEncryptionKey, SigningAlgorithm, SigningKeyRing};

// ---------------------------------------------------------------------------------------------
// OAuth requests (token, introspection, revocation)
// ---------------------------------------------------------------------------------------------

/// The arguments of `TokenRequest::parse` / `TokenReference::parse`, decoded from fuzz input.
#[derive(Debug)]
pub struct OAuthInput<'a> {
    pub content_type: Option<Vec<u8>>,
    pub authorization: Vec<Vec<u8>>,
    pub body: &'a [u8],
}

/// Splits off the bytes up to the next `\n` (or everything).
fn next_line<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    match rest.iter().position(|b| *b == b'\n') {
        Some(i) => {
            let line = &rest[..i];
            *rest = &rest[i + 1..];
            line
        }
        None => std::mem::take(rest),
    }
}

/// Input layout: one flags byte, then `\n`-separated lines, then the body (the rest, which may
/// itself contain `\n`).
///
/// flags bits 0–1, the `Content-Type`: 0 `application/x-www-form-urlencoded`,
/// 1 the same in mixed case with `; charset=UTF-8`, 2 the next line verbatim, 3 absent.
/// Bits 2–3: how many `Authorization` values (0–3), one line each. Bits 4, 5, 6: whether
/// value 1, 2, 3 is `Basic base64(line)` (set) or the line verbatim (clear). Bit 7: write the
/// Basic values sloppily (`basic`, extra spaces) to reach the trimming and case folding.
pub fn decode_oauth(data: &[u8]) -> OAuthInput<'_> {
    let Some((&flags, mut rest)) = data.split_first() else {
        return OAuthInput {
            content_type: None,
            authorization: Vec::new(),
            body: &[],
        };
    };
    let content_type = match flags & 3 {
        0 => Some(b"application/x-www-form-urlencoded".to_vec()),
        1 => Some(b"Application/X-WWW-Form-Urlencoded ; charset=UTF-8".to_vec()),
        2 => Some(next_line(&mut rest).to_vec()),
        _ => None,
    };
    let count = (flags >> 2) & 3;
    let sloppy = flags & 0x80 != 0;
    let authorization = (0..count)
        .map(|i| {
            let line = next_line(&mut rest);
            if flags & (0x10 << i) == 0 {
                line.to_vec()
            } else if sloppy {
                format!("  basic   {} ", STANDARD.encode(line)).into_bytes()
            } else {
                format!("Basic {}", STANDARD.encode(line)).into_bytes()
            }
        })
        .collect();
    OAuthInput {
        content_type,
        authorization,
        body: rest,
    }
}

/// Renders a token-endpoint error the way the server would, so that path runs on fuzzed text.
pub fn render_error(e: &tessera::oauth::TokenError) {
    use actix_web::ResponseError;
    let code = e.code();
    assert!(!code.is_empty());
    let _ = e.to_string();
    let _ = e.error_response();
}

/// RFC 6749 §3.3 scope-token, restated independently of the crate.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

// ---------------------------------------------------------------------------------------------
// Bearer tokens
// ---------------------------------------------------------------------------------------------

/// The issuer the fuzzed tokens are verified against.
pub const ISSUER: &str = "https://tessera.fuzz.invalid";

/// The fixed "now" of the bearer target (2026-01-01T00:00:00Z): inputs reproduce exactly.
pub const NOW_SECONDS: i64 = 1_767_225_600;

/// [`NOW_SECONDS`] as a time.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW_SECONDS, 0).expect("valid constant")
}

/// A key ring with one ES256 key, its private JWK (to sign arbitrary headers) and a valid token.
pub struct BearerFixture {
    pub ring: SigningKeyRing,
    pub kid: String,
    pub signer: Box<dyn JwsSigner>,
    /// A token this ring issued at [`now`], valid for 900 s.
    pub valid_token: String,
}

/// `fuzz/fixtures`: a test-only key-encryption key and ES256 signing key, committed so that the
/// seed tokens in `corpus/bearer_verify/` verify and crashes reproduce across runs.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

const KEY_FILE: &str = "signing_key.json";

/// Loads the fixture, or, if `fuzz/fixtures` is missing, makes a throwaway key in a temp dir
/// (the fuzzing still works; the seed tokens then only reach `unknown key`).
pub fn bearer() -> &'static BearerFixture {
    static FIXTURE: LazyLock<BearerFixture> = LazyLock::new(|| {
        let dir = fixture_dir();
        let (kek, row) = if dir.join("kek.jwk").exists() && dir.join(KEY_FILE).exists() {
            load_fixture(&dir)
        } else {
            eprintln!(
                "tessera-fuzz: {} missing; using a throwaway key",
                dir.display()
            );
            let tmp = std::env::temp_dir().join(format!("tessera-fuzz-{}", std::process::id()));
            let made = make_fixture(&tmp);
            let _ = std::fs::remove_dir_all(&tmp);
            made
        };
        build_fixture(&kek, row)
    });
    &FIXTURE
}

fn load_fixture(dir: &Path) -> (KeyEncryptionKey, entity::signing_key::Model) {
    let kek = KeyEncryptionKey::load_or_create(dir).expect("fixture kek.jwk");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(KEY_FILE)).expect("fixture key"))
            .expect("fixture key JSON");
    let s = |k: &str| json[k].as_str().expect("fixture key field").to_owned();
    let t = |k: &str| {
        DateTime::parse_from_rfc3339(&s(k))
            .expect("fixture time")
            .with_timezone(&Utc)
    };
    let row = entity::signing_key::Model {
        kid: s("kid"),
        algorithm: s("algorithm"),
        public_jwk: s("public_jwk"),
        private_jwe: s("private_jwe"),
        created_at: t("created_at"),
        activates_at: t("activates_at"),
    };
    (kek, row)
}

/// A new KEK in `dir` and a new ES256 key sealed under it, active a day before [`now`].
fn make_fixture(dir: &Path) -> (KeyEncryptionKey, entity::signing_key::Model) {
    let kek = KeyEncryptionKey::load_or_create(dir).expect("kek");
    let key = tessera::keys::generate_signing_key(SigningAlgorithm::Es256, &kek).expect("key");
    let created = now() - chrono::Duration::days(1);
    let row = key.into_stored(created, created);
    (kek, row)
}

fn build_fixture(kek: &KeyEncryptionKey, row: entity::signing_key::Model) -> BearerFixture {
    let ring = SigningKeyRing::build(
        std::slice::from_ref(&row),
        kek,
        now(),
        Duration::from_secs(3600),
    )
    .expect("ring");
    assert_eq!(ring.len(), 1, "the fixture key must be published at now()");
    let private = kek.open(&row.kid, &row.private_jwe).expect("open");
    let private = Jwk::from_bytes(&private).expect("private JWK");
    let signer = Box::new(ES256.signer_from_jwk(&private).expect("signer"));
    let grant = tessera::oauth::Grant {
        scope: "orders:read orders:write".into(),
        audiences: vec!["https://orders.example".into()],
    };
    let valid_token = tessera::oauth::sign_access_token(&ring, ISSUER, "svc-a", &grant, 900, now())
        .expect("sign")
        .access_token;
    BearerFixture {
        ring,
        kid: row.kid,
        signer,
        valid_token,
    }
}

impl BearerFixture {
    /// `base64url(header) "." base64url(claims) "." base64url(signature)` with the fixture key,
    /// for any header and claims bytes.
    pub fn sign_raw(&self, header: &[u8], claims: &[u8]) -> String {
        let mut out = URL_SAFE_NO_PAD.encode(header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut out);
        let sig = self.signer.sign(out.as_bytes()).expect("sign");
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(sig, &mut out);
        out
    }

    /// Claims signed by the ring's own signer (the server's header).
    pub fn sign_claims(&self, claims: &[u8]) -> String {
        self.ring
            .signer_at(now())
            .expect("a signing key")
            .sign(claims)
            .expect("sign")
    }
}

/// Writes `fuzz/fixtures` (a new test-only key) and the `bearer_verify` seeds for it. Run with
/// `cargo test --manifest-path fuzz/Cargo.toml --lib -- --ignored mint_fixtures`.
#[cfg(test)]
mod mint {
    use super::*;

    #[test]
    #[ignore = "regenerates fuzz/fixtures and the bearer_verify seeds"]
    fn mint_fixtures() {
        let dir = fixture_dir();
        let _ = std::fs::remove_file(dir.join("kek.jwk"));
        let (kek, row) = make_fixture(&dir);
        let key = serde_json::json!({
            "_comment": "TEST-ONLY key for fuzzing; never use it anywhere else",
            "kid": row.kid,
            "algorithm": row.algorithm,
            "public_jwk": row.public_jwk,
            "private_jwe": row.private_jwe,
            "created_at": row.created_at.to_rfc3339(),
            "activates_at": row.activates_at.to_rfc3339(),
        });
        std::fs::write(
            dir.join(KEY_FILE),
            serde_json::to_string_pretty(&key).unwrap() + "\n",
        )
        .unwrap();
        let f = build_fixture(&kek, row);
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/bearer_verify");
        std::fs::create_dir_all(&corpus).unwrap();
        let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#, f.kid);
        let claims = format!(
            r#"{{"iss":"{ISSUER}","sub":"svc-a","aud":["https://orders.example","https://b.example"],"client_id":"svc-a","scope":"orders:read","iat":{n},"nbf":{n},"exp":{e},"jti":"j1"}}"#,
            n = NOW_SECONDS,
            e = NOW_SECONDS + 900
        );
        let typed = [
            &b"4"[..],
            &(NOW_SECONDS + 900).to_le_bytes(),
            &NOW_SECONDS.to_le_bytes(),
            &NOW_SECONDS.to_le_bytes(),
            b"\xff",
            b"svc-a\norders:read orders:write\nj1\nhttps://orders.example,https://b.example",
        ]
        .concat();
        let seeds: [(&str, Vec<u8>); 6] = [
            ("seed-raw-valid", [b"0", f.valid_token.as_bytes()].concat()),
            ("seed-claims", [b"1", claims.as_bytes()].concat()),
            (
                "seed-header-claims",
                [b"2", header.as_bytes(), b"\n", claims.as_bytes()].concat(),
            ),
            // Splice: replace the payload (part 1) with base64url of the rest.
            (
                "seed-splice-payload",
                [b"3", &[1u8 | 4][..], claims.as_bytes()].concat(),
            ),
            // Raw: the valid token with its signature cut short.
            // Typed claims (mode 4): binary exp/nbf/iat, every claim present.
            ("seed-typed-claims", typed),
            (
                "seed-raw-truncated",
                [b"0", &f.valid_token.as_bytes()[..f.valid_token.len() - 10]].concat(),
            ),
        ];
        for (name, bytes) in seeds {
            std::fs::write(corpus.join(name), bytes).unwrap();
        }
    }
}
