//! No secret, token or argon2 hash in any log, even at debug level. (Every other test checks
//! its servers' logs at the default level too: see `Server`'s `Drop` in tests/common.)

mod common;

use common::{Tessera, http, leaks};
use serde_json::json;

#[tokio::test]
async fn debug_logs_of_a_busy_session_hold_no_credentials() {
    let mut t = Tessera::new();
    t.set("RUST_LOG", "debug");
    t.create_api("orders", "https://api.example.com/orders", "read,write");
    let (admin, admin_secret) = t.create_client("admin", "admin:read admin:write");
    let (id, secret) = t.create_client("worker", "orders:read");
    let mut s = t.serve();
    // Right and wrong secrets, both auth methods, introspection, revocation, admin writes.
    let token = s.token(&id, &secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let near_miss = format!("{secret}x");
    let resp = s
        .token_request(
            Some((&id, &near_miss)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.status(), 401);
    let resp = http()
        .post(s.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for path in ["/oauth2/introspect", "/oauth2/revoke"] {
        let resp = http()
            .post(s.url(path))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    let bearer = s.token(&admin, &admin_secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let created: serde_json::Value = http()
        .post(s.url("/admin/v1/clients"))
        .bearer_auth(&bearer)
        .json(&json!({"name": "made-by-api", "scopes": ["orders:read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new_id = created["client_id"].as_str().unwrap().to_owned();
    let new_secret = created["client_secret"].as_str().unwrap().to_owned();
    let reset = http()
        .post(s.url(&format!("/admin/v1/clients/{new_id}/reset-secret")))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    // A bearer token in a bad Authorization header, and a bad token at the admin API.
    let resp = http()
        .get(s.url("/admin/v1/clients"))
        .header("Authorization", format!("Bearer {token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // Stop the server cleanly so everything it buffered is in the log.
    std::process::Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status()
        .unwrap();
    s.child.wait().unwrap();
    let log = s.log();
    assert!(log.contains("DEBUG"), "not a debug log");
    assert!(
        log.contains("x-request-id") || log.contains("id="),
        "no request ids"
    );
    assert_eq!(leaks(&log), Vec::<String>::new());
    for value in [
        &secret,
        &near_miss,
        &token,
        &bearer,
        &new_secret,
        &admin_secret,
    ] {
        assert!(!log.contains(value.as_str()), "a credential is in the log");
    }
}
