//! Signing keys over real HTTP: algorithms, staged rotation, restarts, the key-encryption key.

mod common;

use std::time::{Duration, Instant};

use common::{Tessera, http, jwt_parts, verify_with_jwks};
use serde_json::Value;

const ORDERS: &str = "https://api.example.com/orders";

async fn jwks(server: &common::Server) -> Value {
    http()
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn setup(t: &Tessera) -> (String, String) {
    t.create_api("orders", ORDERS, "read,write");
    t.create_client("svc", "orders:read")
}

#[tokio::test]
async fn each_signing_algorithm_verifies_with_an_independent_library() {
    for (alg, kty) in [("ES256", "EC"), ("RS256", "RSA"), ("EdDSA", "OKP")] {
        let mut t = Tessera::new();
        t.set("TESSERA__KEYS__ALGORITHM", alg);
        let (id, secret) = setup(&t);
        let s = t.serve();
        let token = s.token(&id, &secret, &[]).await;
        let token = token["access_token"].as_str().unwrap();
        let (header, _) = jwt_parts(token);
        assert_eq!(header["alg"], alg);
        assert_eq!(header["typ"], "at+jwt");
        let set = jwks(&s).await;
        let key = &set["keys"][0];
        assert_eq!(key["kty"], kty, "{alg}");
        assert_eq!(key["alg"], alg);
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{alg} JWKS leaks {private}");
        }
        let claims = verify_with_jwks(&s, token, ORDERS).await;
        assert_eq!(claims["sub"], id.as_str());
    }
}

#[tokio::test]
async fn rotation_publishes_the_next_key_before_it_signs() {
    let mut t = Tessera::new();
    // One-second JWKS lifetime: the next key signs about six seconds after rotation.
    t.set("TESSERA__KEYS__JWKS_MAX_AGE_SECONDS", "1");
    let (id, secret) = setup(&t);
    let s = t.serve();
    let before = s.token(&id, &secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_kid = jwt_parts(&before).0["kid"].as_str().unwrap().to_owned();

    let rotated = t.cli_json(&["keys", "rotate"]);
    assert_eq!(rotated["state"], "next");
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);

    // Published within the refresh interval, while the old key still signs.
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let published = kids(&jwks(&s).await);
        if published.contains(&new_kid) {
            assert!(published.contains(&old_kid));
            break;
        }
        assert!(Instant::now() < deadline, "next key never published");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let during = s.token(&id, &secret, &[]).await;
    assert_eq!(
        jwt_parts(during["access_token"].as_str().unwrap()).0["kid"],
        old_kid.as_str(),
        "the next key must not sign before its pre-publication wait"
    );

    // After the wait the new key signs; the old one still verifies earlier tokens.
    let deadline = Instant::now() + Duration::from_secs(12);
    let after = loop {
        let token = s.token(&id, &secret, &[]).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        if jwt_parts(&token).0["kid"] == new_kid.as_str() {
            break token;
        }
        assert!(Instant::now() < deadline, "new key never started signing");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    verify_with_jwks(&s, &after, ORDERS).await;
    verify_with_jwks(&s, &before, ORDERS).await;

    let states: Vec<(String, String)> = t
        .cli_json(&["keys", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&(old_kid, "verifying".into())),
        "{states:?}"
    );
    assert!(states.contains(&(new_kid, "signing".into())), "{states:?}");
}

#[tokio::test]
async fn emergency_rotation_signs_at_once() {
    let t = Tessera::new();
    let (id, secret) = setup(&t);
    let s = t.serve();
    let first = s.token(&id, &secret, &[]).await;
    let old_kid = jwt_parts(first["access_token"].as_str().unwrap()).0["kid"].clone();
    let rotated = t.cli_json(&["keys", "rotate", "--now"]);
    assert_eq!(rotated["state"], "signing");
    let new_kid = rotated["kid"].clone();
    assert_ne!(new_kid, old_kid);
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let token = s.token(&id, &secret, &[]).await;
        let token = token["access_token"].as_str().unwrap();
        if jwt_parts(token).0["kid"] == new_kid {
            verify_with_jwks(&s, token, ORDERS).await;
            break;
        }
        assert!(Instant::now() < deadline, "emergency key not used");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    verify_with_jwks(&s, first["access_token"].as_str().unwrap(), ORDERS).await;
}

#[tokio::test]
async fn jwks_is_cacheable_and_answers_conditional_requests() {
    let t = Tessera::new();
    let s = t.serve();
    let resp = http()
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    let again = http()
        .get(s.url("/.well-known/jwks.json"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn a_restart_keeps_keys_and_clients() {
    let t = Tessera::new();
    let (id, secret) = setup(&t);
    let s = t.serve();
    let before = jwks(&s).await;
    s.token(&id, &secret, &[]).await;
    s.stop();

    let s = t.serve();
    assert_eq!(jwks(&s).await, before, "same JWKS after restart");
    let token = s.token(&id, &secret, &[]).await;
    verify_with_jwks(&s, token["access_token"].as_str().unwrap(), ORDERS).await;
}

#[tokio::test]
async fn a_wrong_key_encryption_key_stops_start_up() {
    let t = Tessera::new();
    t.serve().stop();
    // A key-encryption key from another installation.
    let other = Tessera::new();
    other.serve().stop();
    std::fs::copy(
        other.path().join("keys/kek.jwk"),
        t.path().join("keys/kek.jwk"),
    )
    .unwrap();
    let log = match t.try_serve() {
        Ok(_) => panic!("server started with the wrong key-encryption key"),
        Err(log) => log,
    };
    assert!(log.contains("cannot be decrypted"), "log: {log}");
    assert!(log.contains("keys.dir"), "log: {log}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_key_encryption_key_is_private_and_keys_are_sealed() {
    use std::os::unix::fs::PermissionsExt;
    let t = Tessera::new();
    t.serve().stop();
    let mode = std::fs::metadata(t.path().join("keys/kek.jwk"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The database holds no private key material in the clear.
    let text = String::from_utf8_lossy(&t.database_bytes()).into_owned();
    assert!(!text.contains("\"d\":"), "private JWK stored in the clear");
}

#[tokio::test]
async fn keys_rotate_automatically_after_rotate_after() {
    let mut t = Tessera::new();
    // Pre-publication is 1 + 5 s, so a rotation is due 2 s after the first key activates.
    t.set("TESSERA__KEYS__JWKS_MAX_AGE_SECONDS", "1");
    t.set("TESSERA__KEYS__ROTATE_AFTER", "8s");
    let (id, secret) = setup(&t);
    let s = t.serve();
    let first = s.token(&id, &secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_kid = jwt_parts(&first).0["kid"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    let new_kid = loop {
        let published = kids(&jwks(&s).await);
        if let Some(k) = published.iter().find(|k| **k != first_kid) {
            break k.clone();
        }
        assert!(Instant::now() < deadline, "no automatic rotation");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let token = s.token(&id, &secret, &[]).await;
        let token = token["access_token"].as_str().unwrap();
        if jwt_parts(token).0["kid"] == new_kid.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "rotated key never signed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Rotations do not pile up: never more than one key waiting to sign.
    let keys = t.cli_json(&["keys", "list"]);
    let waiting = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "next")
        .count();
    assert!(waiting <= 1, "{keys}");
}
