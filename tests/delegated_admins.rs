//! Delegated admins (issue #12) over real HTTP against the real binary: object-level
//! authorization in the admin API, roles that would escalate, the acting client's current
//! rights, durable cutoffs, the lifetime clamp, the secret format and the 10-secret limit,
//! secrets sent as client ids, the owner chain, and database file modes and inputs.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Server, Tessera, http, jwt_parts};
use reqwest::Method;
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";
const BILLING: &str = "https://api.example.com/billing";
/// Fixed, so tokens stay valid across a restart on another port.
const ISSUER: &str = "https://auth.example.com";
const PROBLEM: &str = "application/problem+json";
/// The README's `orders-admin`: a delegated admin made by the root admin.
const DELEGATED: [&str; 4] = ["admin:read", "admin:write", "orders:read", "orders:write"];

/// `(client_id, client_secret)`.
type Creds = (String, String);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// An admin API response reduced to what the tests look at.
struct Reply {
    status: u16,
    content_type: String,
    challenge: String,
    body: Value,
}

impl Reply {
    /// The body for assertion messages, with secrets and tokens blanked out.
    fn shown(&self) -> String {
        redact(&self.body)
    }

    fn is_problem(&self, status: u16) -> bool {
        self.status == status && self.content_type.starts_with(PROBLEM)
    }

    /// Asserts `status`; returns the body.
    #[track_caller]
    fn ok(&self, status: u16, what: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "{what}: expected {status}, got {} {}",
            self.status,
            self.shown()
        );
        self.body.clone()
    }

    /// Asserts an RFC 9457 problem with `status`; returns it.
    #[track_caller]
    fn problem(&self, status: u16, what: &str) -> Value {
        assert!(
            self.is_problem(status),
            "{what}: expected a {status} problem, got {} ({:?}) {}",
            self.status,
            self.content_type,
            self.shown()
        );
        self.body.clone()
    }
}

/// `v` as text with every `client_secret` and `access_token` member blanked, truncated.
fn redact(v: &Value) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "client_secret" || k == "access_token" {
                        *x = Value::String("<redacted>".into());
                    } else {
                        walk(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v = v.clone();
    walk(&mut v);
    let text = v.to_string();
    if text.chars().count() > 600 {
        format!("{}…", text.chars().take(600).collect::<String>())
    } else {
        text
    }
}

/// Calls `/admin/v1` of one server with one bearer token.
#[derive(Clone)]
struct Admin {
    base: String,
    bearer: String,
}

impl Admin {
    fn of(s: &Server, bearer: &str) -> Admin {
        Admin {
            base: s.url.clone(),
            bearer: bearer.to_owned(),
        }
    }

    /// Sends `method path`; a body goes as JSON (merge patch for PATCH), none without one.
    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = http()
            .request(method.clone(), format!("{}/admin/v1{path}", self.base))
            .bearer_auth(&self.bearer);
        if let Some(b) = body {
            let ct = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            req = req.header("content-type", ct).body(b.to_string());
        }
        let resp = req.send().await.expect("admin request");
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let content_type = header("content-type");
        let challenge = header("www-authenticate");
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(if text.is_empty() {
            Value::Null
        } else {
            Value::String(text)
        });
        Reply {
            status,
            content_type,
            challenge,
            body,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    /// `POST` without a body.
    async fn post_empty(&self, path: &str) -> Reply {
        self.send(Method::POST, path, None).await
    }

    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// `POST /clients`, asserting 201; returns the new client's credentials.
    async fn create(&self, body: Value) -> Creds {
        let what = format!("POST /clients {body}");
        creds(&self.post("/clients", &body).await.ok(201, &what))
    }

    /// `GET /clients/{id}`, asserting 200.
    async fn client(&self, id: &str) -> Value {
        self.get(&format!("/clients/{id}"))
            .await
            .ok(200, &format!("GET /clients/{id}"))
    }

    /// The ids of `GET /clients?limit=1000` and its `total`.
    async fn listed(&self, what: &str) -> (BTreeSet<String>, u64) {
        let page = self.get("/clients?limit=1000").await.ok(200, what);
        let ids = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no items in {}", redact(&page)))
            .iter()
            .map(|c| c["client_id"].as_str().expect("client_id").to_owned())
            .collect();
        (ids, page["total"].as_u64().expect("total"))
    }

    /// The secret ids of `GET /clients/{id}/secrets`.
    async fn secret_ids(&self, id: &str) -> Vec<String> {
        let page = self
            .get(&format!("/clients/{id}/secrets"))
            .await
            .ok(200, &format!("GET /clients/{id}/secrets"));
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["secret_id"].as_str().expect("secret_id").to_owned())
            .collect()
    }
}

fn creds(v: &Value) -> Creds {
    (
        v["client_id"].as_str().expect("client_id").to_owned(),
        v["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    )
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

/// A token request by Basic; status and JSON body.
async fn try_token(s: &Server, (id, secret): &Creds) -> (u16, Value) {
    let resp = s
        .token_request(
            Some((id.as_str(), secret.as_str())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// An access token (every granted scope), asserting success.
async fn token(s: &Server, (id, secret): &Creds) -> String {
    s.token(id, secret, &[]).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A fresh admin caller for `c`.
async fn admin(s: &Server, c: &Creds) -> Admin {
    Admin::of(s, &token(s, c).await)
}

/// The granted `scope` of a fresh token of `c`.
async fn scope_of(s: &Server, c: &Creds) -> String {
    let t = token(s, c).await;
    jwt_parts(&t).1["scope"].as_str().unwrap_or("").to_owned()
}

/// `POST /oauth2/introspect` as `caller` (Basic); asserts 200 and returns the answer.
async fn introspect(s: &Server, (id, secret): &Creds, token: &str) -> Value {
    let resp = http()
        .post(s.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection request");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "introspection answered {status}: {body}");
    body
}

/// Sleeps until the wall clock has just entered a new second, so that tokens issued before
/// and after a per-client cutoff (whole seconds) are told apart.
async fn next_second() {
    let into = chrono::Utc::now().timestamp_subsec_millis() as u64;
    tokio::time::sleep(Duration::from_millis(1000 - into.min(999) + 20)).await;
}

/// Records a failure unless `r` is a problem with `status`.
fn want_problem(failures: &mut Vec<String>, r: &Reply, status: u16, what: &str) {
    if !r.is_problem(status) {
        failures.push(format!(
            "{what}: expected a {status} problem, got {} ({:?}) {}",
            r.status,
            r.content_type,
            r.shown()
        ));
    }
}

/// Records a failure unless `r` has `status`.
fn want_status(failures: &mut Vec<String>, r: &Reply, status: u16, what: &str) {
    if r.status != status {
        failures.push(format!(
            "{what}: expected {status}, got {} {}",
            r.status,
            r.shown()
        ));
    }
}

#[track_caller]
fn assert_no_failures(failures: &[String]) {
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The fields an admin may set, plus `owner` and `updated_at`: what "unchanged" compares.
fn settable(c: &Value) -> Value {
    json!({
        "name": c["name"], "description": c["description"], "enabled": c["enabled"],
        "scopes": c["scopes"], "roles": c["roles"], "allowed_ips": c["allowed_ips"],
        "token_ttl_seconds": c["token_ttl_seconds"], "owner": c["owner"],
        "updated_at": c["updated_at"],
    })
}

/// One server with `orders` and `billing` APIs, a root admin (CLI) holding every scope, a
/// delegated admin D made by the root admin, and a plain sibling client made by the root.
/// `s` comes first so the server is killed before the temp dir goes.
struct Org {
    s: Server,
    t: Tessera,
    root: Creds,
    root_api: Admin,
    d: Creds,
    d_api: Admin,
    sibling: Creds,
}

async fn org() -> Org {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    t.create_api("billing", BILLING, "read,write");
    let root = t.create_client(
        "root",
        "admin:read admin:write orders:read orders:write billing:read billing:write",
    );
    let s = t.serve();
    let root_api = admin(&s, &root).await;
    let d = root_api
        .create(json!({"name": "orders-admin", "scopes": DELEGATED}))
        .await;
    let sibling = root_api
        .create(json!({"name": "sibling", "scopes": ["orders:read"]}))
        .await;
    let d_api = admin(&s, &d).await;
    Org {
        s,
        t,
        root,
        root_api,
        d,
        d_api,
        sibling,
    }
}

/// Stops `s` and serves `t` again with `token.ttl_seconds` = `token.max_ttl_seconds` = `secs`
/// (the default lifetime may not exceed the maximum).
fn restart_with_max_ttl(t: &mut Tessera, s: Server, secs: u32) -> Server {
    s.stop();
    t.set("TESSERA__TOKEN__MAX_TTL_SECONDS", &secs.to_string())
        .set("TESSERA__TOKEN__TTL_SECONDS", &secs.to_string());
    t.serve()
}

/// Sets a CLI client's `token_ttl_seconds`.
fn set_ttl(t: &Tessera, id: &str, secs: u32) {
    let out = t.cli(&[
        "clients",
        "update",
        id,
        "--token-ttl-seconds",
        &secs.to_string(),
    ]);
    assert!(
        out.status.success(),
        "clients update --token-ttl-seconds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// 1. Object-level authorization
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_delegated_admin_gets_404_on_every_client_endpoint_outside_its_subtree_and_nothing_changes()
 {
    let o = org().await;
    let root_token = token(&o.s, &o.root).await;
    let sibling_token = token(&o.s, &o.sibling).await;
    let mut before = Vec::new();
    for (name, id) in [("root", &o.root.0), ("sibling", &o.sibling.0)] {
        let client = settable(&o.root_api.client(id).await);
        let secrets = o.root_api.secret_ids(id).await;
        assert_eq!(secrets.len(), 1, "{name} has one secret");
        before.push((name, id.clone(), client, secrets));
    }

    let mut failures = Vec::new();
    for (name, id, _, secrets) in &before {
        let p = format!("/clients/{id}");
        let attempts: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, p.clone(), None),
            (
                Method::PUT,
                p.clone(),
                Some(json!({"name": "taken", "scopes": ["orders:read"], "enabled": false})),
            ),
            (
                Method::PATCH,
                p.clone(),
                Some(json!({"enabled": false, "description": "taken"})),
            ),
            (Method::GET, format!("{p}/secrets"), None),
            (Method::POST, format!("{p}/secrets"), Some(json!({}))),
            (Method::POST, format!("{p}/secrets"), None),
            (Method::DELETE, format!("{p}/secrets/{}", secrets[0]), None),
            (Method::POST, format!("{p}/reset-secret"), None),
            (Method::POST, format!("{p}/revoke-tokens"), None),
            (Method::DELETE, p.clone(), None),
        ];
        for (method, path, body) in attempts {
            let r = o.d_api.send(method.clone(), &path, body.as_ref()).await;
            want_problem(
                &mut failures,
                &r,
                404,
                &format!("D → {method} {path} (the {name} client)"),
            );
        }
    }

    // Nothing changed: same fields, same secrets, old secrets and tokens still good.
    for (name, id, client, secrets) in &before {
        let now = o.root_api.client(id).await;
        if settable(&now) != *client {
            failures.push(format!(
                "the {name} client changed: was {client}, now {}",
                settable(&now)
            ));
        }
        let now = o.root_api.secret_ids(id).await;
        if now != *secrets {
            failures.push(format!(
                "the {name} client's secrets changed: were {secrets:?}, now {now:?}"
            ));
        }
    }
    for (name, c) in [("root", &o.root), ("sibling", &o.sibling)] {
        let got = try_token(&o.s, c).await;
        if got.0 != 200 {
            failures.push(format!(
                "the {name} client's old secret no longer gets a token: {} {}",
                got.0, got.1["error"]
            ));
        }
    }
    for (name, t) in [("root", &root_token), ("sibling", &sibling_token)] {
        let answer = introspect(&o.s, &o.root, t).await;
        if answer["active"] != true {
            failures.push(format!(
                "the {name} client's token became inactive: {answer}"
            ));
        }
    }
    let sibling = o.root_api.client(&o.sibling.0).await;
    if sibling["enabled"] != true {
        failures.push(format!(
            "the sibling is no longer enabled: {}",
            redact(&sibling)
        ));
    }
    assert_no_failures(&failures);
}

#[tokio::test]
async fn a_delegated_admins_client_list_shows_only_its_subtree() {
    let o = org().await;
    let child = o
        .d_api
        .create(json!({"name": "child", "scopes": ["orders:read"]}))
        .await;
    let sub_admin = o
        .d_api
        .create(
            json!({"name": "sub-admin", "scopes": ["admin:read", "admin:write", "orders:read"]}),
        )
        .await;
    let sub_api = admin(&o.s, &sub_admin).await;
    let grandchild = sub_api
        .create(json!({"name": "grandchild", "scopes": ["orders:read"]}))
        .await;

    let (ids, total) = o.d_api.listed("D: GET /clients").await;
    assert_eq!(
        ids,
        set(&[&child.0, &sub_admin.0, &grandchild.0]),
        "D's list: exactly its subtree (child, sub-admin, grandchild); \
         D is {}, root {}, sibling {}",
        o.d.0,
        o.root.0,
        o.sibling.0
    );
    assert_eq!(total, 3, "D's list total = its subtree size");
    // Paging counts the same subtree.
    let page = o
        .d_api
        .get("/clients?offset=0&limit=1")
        .await
        .ok(200, "D: page of 1");
    assert_eq!(
        page["total"],
        3,
        "total of a page of D's list: {}",
        redact(&page)
    );
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));

    let (ids, total) = sub_api.listed("sub-admin: GET /clients").await;
    assert_eq!(ids, set(&[&grandchild.0]), "sub-admin's list");
    assert_eq!(total, 1);

    // The root admin still sees everything.
    let (ids, _) = o.root_api.listed("root: GET /clients").await;
    for id in [&o.d.0, &o.sibling.0, &child.0, &sub_admin.0, &grandchild.0] {
        assert!(ids.contains(id), "root's list lacks {id}");
    }
}

#[tokio::test]
async fn a_delegated_admin_may_read_itself_and_manage_its_own_secrets_but_not_change_its_own_rights()
 {
    let o = org().await;
    o.root_api
        .post(
            "/roles",
            &json!({"name": "orders-ro", "scopes": ["orders:read"]}),
        )
        .await
        .ok(201, "root creates role orders-ro");
    let me = format!("/clients/{}", o.d.0);
    let mut failures = Vec::new();

    // Reading itself.
    let r = o.d_api.get(&me).await;
    want_status(&mut failures, &r, 200, "D → GET itself");
    if r.status == 200 && r.body["client_id"] != o.d.0.as_str() {
        failures.push(format!("D → GET itself: {}", r.shown()));
    }
    let before = settable(&o.root_api.client(&o.d.0).await);

    // Its rights, each alone: 403, nothing changes.
    let refused = [
        json!({"scopes": ["admin:read", "admin:write", "orders:read"]}),
        json!({"scopes": ["admin:read", "admin:write", "orders:read", "orders:write", "billing:read"]}),
        json!({"enabled": false}),
        json!({"token_ttl_seconds": 300}),
        json!({"allowed_ips": ["127.0.0.1"]}),
        json!({"roles": ["orders-ro"]}),
    ];
    for body in &refused {
        let r = o.d_api.patch(&me, body).await;
        want_problem(&mut failures, &r, 403, &format!("D → PATCH itself {body}"));
    }
    let r = o
        .d_api
        .put(
            &me,
            &json!({"name": "orders-admin", "scopes": ["admin:read", "admin:write", "orders:read"]}),
        )
        .await;
    want_problem(&mut failures, &r, 403, "D → PUT itself with fewer scopes");
    let r = o.d_api.delete(&me).await;
    want_problem(&mut failures, &r, 403, "D → DELETE itself");
    let after = settable(&o.root_api.client(&o.d.0).await);
    if after != before {
        failures.push(format!("D changed itself: was {before}, now {after}"));
    }

    // Name and description only: allowed.
    let r = o
        .d_api
        .patch(&me, &json!({"description": "orders team"}))
        .await;
    want_status(&mut failures, &r, 200, "D → PATCH its own description");
    if r.status == 200 && r.body["description"] != "orders team" {
        failures.push(format!("PATCH description answered {}", r.shown()));
    }
    let r = o.d_api.patch(&me, &json!({"name": "orders-admin-2"})).await;
    want_status(&mut failures, &r, 200, "D → PATCH its own name");
    let r = o
        .d_api
        .put(
            &me,
            &json!({"name": "orders-admin-3", "description": "orders team", "scopes": DELEGATED}),
        )
        .await;
    want_status(
        &mut failures,
        &r,
        200,
        "D → PUT itself changing only the name",
    );
    let now = o.root_api.client(&o.d.0).await;
    if now["scopes"] != json!(DELEGATED) || now["enabled"] != true {
        failures.push(format!("D's rights after renaming: {}", redact(&now)));
    }

    // Its own secrets: list, add, delete, reset.
    let secrets = format!("{me}/secrets");
    let r = o.d_api.get(&secrets).await;
    want_status(&mut failures, &r, 200, "D → GET its own secrets");
    let r = o.d_api.post(&secrets, &json!({})).await;
    want_status(&mut failures, &r, 201, "D → POST its own secret");
    if r.status == 201 {
        let added = (
            o.d.0.clone(),
            r.body["client_secret"].as_str().unwrap_or("").to_owned(),
        );
        let got = try_token(&o.s, &added).await;
        if got.0 != 200 {
            failures.push(format!("D's added secret gets no token: {}", got.0));
        }
        let sid = r.body["secret_id"].as_str().unwrap_or("");
        let r = o.d_api.delete(&format!("{secrets}/{sid}")).await;
        want_status(&mut failures, &r, 204, "D → DELETE its own added secret");
    }
    let r = o.d_api.post_empty(&format!("{me}/reset-secret")).await;
    want_status(&mut failures, &r, 200, "D → POST its own reset-secret");
    if r.status == 200 {
        let fresh = (
            o.d.0.clone(),
            r.body["client_secret"].as_str().unwrap_or("").to_owned(),
        );
        let got = try_token(&o.s, &fresh).await;
        if got.0 != 200 {
            failures.push(format!("D's reset secret gets no token: {}", got.0));
        }
    }
    assert_no_failures(&failures);
}

#[tokio::test]
async fn roles_apis_and_signing_keys_are_changed_only_by_root_clients() {
    let o = org().await;
    o.root_api
        .post(
            "/roles",
            &json!({"name": "orders-ro", "scopes": ["orders:read"]}),
        )
        .await
        .ok(201, "root creates role orders-ro");
    let keys_before = o.root_api.get("/keys").await.ok(200, "root: GET /keys");
    let mut failures = Vec::new();

    // Reading stays allowed with admin:read.
    for path in [
        "/roles",
        "/roles/orders-ro",
        "/apis",
        "/apis/billing",
        "/keys",
    ] {
        let r = o.d_api.get(path).await;
        want_status(&mut failures, &r, 200, &format!("D → GET {path}"));
    }

    let attempts: Vec<(Method, &str, Option<Value>)> = vec![
        (
            Method::POST,
            "/roles",
            Some(json!({"name": "d-role", "scopes": ["orders:read"]})),
        ),
        (
            Method::POST,
            "/roles",
            Some(json!({"name": "d-empty", "scopes": []})),
        ),
        (
            Method::PUT,
            "/roles/orders-ro",
            Some(json!({"scopes": ["orders:read", "orders:write"]})),
        ),
        (Method::DELETE, "/roles/orders-ro", None),
        (
            Method::POST,
            "/apis",
            Some(
                json!({"name": "inventory", "audience": "https://api.example.com/inventory",
                        "permissions": ["read"]}),
            ),
        ),
        (
            Method::PUT,
            "/apis/billing",
            Some(json!({"audience": "https://billing.example.com", "permissions": ["read"]})),
        ),
        (Method::DELETE, "/apis/billing", None),
        (Method::POST, "/keys/rotate", Some(json!({}))),
        (Method::POST, "/keys/rotate", Some(json!({"now": true}))),
    ];
    for (method, path, body) in attempts {
        let r = o.d_api.send(method.clone(), path, body.as_ref()).await;
        let what = format!(
            "D → {method} {path} {}",
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        want_problem(&mut failures, &r, 403, &what);
    }

    // Nothing changed.
    let role = o.root_api.get("/roles/orders-ro").await;
    if role.status != 200 || role.body["scopes"] != json!(["orders:read"]) {
        failures.push(format!(
            "role orders-ro after D's attempts: {} {}",
            role.status,
            role.shown()
        ));
    }
    for path in ["/roles/d-role", "/roles/d-empty", "/apis/inventory"] {
        let r = o.root_api.get(path).await;
        want_problem(
            &mut failures,
            &r,
            404,
            &format!("root → GET {path} (D's creation)"),
        );
    }
    let api = o.root_api.get("/apis/billing").await;
    if api.status != 200
        || api.body["audience"] != BILLING
        || api.body["permissions"] != json!(["read", "write"])
    {
        failures.push(format!(
            "API billing after D's attempts: {} {}",
            api.status,
            api.shown()
        ));
    }
    let keys_after = o.root_api.get("/keys").await.ok(200, "root: GET /keys");
    let kids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .map(|a| a.iter().map(|k| k["kid"].to_string()).collect())
            .unwrap_or_default()
    };
    if kids(&keys_after) != kids(&keys_before) {
        failures.push(format!(
            "signing keys changed: {:?} → {:?}",
            kids(&keys_before),
            kids(&keys_after)
        ));
    }
    assert_no_failures(&failures);
}

#[tokio::test]
async fn a_delegated_admin_cannot_revoke_a_token_of_a_client_outside_its_subtree() {
    let o = org().await;
    let child = o
        .d_api
        .create(json!({"name": "child", "scopes": ["orders:read"]}))
        .await;
    let sibling_token = token(&o.s, &o.sibling).await;
    let root_token = token(&o.s, &o.root).await;
    let child_token = token(&o.s, &child).await;
    let mut failures = Vec::new();

    for (name, t) in [("sibling", &sibling_token), ("root", &root_token)] {
        let r = o.d_api.post("/tokens/revoke", &json!({"token": t})).await;
        want_problem(
            &mut failures,
            &r,
            403,
            &format!("D → POST /tokens/revoke with the {name} client's token"),
        );
        let answer = introspect(&o.s, &o.sibling, t).await;
        if answer["active"] != true {
            failures.push(format!(
                "the {name} client's token is inactive after D's refused revocation: {answer}"
            ));
        }
    }
    // Within its subtree it may.
    let r = o
        .d_api
        .post("/tokens/revoke", &json!({"token": child_token}))
        .await;
    want_status(
        &mut failures,
        &r,
        204,
        "D → POST /tokens/revoke with its child's token",
    );
    let answer = introspect(&o.s, &o.sibling, &child_token).await;
    if answer["active"] != false {
        failures.push(format!(
            "the child's token revoked by D is still active: {answer}"
        ));
    }
    assert_no_failures(&failures);
}

#[tokio::test]
async fn a_delegated_admin_sees_only_audit_events_of_itself_and_its_subtree() {
    let o = org().await;
    // Root's activity outside D's subtree.
    o.root_api
        .patch(
            &format!("/clients/{}", o.sibling.0),
            &json!({"description": "root's"}),
        )
        .await
        .ok(200, "root patches the sibling");
    o.root_api
        .post_empty(&format!("/clients/{}/secrets", o.sibling.0))
        .await
        .ok(201, "root adds a secret to the sibling");
    o.root_api
        .post(
            "/roles",
            &json!({"name": "orders-ro", "scopes": ["orders:read"]}),
        )
        .await
        .ok(201, "root creates a role");
    token(&o.s, &o.sibling).await;
    token(&o.s, &o.root).await;
    // D's activity in its subtree.
    let child = o
        .d_api
        .create(json!({"name": "child", "scopes": ["orders:read"]}))
        .await;
    o.d_api
        .patch(
            &format!("/clients/{}", child.0),
            &json!({"description": "D's"}),
        )
        .await
        .ok(200, "D patches its child");
    token(&o.s, &child).await;

    let page = o
        .d_api
        .get("/audit-events?limit=1000")
        .await
        .ok(200, "D: GET /audit-events");
    let events = page["items"].as_array().expect("items").clone();
    let mine = set(&[&o.d.0, &child.0]);
    let mut failures = Vec::new();
    for ev in &events {
        let actor = ev["actor"]["id"].as_str().unwrap_or("");
        let target = ev["target"].as_str().unwrap_or("");
        if !mine.contains(actor) && !mine.contains(target) {
            failures.push(format!(
                "D sees an event outside its subtree: {}",
                redact(ev)
            ));
        }
        if ev.to_string().contains(&o.sibling.0) {
            failures.push(format!("D sees an event about the sibling: {}", redact(ev)));
        }
    }
    if !events
        .iter()
        .any(|ev| ev["type"] == "client.created" && ev["target"] == child.0.as_str())
    {
        failures.push(format!(
            "D does not see its own client.created event for its child: {}",
            redact(&page)
        ));
    }
    // Filtering by a client outside its subtree shows nothing either.
    let r = o
        .d_api
        .get(&format!(
            "/audit-events?client_id={}&limit=1000",
            o.sibling.0
        ))
        .await;
    if r.status == 200 && r.body["items"].as_array().is_some_and(|a| !a.is_empty()) {
        failures.push(format!(
            "D: ?client_id=sibling returns events: {}",
            r.shown()
        ));
    }
    assert_no_failures(&failures);
}

// ---------------------------------------------------------------------------------------
// 2. Roles may not escalate
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_delegated_admin_cannot_gain_billing_scopes_through_roles() {
    let o = org().await;
    o.root_api
        .post(
            "/roles",
            &json!({"name": "billing-rw", "scopes": ["billing:read", "billing:write"]}),
        )
        .await
        .ok(201, "root creates billing-rw");
    o.root_api
        .post(
            "/roles",
            &json!({"name": "orders-ro", "scopes": ["orders:read"]}),
        )
        .await
        .ok(201, "root creates orders-ro");
    let mut failures = Vec::new();

    // The issue's first step: an empty role of its own, to fill later.
    let r = o
        .d_api
        .post("/roles", &json!({"name": "empty", "scopes": []}))
        .await;
    want_problem(&mut failures, &r, 403, "D → POST /roles (empty role)");
    let r = o.root_api.get("/roles/empty").await;
    want_problem(
        &mut failures,
        &r,
        404,
        "root → GET /roles/empty after D's attempt",
    );
    let r = o
        .d_api
        .put(
            "/roles/orders-ro",
            &json!({"scopes": ["orders:read", "billing:write"]}),
        )
        .await;
    want_problem(
        &mut failures,
        &r,
        403,
        "D → PUT /roles/orders-ro adding billing:write",
    );

    // Assigning a role holding scopes D lacks: 403 naming them, nothing created.
    let r = o
        .d_api
        .post(
            "/clients",
            &json!({"name": "billing-sync", "roles": ["billing-rw"]}),
        )
        .await;
    want_problem(
        &mut failures,
        &r,
        403,
        "D → POST /clients with role billing-rw",
    );
    if r.status == 403 {
        let text = r.body.to_string();
        if !(text.contains("billing:read") && text.contains("billing:write")) {
            failures.push(format!(
                "the 403 for role billing-rw does not name billing:read and billing:write: {}",
                r.shown()
            ));
        }
    }
    let (ids, total) = o.d_api.listed("D: GET /clients").await;
    if total != 0 {
        failures.push(format!("D's subtree after the refused creation: {ids:?}"));
    }

    // A role whose every scope D holds may be assigned.
    let reader = o
        .d_api
        .create(json!({"name": "reader", "roles": ["orders-ro"]}))
        .await;
    let reader_path = format!("/clients/{}", reader.0);
    let r = o
        .d_api
        .patch(&reader_path, &json!({"roles": ["billing-rw"]}))
        .await;
    want_problem(&mut failures, &r, 403, "D → PATCH child roles [billing-rw]");
    let r = o
        .d_api
        .put(
            &reader_path,
            &json!({"name": "reader", "roles": ["orders-ro", "billing-rw"]}),
        )
        .await;
    want_problem(&mut failures, &r, 403, "D → PUT child with billing-rw");
    let r = o
        .d_api
        .patch(
            &format!("/clients/{}", o.d.0),
            &json!({"roles": ["billing-rw"]}),
        )
        .await;
    want_problem(
        &mut failures,
        &r,
        403,
        "D → PATCH its own roles [billing-rw]",
    );
    let now = o.root_api.client(&reader.0).await;
    if now["roles"] != json!(["orders-ro"]) {
        failures.push(format!("the child's roles changed: {}", redact(&now)));
    }
    let role = o
        .root_api
        .get("/roles/orders-ro")
        .await
        .ok(200, "GET orders-ro");
    if role["scopes"] != json!(["orders:read"]) {
        failures.push(format!("role orders-ro changed: {role}"));
    }

    // No token of D or its child carries a billing scope.
    for (name, c) in [("D", &o.d), ("D's child", &reader)] {
        let scope = scope_of(&o.s, c).await;
        if scope.contains("billing") {
            failures.push(format!("{name}'s token carries billing scopes: {scope}"));
        }
    }
    let resp =
        o.s.token_request(
            Some((o.d.0.as_str(), o.d.1.as_str())),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "billing:read"),
            ],
        )
        .await;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status != 400 || body["error"] != "invalid_scope" {
        failures.push(format!(
            "D asking for billing:read: expected 400 invalid_scope, got {status} {}",
            redact(&body)
        ));
    }
    assert_no_failures(&failures);
}

// ---------------------------------------------------------------------------------------
// 3. Within its subtree, everything the README promises
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_delegated_admin_can_still_do_everything_the_readme_promises_within_its_subtree() {
    let o = org().await;
    let mut failures = Vec::new();

    let r = o
        .d_api
        .post(
            "/clients",
            &json!({"name": "child", "scopes": ["orders:read"]}),
        )
        .await;
    let created = r.ok(201, "D creates a client with orders:read");
    assert_eq!(created["owner"]["id"], o.d.0.as_str(), "the child's owner");
    let child = creds(&created);
    let path = format!("/clients/{}", child.0);
    for scopes in [
        json!(["billing:read"]),
        json!(["orders:read", "billing:read"]),
    ] {
        let r = o
            .d_api
            .post("/clients", &json!({"name": "billing", "scopes": scopes}))
            .await;
        want_problem(
            &mut failures,
            &r,
            403,
            &format!("D creates a client with {scopes}"),
        );
    }

    // Read and patch.
    let r = o.d_api.get(&path).await;
    want_status(&mut failures, &r, 200, "D → GET its child");
    let r = o
        .d_api
        .patch(&path, &json!({"description": "D's worker"}))
        .await;
    want_status(&mut failures, &r, 200, "D → PATCH its child's description");
    let r = o
        .d_api
        .patch(&path, &json!({"scopes": ["orders:read", "orders:write"]}))
        .await;
    want_status(&mut failures, &r, 200, "D → PATCH its child's scopes");
    let scope = scope_of(&o.s, &child).await;
    if scope != "orders:read orders:write" {
        failures.push(format!("child's scope after D's PATCH: {scope}"));
    }

    // Disable and enable.
    let r = o.d_api.patch(&path, &json!({"enabled": false})).await;
    want_status(&mut failures, &r, 200, "D disables its child");
    let got = try_token(&o.s, &child).await;
    if got.0 != 401 || got.1["error"] != "invalid_client" {
        failures.push(format!(
            "disabled child's token request: {} {}",
            got.0, got.1["error"]
        ));
    }
    let r = o.d_api.patch(&path, &json!({"enabled": true})).await;
    want_status(&mut failures, &r, 200, "D re-enables its child");
    let got = try_token(&o.s, &child).await;
    if got.0 != 200 {
        failures.push(format!(
            "re-enabled child's token request: {} {}",
            got.0, got.1["error"]
        ));
    }

    // Secrets: reset, add, list, delete.
    let r = o.d_api.post_empty(&format!("{path}/reset-secret")).await;
    want_status(&mut failures, &r, 200, "D resets its child's secret");
    let mut child = child;
    if r.status == 200 {
        let old = child.clone();
        child.1 = r.body["client_secret"].as_str().unwrap_or("").to_owned();
        if try_token(&o.s, &old).await.0 != 401 {
            failures.push("the child's old secret still works after reset".into());
        }
        if try_token(&o.s, &child).await.0 != 200 {
            failures.push("the child's reset secret gets no token".into());
        }
    }
    let r = o.d_api.post(&format!("{path}/secrets"), &json!({})).await;
    want_status(&mut failures, &r, 201, "D adds a secret to its child");
    let added = r.body["secret_id"].as_str().unwrap_or("").to_owned();
    let r = o.d_api.get(&format!("{path}/secrets")).await;
    want_status(&mut failures, &r, 200, "D lists its child's secrets");
    if r.body["items"].as_array().map(Vec::len) != Some(2) {
        failures.push(format!("child's secrets after adding one: {}", r.shown()));
    }
    let r = o.d_api.delete(&format!("{path}/secrets/{added}")).await;
    want_status(&mut failures, &r, 204, "D deletes its child's added secret");

    // Revoke every token, and one token.
    next_second().await;
    let first = token(&o.s, &child).await;
    let r = o.d_api.post_empty(&format!("{path}/revoke-tokens")).await;
    want_status(&mut failures, &r, 200, "D revokes every token of its child");
    if introspect(&o.s, &o.root, &first).await["active"] != false {
        failures.push("the child's token is active after D's revoke-tokens".into());
    }
    next_second().await;
    let second = token(&o.s, &child).await;
    let r = o
        .d_api
        .post("/tokens/revoke", &json!({"token": second}))
        .await;
    want_status(&mut failures, &r, 204, "D revokes one token of its child");
    if introspect(&o.s, &o.root, &second).await["active"] != false {
        failures.push("the child's token is active after D's /tokens/revoke".into());
    }

    // A grandchild made by an admin child is D's too.
    let sub = o
        .d_api
        .create(
            json!({"name": "sub-admin", "scopes": ["admin:read", "admin:write", "orders:read"]}),
        )
        .await;
    let grandchild = admin(&o.s, &sub)
        .await
        .create(json!({"name": "grandchild", "scopes": ["orders:read"]}))
        .await;
    let gpath = format!("/clients/{}", grandchild.0);
    let r = o.d_api.get(&gpath).await;
    want_status(&mut failures, &r, 200, "D → GET its grandchild");
    let r = o
        .d_api
        .patch(&gpath, &json!({"description": "seen by D"}))
        .await;
    want_status(&mut failures, &r, 200, "D → PATCH its grandchild");
    let (ids, _) = o.d_api.listed("D: GET /clients").await;
    if !ids.contains(&grandchild.0) {
        failures.push(format!("D's list lacks its grandchild: {ids:?}"));
    }

    // Delete.
    let r = o.d_api.delete(&path).await;
    want_status(&mut failures, &r, 204, "D deletes its child");
    let r = o.d_api.get(&path).await;
    want_problem(&mut failures, &r, 404, "D → GET its deleted child");
    if try_token(&o.s, &child).await.0 != 401 {
        failures.push("the deleted child still gets tokens".into());
    }
    assert_no_failures(&failures);
}

// ---------------------------------------------------------------------------------------
// 4. Current rights
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn taking_admin_write_from_a_delegated_admin_refuses_its_existing_token_at_once() {
    let o = org().await;
    let r = o
        .root_api
        .patch(
            &format!("/clients/{}", o.d.0),
            &json!({"scopes": ["admin:read", "orders:read", "orders:write"]}),
        )
        .await;
    r.ok(200, "root takes admin:write from D");

    // The same token, issued with admin:write.
    let r = o
        .d_api
        .post(
            "/clients",
            &json!({"name": "late", "scopes": ["orders:read"]}),
        )
        .await;
    r.problem(
        403,
        "D's existing token → POST /clients after losing admin:write",
    );
    assert!(
        r.challenge.contains("insufficient_scope"),
        "WWW-Authenticate of the 403: {:?}",
        r.challenge
    );
    let (ids, total) = o.d_api.listed("D's existing token → GET /clients").await;
    assert_eq!(total, 0, "a client was created anyway: {ids:?}");
}

#[tokio::test]
async fn a_disabled_admins_old_tokens_stay_refused_after_it_is_re_enabled_while_new_ones_work() {
    let o = org().await;
    let d_path = format!("/clients/{}", o.d.0);
    let old = o.d_api.clone();
    let old_token = old.bearer.clone();
    old.get("/clients").await.ok(200, "D before the disable");

    o.root_api
        .patch(&d_path, &json!({"enabled": false}))
        .await
        .ok(200, "root disables D");
    let r = old.get("/clients").await;
    r.problem(401, "D's token after D is disabled");
    assert!(
        r.challenge.contains("invalid_token"),
        "WWW-Authenticate: {:?}",
        r.challenge
    );

    o.root_api
        .patch(&d_path, &json!({"enabled": true}))
        .await
        .ok(200, "root re-enables D");
    let r = old.get("/clients").await;
    r.problem(
        401,
        "D's token from before the disable, after D is re-enabled",
    );
    let r = old
        .post(
            "/clients",
            &json!({"name": "after", "scopes": ["orders:read"]}),
        )
        .await;
    r.problem(401, "D's old token → POST /clients after re-enable");
    let answer = introspect(&o.s, &o.sibling, &old_token).await;
    assert_eq!(
        answer["active"], false,
        "introspection of D's old token: {answer}"
    );

    // A token issued after the re-enable (in a later second than the cutoff) works.
    next_second().await;
    let new = admin(&o.s, &o.d).await;
    new.get("/clients")
        .await
        .ok(200, "D's new token → GET /clients");
    new.post(
        "/clients",
        &json!({"name": "after", "scopes": ["orders:read"]}),
    )
    .await
    .ok(201, "D's new token → POST /clients");
}

// ---------------------------------------------------------------------------------------
// 5. Disable → re-enable does not revive old tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_issued_before_a_disable_stays_inactive_after_the_client_is_re_enabled() {
    let o = org().await;
    let plain = &o.sibling;
    let path = format!("/clients/{}", plain.0);
    let old = token(&o.s, plain).await;
    assert_eq!(introspect(&o.s, &o.root, &old).await["active"], true);

    o.root_api
        .patch(&path, &json!({"enabled": false}))
        .await
        .ok(200, "disable");
    assert_eq!(
        introspect(&o.s, &o.root, &old).await["active"],
        false,
        "token of a disabled client"
    );
    o.root_api
        .patch(&path, &json!({"enabled": true}))
        .await
        .ok(200, "re-enable");
    let answer = introspect(&o.s, &o.root, &old).await;
    assert_eq!(
        answer,
        json!({"active": false}),
        "token from before the disable"
    );

    next_second().await;
    let new = token(&o.s, plain).await;
    assert_eq!(
        introspect(&o.s, &o.root, &new).await["active"],
        true,
        "token issued after the re-enable"
    );
    assert_eq!(introspect(&o.s, &o.root, &old).await["active"], false);
}

#[tokio::test]
async fn a_token_issued_before_a_command_line_disable_stays_inactive_after_enable() {
    let o = org().await;
    let plain = &o.sibling;
    let old = token(&o.s, plain).await;
    let out = o.t.cli(&["clients", "disable", &plain.0]);
    assert!(out.status.success(), "clients disable");
    // The CLI wrote to the database; the server learns it from the change log.
    let deadline = Instant::now() + Duration::from_secs(5);
    while introspect(&o.s, &o.root, &old).await["active"] != false {
        assert!(Instant::now() < deadline, "the CLI disable was not seen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = o.t.cli(&["clients", "enable", &plain.0]);
    assert!(out.status.success(), "clients enable");
    // The change log is polled every 250 ms; retry a few times only, slowly, since each
    // refused token request counts towards the brute-force lockout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut attempts = 0;
    while try_token(&o.s, plain).await.0 != 200 {
        attempts += 1;
        assert!(attempts < 6, "the CLI enable was not seen");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let answer = introspect(&o.s, &o.root, &old).await;
    assert_eq!(
        answer,
        json!({"active": false}),
        "token from before the CLI disable"
    );
}

// ---------------------------------------------------------------------------------------
// 6–7. Lifetimes and durable cutoffs
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_stored_token_lifetime_is_clamped_to_the_current_maximum_at_every_issue() {
    let mut t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let c = t.create_client("long-lived", "orders:read");
    set_ttl(&t, &c.0, 3600);
    let s = t.serve();
    let v = s.token(&c.0, &c.1, &[]).await;
    assert_eq!(v["expires_in"], 3600, "before the restart");

    let s = restart_with_max_ttl(&mut t, s, 60);
    let v = s.token(&c.0, &c.1, &[]).await;
    assert_eq!(
        v["expires_in"], 60,
        "expires_in with token.max_ttl_seconds = 60"
    );
    let (_, claims) = jwt_parts(v["access_token"].as_str().expect("access_token"));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 60, "exp - iat with token.max_ttl_seconds = 60");
}

#[tokio::test]
async fn a_revoke_all_or_disable_cutoff_outlives_a_later_shorter_maximum_lifetime() {
    let mut t = Tessera::new();
    t.set("TESSERA__ISSUER", ISSUER);
    t.create_api("orders", ORDERS, "read");
    let root = t.create_client("root", "admin:read admin:write");
    let revoked = t.create_client("revoked", "orders:read");
    let disabled = t.create_client("disabled", "orders:read");
    let control = t.create_client("control", "orders:read");
    for c in [&revoked, &disabled, &control] {
        set_ttl(&t, &c.0, 3600);
    }
    let s = t.serve();
    let root_api = admin(&s, &root).await;
    let mut tokens = Vec::new();
    for c in [&revoked, &disabled, &control] {
        let v = s.token(&c.0, &c.1, &[]).await;
        assert_eq!(v["expires_in"], 3600);
        tokens.push(v["access_token"].as_str().unwrap().to_owned());
    }
    let (revoked_token, disabled_token, control_token) = (&tokens[0], &tokens[1], &tokens[2]);

    let cutoff = Instant::now();
    root_api
        .post_empty(&format!("/clients/{}/revoke-tokens", revoked.0))
        .await
        .ok(200, "root revokes every token of `revoked`");
    let path = format!("/clients/{}", disabled.0);
    root_api
        .patch(&path, &json!({"enabled": false}))
        .await
        .ok(200, "disable");
    root_api
        .patch(&path, &json!({"enabled": true}))
        .await
        .ok(200, "re-enable");

    async fn states(s: &Server, caller: &Creds, tokens: [&String; 3]) -> [Value; 3] {
        [
            introspect(s, caller, tokens[0]).await["active"].clone(),
            introspect(s, caller, tokens[1]).await["active"].clone(),
            introspect(s, caller, tokens[2]).await["active"].clone(),
        ]
    }
    let want = [json!(false), json!(false), json!(true)];
    let which = "[revoked-all client's token, disabled+re-enabled client's token, control token]";
    let mut failures = Vec::new();
    let got = states(&s, &control, [revoked_token, disabled_token, control_token]).await;
    if got != want {
        failures.push(format!("right after the cutoffs: {which} active = {got:?}"));
    }

    let s = restart_with_max_ttl(&mut t, s, 60);
    let got = states(&s, &control, [revoked_token, disabled_token, control_token]).await;
    if got != want {
        failures.push(format!(
            "after a restart with token.max_ttl_seconds = 60: {which} active = {got:?}"
        ));
    }

    // Deliberately long: the old code kept a revoke-all cutoff only until
    // cutoff + token.max_ttl_seconds + 120 s, computed with the *current* maximum (60 s here),
    // after which the revoked tokens, still within their own 3600 s lifetime, became active
    // again. 185 s after the cutoff is past that point; the cutoff must still hold.
    tokio::time::sleep_until(tokio::time::Instant::from_std(
        cutoff + Duration::from_secs(185),
    ))
    .await;
    let got = states(&s, &control, [revoked_token, disabled_token, control_token]).await;
    if got != want {
        failures.push(format!(
            "185 s after the cutoffs (max ttl 60): {which} active = {got:?}"
        ));
    }
    assert_no_failures(&failures);
}

// ---------------------------------------------------------------------------------------
// 8. Secrets
// ---------------------------------------------------------------------------------------

/// Checks `secret` is `tsk_` + `secret_id` (16) + 43 URL-safe characters; never prints it.
fn secret_format_failures(secret: &str, secret_id: &str, what: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let url_safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if secret.len() != 63 || secret.chars().count() != 63 {
        failures.push(format!(
            "{what}: secret is {} characters, not 63",
            secret.len()
        ));
    }
    if !secret.starts_with("tsk_") {
        failures.push(format!("{what}: secret does not start with tsk_"));
    }
    if !secret.chars().all(url_safe) {
        failures.push(format!(
            "{what}: secret has characters outside [A-Za-z0-9_-]"
        ));
    }
    if secret_id.chars().count() != 16 {
        failures.push(format!(
            "{what}: secret_id {secret_id:?} is not 16 characters"
        ));
    }
    if secret.get(4..20) != Some(secret_id) {
        failures.push(format!(
            "{what}: characters 4..20 of the secret are not its secret_id {secret_id:?}"
        ));
    }
    failures
}

#[tokio::test]
async fn a_new_secret_is_tsk_then_its_secret_id_then_43_random_characters() {
    let o = org().await;
    let mut failures = Vec::new();

    // The first secret, from POST /clients, against the listed secret_id.
    let c = o
        .root_api
        .create(json!({"name": "fmt", "scopes": ["orders:read"]}))
        .await;
    let path = format!("/clients/{}", c.0);
    let listed = o.root_api.secret_ids(&c.0).await;
    assert_eq!(listed.len(), 1);
    failures.extend(secret_format_failures(&c.1, &listed[0], "POST /clients"));

    // An added secret, against its own secret_id and the list.
    let added = o
        .root_api
        .post(&format!("{path}/secrets"), &json!({}))
        .await
        .ok(201, "POST secrets");
    let secret = added["client_secret"].as_str().unwrap_or("");
    let sid = added["secret_id"].as_str().unwrap_or("");
    failures.extend(secret_format_failures(
        secret,
        sid,
        "POST /clients/{id}/secrets",
    ));
    let listed = o.root_api.secret_ids(&c.0).await;
    if !listed.iter().any(|l| l == sid) {
        failures.push(format!("added secret_id {sid} not listed: {listed:?}"));
    }

    // A reset secret.
    let reset = o
        .root_api
        .post_empty(&format!("{path}/reset-secret"))
        .await
        .ok(200, "reset-secret");
    let secret = reset["client_secret"].as_str().unwrap_or("");
    let sid = reset["secret_id"].as_str().unwrap_or("");
    failures.extend(secret_format_failures(
        secret,
        sid,
        "POST /clients/{id}/reset-secret",
    ));
    let listed = o.root_api.secret_ids(&c.0).await;
    if listed != [sid.to_owned()] {
        failures.push(format!(
            "after reset, listed {listed:?}, reset answered {sid}"
        ));
    }

    // The CLI's secret (the root client).
    let listed = o.root_api.secret_ids(&o.root.0).await;
    failures.extend(secret_format_failures(
        &o.root.1,
        &listed[0],
        "tessera clients create",
    ));

    // Two secrets never share the random part.
    let (a, b) = (&c.1, reset["client_secret"].as_str().unwrap_or(""));
    if a.get(20..).is_some() && a.get(20..) == b.get(20..) {
        failures.push("two secrets share their random part".into());
    }
    assert_no_failures(&failures);
}

#[tokio::test]
async fn a_client_holds_at_most_ten_live_secrets() {
    let o = org().await;
    let c = o
        .root_api
        .create(json!({"name": "many", "scopes": ["orders:read"]}))
        .await;
    let secrets = format!("/clients/{}/secrets", c.0);
    for i in 2..=10 {
        o.root_api
            .post(&secrets, &json!({}))
            .await
            .ok(201, &format!("secret number {i}"));
    }
    assert_eq!(o.root_api.secret_ids(&c.0).await.len(), 10);

    let r = o.root_api.post(&secrets, &json!({})).await;
    r.problem(409, "the 11th secret");
    let r = o.root_api.post_empty(&secrets).await;
    r.problem(409, "the 11th secret, without a body");
    let ids = o.root_api.secret_ids(&c.0).await;
    assert_eq!(ids.len(), 10, "secrets after the refused 11th");
    let page = o.root_api.get(&secrets).await.ok(200, "list");
    assert_eq!(page["total"], 10, "total after the refused 11th");

    // Deleting one makes room for one.
    let r = o.root_api.delete(&format!("{secrets}/{}", ids[0])).await;
    assert_eq!(r.status, 204, "delete one secret");
    o.root_api
        .post(&secrets, &json!({}))
        .await
        .ok(201, "a secret after deleting one");
    assert_eq!(o.root_api.secret_ids(&c.0).await.len(), 10);
    o.root_api
        .post(&secrets, &json!({}))
        .await
        .problem(409, "the 11th secret again");
}

// ---------------------------------------------------------------------------------------
// 9. A secret sent as a client id
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_secret_sent_as_a_client_id_is_neither_logged_nor_audited() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let root = t.create_client("root", "admin:read admin:write");
    let (id, secret) = t.create_client("swapped", "orders:read");
    let s = t.serve();
    let root_api = admin(&s, &root).await;
    let mut failures = Vec::new();

    // Swapped in Basic, 15 times (the default lockout is 10 failures per client id).
    for i in 0..15 {
        let resp = s
            .token_request(
                Some((secret.as_str(), id.as_str())),
                &[("grant_type", "client_credentials")],
            )
            .await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if i == 0 && (status != 401 || body["error"] != "invalid_client") {
            failures.push(format!(
                "swapped id and secret: expected 401 invalid_client, got {status} {}",
                body["error"]
            ));
        }
        if status != 401 && status != 429 {
            failures.push(format!("swapped attempt {i}: status {status}"));
        }
    }
    // Form-urlencoded in Basic (tsk%5F…), and as client_secret_post.
    let encoded = secret.replacen('_', "%5F", 1);
    let resp = s
        .token_request(
            Some((encoded.as_str(), id.as_str())),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let status = resp.status().as_u16();
    if status != 401 && status != 429 {
        failures.push(format!("swapped, url-encoded: status {status}"));
    }
    let resp = s
        .token_request(
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", secret.as_str()),
                ("client_secret", id.as_str()),
            ],
        )
        .await;
    let status = resp.status().as_u16();
    if status != 401 && status != 429 {
        failures.push(format!("swapped in the body: status {status}"));
    }

    // The lockout event is written off the request path: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut audit = String::new();
    while Instant::now() < deadline {
        audit = root_api
            .get("/audit-events?limit=1000")
            .await
            .ok(200, "root: GET /audit-events")
            .to_string();
        if audit.contains("locked_out") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The part after the prefix catches the raw, url-encoded and truncated-prefix forms.
    let tail = &secret[4..];
    if audit.contains(tail) {
        failures.push("the audit events contain the secret sent as a client id".into());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = s.log();
    if log.contains(tail) {
        failures.push("the server log contains the secret sent as a client id".into());
    }
    assert_no_failures(&failures);
}

// ---------------------------------------------------------------------------------------
// 10. Owner chain
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_client_under_a_disabled_owner_cannot_be_enabled() {
    let o = org().await;
    let a = &o.d;
    let c = o
        .d_api
        .create(json!({"name": "c", "scopes": ["orders:read"]}))
        .await;
    let c_path = format!("/clients/{}", c.0);
    assert_eq!(try_token(&o.s, &c).await.0, 200, "C before");

    o.root_api
        .patch(&format!("/clients/{}", a.0), &json!({"enabled": false}))
        .await
        .ok(200, "root disables A");
    let mut failures = Vec::new();
    let now = o.root_api.client(&c.0).await;
    if now["enabled"] != false {
        failures.push(format!("C after disabling A: {}", redact(&now)));
    }

    let r = o
        .root_api
        .put(&c_path, &json!({"name": "c", "scopes": ["orders:read"]}))
        .await;
    want_problem(
        &mut failures,
        &r,
        409,
        "root → PUT C without `enabled` (defaults to true)",
    );
    let r = o.root_api.patch(&c_path, &json!({"enabled": null})).await;
    want_problem(&mut failures, &r, 409, "root → PATCH C {\"enabled\": null}");
    let r = o.root_api.patch(&c_path, &json!({"enabled": true})).await;
    want_problem(&mut failures, &r, 409, "root → PATCH C {\"enabled\": true}");
    let now = o.root_api.client(&c.0).await;
    if now["enabled"] != false {
        failures.push(format!("C after the refused enables: {}", redact(&now)));
    }
    let got = try_token(&o.s, &c).await;
    if got.0 != 401 || got.1["error"] != "invalid_client" {
        failures.push(format!(
            "C's token request under a disabled owner: {} {}",
            got.0, got.1["error"]
        ));
    }

    // Once A is enabled again, C may be.
    o.root_api
        .patch(&format!("/clients/{}", a.0), &json!({"enabled": true}))
        .await
        .ok(200, "root re-enables A");
    let r = o.root_api.patch(&c_path, &json!({"enabled": true})).await;
    want_status(
        &mut failures,
        &r,
        200,
        "root → PATCH C enabled under an enabled owner",
    );
    let got = try_token(&o.s, &c).await;
    if got.0 != 200 {
        failures.push(format!(
            "C's token request after both enabled: {} {}",
            got.0, got.1["error"]
        ));
    }
    assert_no_failures(&failures);
}

// ---------------------------------------------------------------------------------------
// 11. Files and inputs
// ---------------------------------------------------------------------------------------

/// Modes of the SQLite file and its `-wal`/`-shm` that are not 0600 (the main file must exist).
fn loose_database_files(t: &Tessera, when: &str) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut failures = Vec::new();
    for name in ["tessera.db", "tessera.db-wal", "tessera.db-shm"] {
        let path = t.path().join(name);
        match std::fs::metadata(&path) {
            Ok(m) => {
                let mode = m.permissions().mode() & 0o777;
                if mode != 0o600 {
                    failures.push(format!("{when}: {name} has mode {mode:o}, not 600"));
                }
            }
            Err(_) if name != "tessera.db" => {}
            Err(e) => failures.push(format!("{when}: {} missing: {e}", path.display())),
        }
    }
    failures
}

#[tokio::test]
async fn the_sqlite_database_and_its_wal_and_shm_are_readable_only_by_their_owner() {
    let t = Tessera::on_sqlite();
    t.create_api("orders", ORDERS, "read");
    let root = t.create_client("root", "admin:read admin:write orders:read");
    let mut failures = loose_database_files(&t, "after the CLI");
    let s = t.serve();
    let root_api = admin(&s, &root).await;
    let c = root_api
        .create(json!({"name": "writer", "scopes": ["orders:read"]}))
        .await;
    token(&s, &c).await;
    failures.extend(loose_database_files(&t, "while serving"));
    s.stop();
    failures.extend(loose_database_files(&t, "after the server stopped"));
    assert_no_failures(&failures);
}

#[tokio::test]
async fn an_ipv4_mapped_ipv6_allowed_ip_is_read_as_ipv4() {
    let o = org().await;
    let r = o
        .root_api
        .post(
            "/clients",
            &json!({"name": "mapped", "scopes": ["orders:read"], "allowed_ips": ["::ffff:127.0.0.1"]}),
        )
        .await;
    let created = r.ok(201, "create with ::ffff:127.0.0.1");
    assert_eq!(
        created["allowed_ips"],
        json!(["127.0.0.1/32"]),
        "in the 201"
    );
    let mapped = creds(&created);
    let shown = o.root_api.client(&mapped.0).await;
    assert_eq!(shown["allowed_ips"], json!(["127.0.0.1/32"]), "in GET");
    let got = try_token(&o.s, &mapped).await;
    assert_eq!(
        got.0, 200,
        "token request from 127.0.0.1: {}",
        got.1["error"]
    );

    // Control: a mapped address elsewhere is read as that IPv4 address and refuses us.
    let elsewhere = o
        .root_api
        .post(
            "/clients",
            &json!({"name": "elsewhere", "scopes": ["orders:read"], "allowed_ips": ["::ffff:10.1.2.3"]}),
        )
        .await
        .ok(201, "create with ::ffff:10.1.2.3");
    assert_eq!(elsewhere["allowed_ips"], json!(["10.1.2.3/32"]));
    let got = try_token(&o.s, &creds(&elsewhere)).await;
    assert_eq!(
        (got.0, got.1["error"].as_str()),
        (400, Some("unauthorized_client")),
        "token request from 127.0.0.1 for a client allowed only 10.1.2.3"
    );
}

#[tokio::test]
async fn an_unknown_json_field_is_named_once_in_the_problem() {
    let o = org().await;
    let (_, total) = o.root_api.listed("before").await;
    let sibling = format!("/clients/{}", o.sibling.0);
    let before = settable(&o.root_api.client(&o.sibling.0).await);
    let mut failures = Vec::new();
    let attempts = [
        (
            Method::POST,
            "/clients".to_owned(),
            json!({"name": "x", "owner": "y"}),
        ),
        (Method::PATCH, sibling.clone(), json!({"owner": "y"})),
        (
            Method::PUT,
            sibling.clone(),
            json!({"name": "x", "owner": "y"}),
        ),
    ];
    for (method, path, body) in attempts {
        let what = format!("{method} {path} {body}");
        let r = o.root_api.send(method, &path, Some(&body)).await;
        if !(r.is_problem(400) || r.is_problem(422)) {
            failures.push(format!(
                "{what}: expected a 400/422 problem, got {} {}",
                r.status,
                r.shown()
            ));
            continue;
        }
        let errors = r.body["errors"].as_array().cloned().unwrap_or_default();
        if errors.first().map(|e| &e["field"]) != Some(&json!("owner")) {
            failures.push(format!(
                "{what}: errors[0].field is not \"owner\": {}",
                r.shown()
            ));
        }
        let naming = errors.iter().filter(|e| e["field"] == "owner").count();
        if naming != 1 {
            failures.push(format!(
                "{what}: {naming} errors name \"owner\": {}",
                r.shown()
            ));
        }
    }
    let (_, after) = o.root_api.listed("after").await;
    if after != total {
        failures.push(format!("client count changed: {total} → {after}"));
    }
    let now = settable(&o.root_api.client(&o.sibling.0).await);
    if now != before {
        failures.push(format!("the sibling changed: {before} → {now}"));
    }
    assert_no_failures(&failures);
}
