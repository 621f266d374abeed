//! Owner-bound clients: effective scopes are capped by the owner's, transitively.

mod common;

use common::{Server, Tessera, http, jwt_parts};
use serde_json::{Value, json};

async fn call(s: &Server, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = http()
        .request(method, s.url(&format!("/admin/v1{path}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn token(s: &Server, id: &str, secret: &str) -> String {
    s.token(id, secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn scope_of(s: &Server, id: &str, secret: &str) -> String {
    let t = token(s, id, secret).await;
    jwt_parts(&t).1["scope"].as_str().unwrap().to_owned()
}

fn creds(v: &Value) -> (String, String) {
    (
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn removing_a_scope_from_an_owner_removes_it_from_everything_it_owns() {
    let t = Tessera::new();
    t.create_api("orders", "https://api.example.com/orders", "read,write");
    let all = "admin:read admin:write orders:read orders:write";
    let (root_id, root_secret) = t.create_client("root", all);
    let s = t.serve();
    let root = token(&s, &root_id, &root_secret).await;
    let admin_scopes = json!(["admin:read", "admin:write", "orders:read", "orders:write"]);

    // root (CLI) → A → B → C, each created through the admin API by the one before.
    let (code, a) = call(
        &s,
        &root,
        "POST",
        "/clients",
        json!({"name": "a", "scopes": admin_scopes}),
    )
    .await;
    assert_eq!(code, 201, "{a}");
    let (a_id, a_secret) = creds(&a);
    let a_token = token(&s, &a_id, &a_secret).await;
    let (code, b) = call(
        &s,
        &a_token,
        "POST",
        "/clients",
        json!({"name": "b", "scopes": admin_scopes}),
    )
    .await;
    assert_eq!(code, 201, "{b}");
    let (b_id, b_secret) = creds(&b);
    let b_token = token(&s, &b_id, &b_secret).await;
    let (code, c) = call(
        &s,
        &b_token,
        "POST",
        "/clients",
        json!({"name": "c", "scopes": ["orders:read", "orders:write"]}),
    )
    .await;
    assert_eq!(code, 201, "{c}");
    let (c_id, c_secret) = creds(&c);
    assert_eq!(
        scope_of(&s, &c_id, &c_secret).await,
        "orders:read orders:write"
    );

    // The root takes orders:write from A: B's and C's next tokens lack it, at once.
    let (code, _) = call(
        &s,
        &root,
        "PATCH",
        &format!("/clients/{a_id}"),
        json!({"scopes": ["admin:read", "admin:write", "orders:read"]}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(scope_of(&s, &c_id, &c_secret).await, "orders:read");
    let b_scope = scope_of(&s, &b_id, &b_secret).await;
    assert!(!b_scope.contains("orders:write"), "{b_scope}");
    // C still lists orders:write as granted: the cap applies at the token endpoint.
    let (_, c_now) = call(&s, &root, "GET", &format!("/clients/{c_id}"), Value::Null).await;
    assert_eq!(c_now["scopes"], json!(["orders:read", "orders:write"]));

    // Given back, it returns.
    call(
        &s,
        &root,
        "PATCH",
        &format!("/clients/{a_id}"),
        json!({"scopes": admin_scopes}),
    )
    .await;
    assert_eq!(
        scope_of(&s, &c_id, &c_secret).await,
        "orders:read orders:write"
    );

    // Disabling A disables B and C.
    let (code, _) = call(
        &s,
        &root,
        "PATCH",
        &format!("/clients/{a_id}"),
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(code, 200);
    for (id, secret) in [(&b_id, &b_secret), (&c_id, &c_secret)] {
        let resp = s
            .token_request(Some((id, secret)), &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(resp.status(), 401, "owned client still gets tokens");
    }
}
