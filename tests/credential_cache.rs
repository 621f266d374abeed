//! The verified-credential cache: a secret verified once is recognised without argon2, and
//! every change to the client or its secrets stops it at once.

mod common;

use std::time::{Duration, Instant};

use common::{Server, Tessera, http};
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";

struct Admin {
    token: String,
}

impl Admin {
    async fn new(t: &Tessera, s: &Server) -> Self {
        let (id, secret) = t.create_client("admin", "admin:read admin:write");
        let token = s.token(&id, &secret, &[]).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        Admin { token }
    }

    async fn call(
        &self,
        s: &Server,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = http()
            .request(method, s.url(&format!("/admin/v1{path}")))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn status(s: &Server, id: &str, secret: &str) -> u16 {
    s.token_request(Some((id, secret)), &[("grant_type", "client_credentials")])
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_change_stops_a_cached_credential_at_once() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let (id, first) = t.create_client("svc", "orders:read");
    let s = t.serve();
    let admin = Admin::new(&t, &s).await;
    let (code, added) = admin
        .call(&s, "POST", &format!("/clients/{id}/secrets"), None)
        .await;
    assert_eq!(code, 201);
    let second = added["client_secret"].as_str().unwrap().to_owned();

    // Both secrets verified (and cached) independently; repeated use keeps working.
    for _ in 0..3 {
        assert_eq!(status(&s, &id, &first).await, 200);
        assert_eq!(status(&s, &id, &second).await, 200);
    }
    // A wrong secret after a right one is refused.
    assert_eq!(status(&s, &id, "tsk_wrong").await, 401);
    let mut altered = first.clone();
    altered.pop();
    altered.push(if first.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(status(&s, &id, &altered).await, 401);

    // Deleting the first secret stops it at once; the second is unaffected.
    let (_, secrets) = admin
        .call(&s, "GET", &format!("/clients/{id}/secrets"), None)
        .await;
    let first_id = secrets["items"][0]["secret_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _) = admin
        .call(
            &s,
            "DELETE",
            &format!("/clients/{id}/secrets/{first_id}"),
            None,
        )
        .await;
    assert_eq!(code, 204);
    assert_eq!(status(&s, &id, &first).await, 401);
    assert_eq!(status(&s, &id, &second).await, 200);

    // A reset stops every older secret at once.
    let (code, reset) = admin
        .call(&s, "POST", &format!("/clients/{id}/reset-secret"), None)
        .await;
    assert_eq!(code, 200);
    let third = reset["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(status(&s, &id, &second).await, 401);
    assert_eq!(status(&s, &id, &third).await, 200);

    // Disable and enable.
    let path = format!("/clients/{id}");
    let (code, _) = admin
        .call(&s, "PATCH", &path, Some(json!({"enabled": false})))
        .await;
    assert_eq!(code, 200);
    assert_eq!(status(&s, &id, &third).await, 401);
    admin
        .call(&s, "PATCH", &path, Some(json!({"enabled": true})))
        .await;
    assert_eq!(status(&s, &id, &third).await, 200);

    // A scope change reaches the next token of a cached client.
    admin
        .call(&s, "PATCH", &path, Some(json!({"scopes": []})))
        .await;
    let resp = s
        .token_request(Some((&id, &third)), &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(resp.status(), 400, "no scope left to grant");

    // Deleted.
    let (code, _) = admin.call(&s, "DELETE", &path, None).await;
    assert_eq!(code, 204);
    assert_eq!(status(&s, &id, &third).await, 401);
}

#[tokio::test]
async fn an_expired_secret_stops_even_when_cached() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let (id, _) = t.create_client("svc", "orders:read");
    let s = t.serve();
    let admin = Admin::new(&t, &s).await;
    let expires = chrono::Utc::now() + chrono::Duration::seconds(3);
    let (code, added) = admin
        .call(
            &s,
            "POST",
            &format!("/clients/{id}/secrets"),
            Some(json!({"expires_at": expires.to_rfc3339()})),
        )
        .await;
    assert_eq!(code, 201, "{added}");
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(status(&s, &id, &secret).await, 200);
    assert_eq!(status(&s, &id, &secret).await, 200);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(status(&s, &id, &secret).await, 401);
}

#[tokio::test]
async fn changes_made_by_another_process_reach_the_cache() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let (id, secret) = t.create_client("svc", "orders:read");
    let s = t.serve();
    assert_eq!(status(&s, &id, &secret).await, 200);

    // The CLI works on the database directly; the server learns of it from the change log.
    assert!(t.cli(&["clients", "disable", &id]).status.success());
    let started = Instant::now();
    while status(&s, &id, &secret).await != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "disable never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(t.cli(&["clients", "enable", &id]).status.success());
    let reset = t.cli_json(&["clients", "secrets", "reset", &id]);
    let newest = reset["client_secret"].as_str().unwrap();
    let started = Instant::now();
    while status(&s, &id, newest).await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "reset never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status(&s, &id, &secret).await,
        401,
        "the old secret stopped"
    );
}
