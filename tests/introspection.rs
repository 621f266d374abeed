//! Introspection (RFC 7662) and revocation (RFC 7009) over real HTTP, and the admin API's
//! revocation of one token or every token of a client.

mod common;

use std::time::Duration;

use common::{Server, Tessera, http, jwt_parts};
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";
const BILLING: &str = "https://api.example.com/billing";
/// Fixed, so tokens stay valid across a restart on another port.
const ISSUER: &str = "https://auth.example.com";

struct Fixture {
    t: Tessera,
    s: Server,
    /// Holds orders:read and billing:write.
    worker: (String, String),
    /// Another client, used to introspect.
    gateway: (String, String),
    /// A root client with the admin scopes.
    admin: (String, String),
}

fn fixture() -> Fixture {
    let mut t = Tessera::new();
    t.set("TESSERA__ISSUER", ISSUER);
    t.create_api("orders", ORDERS, "read,write");
    t.create_api("billing", BILLING, "read,write");
    let worker = t.create_client("worker", "orders:read billing:write");
    let gateway = t.create_client("gateway", "orders:read");
    let admin = t.create_client("admin", "admin:read admin:write");
    let s = t.serve();
    Fixture {
        t,
        s,
        worker,
        gateway,
        admin,
    }
}

async fn access_token(s: &Server, (id, secret): &(String, String)) -> String {
    s.token(id, secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `POST path` with a form body and Basic credentials; returns status, headers, body.
async fn post_form(
    s: &Server,
    path: &str,
    basic: Option<&(String, String)>,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = http().post(s.url(path)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

async fn introspect(s: &Server, caller: &(String, String), token: &str) -> Value {
    let (status, headers, body) =
        post_form(s, "/oauth2/introspect", Some(caller), &[("token", token)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers.get(CACHE_CONTROL).unwrap(), "no-store");
    serde_json::from_str(&body).expect("JSON")
}

async fn admin_post(s: &Server, bearer: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = http()
        .post(s.url(path))
        .header(AUTHORIZATION, format!("Bearer {bearer}"));
    if let Some(body) = body {
        req = req.header(CONTENT_TYPE, "application/json").json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Sleeps until the wall clock has just entered a new second, so that tokens issued before
/// and after a per-client cutoff (whole seconds) are told apart.
async fn next_second() {
    let now = chrono::Utc::now();
    let into = now.timestamp_subsec_millis() as u64;
    tokio::time::sleep(Duration::from_millis(1000 - into + 20)).await;
}

#[tokio::test]
async fn active_tokens_are_introspected_with_their_standard_claims() {
    let f = fixture();
    let token = access_token(&f.s, &f.worker).await;
    let (_, claims) = jwt_parts(&token);
    for basic in [true, false] {
        let answer = if basic {
            introspect(&f.s, &f.gateway, &token).await
        } else {
            // client_secret_post works as at the token endpoint.
            let (status, _, body) = post_form(
                &f.s,
                "/oauth2/introspect",
                None,
                &[
                    ("token", &token),
                    ("client_id", &f.gateway.0),
                    ("client_secret", &f.gateway.1),
                    ("token_type_hint", "access_token"),
                ],
            )
            .await;
            assert_eq!(status, 200, "{body}");
            serde_json::from_str(&body).unwrap()
        };
        assert_eq!(answer["active"], true, "{answer}");
        assert_eq!(answer["token_type"], "Bearer");
        assert_eq!(answer["client_id"], f.worker.0.as_str());
        for claim in ["scope", "sub", "aud", "iss", "exp", "iat", "nbf", "jti"] {
            assert_eq!(answer[claim], claims[claim], "{claim} in {answer}");
        }
        assert_eq!(answer["scope"], "billing:write orders:read");
        assert_eq!(answer["aud"], json!([BILLING, ORDERS]));
    }
    // Discovery advertises both endpoints.
    let meta: Value = http()
        .get(f.s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["introspection_endpoint"],
        format!("{ISSUER}/oauth2/introspect")
    );
    assert_eq!(
        meta["revocation_endpoint"],
        format!("{ISSUER}/oauth2/revoke")
    );
}

#[tokio::test]
async fn introspection_reports_inactive_tokens_without_detail() {
    let f = fixture();
    let token = access_token(&f.s, &f.worker).await;
    // Garbage, a tampered signature, and a token of another issuer are all just inactive.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    for bad in ["garbage", "a.b.c", tampered.as_str()] {
        let answer = introspect(&f.s, &f.gateway, bad).await;
        assert_eq!(answer, json!({"active": false}), "{bad}");
    }
    // A disabled client's unexpired token is inactive; enabling it again revives it.
    let id = f.worker.0.as_str();
    let old = token.clone();
    let out = f.t.cli(&["clients", "disable", id]);
    assert!(out.status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let answer = introspect(&f.s, &f.gateway, &token).await;
        if answer == json!({"active": false}) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still active: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Enabling it again does not revive tokens issued before the disable (SPEC §5); tokens
    // issued after it are active.
    assert!(f.t.cli(&["clients", "enable", id]).status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let token = loop {
        let resp =
            f.s.token_request(
                Some((&f.worker.0, &f.worker.1)),
                &[("grant_type", "client_credentials")],
            )
            .await;
        if resp.status() == 200 {
            let body: Value = resp.json().await.unwrap();
            break body["access_token"].as_str().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "not enabled again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        introspect(&f.s, &f.gateway, &old).await,
        json!({"active": false})
    );
    assert_eq!(introspect(&f.s, &f.gateway, &token).await["active"], true);
    // A deleted client's token is inactive.
    assert!(f.t.cli(&["clients", "delete", id]).status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while introspect(&f.s, &f.gateway, &token).await != json!({"active": false}) {
        assert!(
            std::time::Instant::now() < deadline,
            "deleted client's token active"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn introspection_and_revocation_callers_must_authenticate() {
    let f = fixture();
    let token = access_token(&f.s, &f.worker).await;
    for path in ["/oauth2/introspect", "/oauth2/revoke"] {
        // No credentials: 401 with a Basic challenge.
        let (status, headers, body) = post_form(&f.s, path, None, &[("token", &token)]).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(
            headers.get(WWW_AUTHENTICATE).unwrap(),
            "Basic realm=\"tessera\""
        );
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "invalid_client"
        );
        // A wrong secret: the same.
        let wrong = (f.gateway.0.clone(), format!("{}x", f.gateway.1));
        let (status, _, body) = post_form(&f.s, path, Some(&wrong), &[("token", &token)]).await;
        assert_eq!(status, 401, "{path}: {body}");
        // No token parameter: invalid_request.
        let (status, headers, body) = post_form(&f.s, path, Some(&f.gateway), &[]).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(headers.get(CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["error"],
            "invalid_request"
        );
        // A repeated token: invalid_request.
        let (status, _, body) = post_form(
            &f.s,
            path,
            Some(&f.gateway),
            &[("token", &token), ("token", &token)],
        )
        .await;
        assert_eq!(status, 400, "{path}: {body}");
        // JSON instead of a form: invalid_request.
        let resp = http()
            .post(f.s.url(path))
            .basic_auth(&f.gateway.0, Some(&f.gateway.1))
            .json(&json!({"token": token}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        // Other methods: 405.
        let resp = http().get(f.s.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 405, "{path}");
    }
    // None of that revoked anything.
    assert_eq!(introspect(&f.s, &f.gateway, &token).await["active"], true);
}

#[tokio::test]
async fn a_client_revokes_its_own_tokens_and_only_those() {
    let f = fixture();
    let token = access_token(&f.s, &f.worker).await;
    let other = access_token(&f.s, &f.worker).await;
    // Another client may not revoke it: refused, and it stays active.
    let (status, _, body) = post_form(
        &f.s,
        "/oauth2/revoke",
        Some(&f.gateway),
        &[("token", &token)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "unauthorized_client"
    );
    assert_eq!(introspect(&f.s, &f.gateway, &token).await["active"], true);
    // Its own client revokes it: 200, empty body; twice is fine too.
    for _ in 0..2 {
        let (status, headers, body) = post_form(
            &f.s,
            "/oauth2/revoke",
            Some(&f.worker),
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, "");
        assert_eq!(headers.get(CACHE_CONTROL).unwrap(), "no-store");
    }
    assert_eq!(
        introspect(&f.s, &f.gateway, &token).await,
        json!({"active": false})
    );
    // Only that token: its sibling is still active, and the client still gets new tokens.
    assert_eq!(introspect(&f.s, &f.gateway, &other).await["active"], true);
    let fresh = access_token(&f.s, &f.worker).await;
    assert_eq!(introspect(&f.s, &f.gateway, &fresh).await["active"], true);
    // Unknown tokens get 200 as RFC 7009 §2.2 says.
    let (status, _, _) = post_form(
        &f.s,
        "/oauth2/revoke",
        Some(&f.worker),
        &[("token", "garbage")],
    )
    .await;
    assert_eq!(status, 200);
    // The revocation is stored: a restarted server still reports the token inactive.
    let Fixture { t, s, gateway, .. } = f;
    s.stop();
    let s = t.serve();
    assert_eq!(
        introspect(&s, &gateway, &token).await,
        json!({"active": false})
    );
    assert_eq!(introspect(&s, &gateway, &other).await["active"], true);
}

#[tokio::test]
async fn a_revoked_admin_token_no_longer_opens_the_admin_api() {
    let f = fixture();
    let bearer = access_token(&f.s, &f.admin).await;
    let resp = http()
        .get(f.s.url("/admin/v1/clients"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, _, _) = post_form(
        &f.s,
        "/oauth2/revoke",
        Some(&f.admin),
        &[("token", &bearer)],
    )
    .await;
    assert_eq!(status, 200);
    let resp = http()
        .get(f.s.url("/admin/v1/clients"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers().get(WWW_AUTHENTICATE).unwrap(),
        "Bearer realm=\"tessera\", error=\"invalid_token\""
    );
}

#[tokio::test]
async fn admins_revoke_any_token_or_every_token_of_a_client() {
    let f = fixture();
    let bearer = access_token(&f.s, &f.admin).await;
    let token = access_token(&f.s, &f.worker).await;
    // One token, by value.
    let (status, body) = admin_post(
        &f.s,
        &bearer,
        "/admin/v1/tokens/revoke",
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(introspect(&f.s, &f.gateway, &token).await["active"], false);
    // Not a token of ours: a validation problem naming the field, nothing stored.
    let (status, body) = admin_post(
        &f.s,
        &bearer,
        "/admin/v1/tokens/revoke",
        Some(json!({"token": "garbage"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "token");
    let (status, _) = admin_post(
        &f.s,
        &bearer,
        "/admin/v1/tokens/revoke",
        Some(json!({"token": "x", "extra": 1})),
    )
    .await;
    assert!(status == 400 || status == 422, "{status}");

    // Every token of a client issued so far.
    next_second().await;
    let before: Vec<String> = vec![
        access_token(&f.s, &f.gateway).await,
        access_token(&f.s, &f.gateway).await,
    ];
    let path = format!("/admin/v1/clients/{}/revoke-tokens", f.gateway.0);
    let (status, body) = admin_post(&f.s, &bearer, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], f.gateway.0.as_str());
    let cutoff = chrono::DateTime::parse_from_rfc3339(body["revoked_before"].as_str().unwrap())
        .expect("RFC 3339 time");
    for t in &before {
        assert!(jwt_parts(t).1["iat"].as_i64().unwrap() <= cutoff.timestamp());
        assert_eq!(introspect(&f.s, &f.worker, t).await["active"], false);
    }
    // The client keeps its secrets: a token issued after the cutoff second is active.
    next_second().await;
    let after = access_token(&f.s, &f.gateway).await;
    assert_eq!(introspect(&f.s, &f.worker, &after).await["active"], true);
    // Unknown client: 404. Read-only admins may not revoke: 403.
    let (status, _) = admin_post(&f.s, &bearer, "/admin/v1/clients/nope/revoke-tokens", None).await;
    assert_eq!(status, 404);
    let reader = f.t.create_client("reader", "admin:read");
    let read_bearer = access_token(&f.s, &reader).await;
    let (status, _) = admin_post(&f.s, &read_bearer, &path, None).await;
    assert_eq!(status, 403);
    // Both revocations are audited, with the acting admin.
    let events: Value = http()
        .get(f.s.url("/admin/v1/audit-events"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["id"] == f.admin.0.as_str())
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert!(types.contains(&"token.revoked"), "{types:?}");
    assert!(types.contains(&"client.tokens_revoked"), "{types:?}");
    // Nothing in the audit trail or the database holds a token.
    let text = events.to_string();
    assert!(!text.contains(&token) && !text.contains(&before[0]));
}

#[tokio::test]
async fn the_command_line_revokes_every_token_of_a_client() {
    let f = fixture();
    next_second().await;
    let token = access_token(&f.s, &f.worker).await;
    let out = f.t.cli_json(&["clients", "revoke-tokens", &f.worker.0]);
    assert_eq!(out["client_id"], f.worker.0.as_str());
    assert!(out["revoked_before"].is_string());
    // The CLI wrote to the database; the running server learns it from the change log.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while introspect(&f.s, &f.gateway, &token).await["active"] != false {
        assert!(
            std::time::Instant::now() < deadline,
            "CLI revocation not seen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = f.t.cli(&["clients", "revoke-tokens", "nope"]);
    assert!(!out.status.success());
}
