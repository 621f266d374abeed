//! Integration tests for the admin REST API (SPEC.md §5) over real HTTP: bearer
//! authentication, clients, secrets, the API catalog, signing keys, audit events, usage
//! counters, problem documents and the OpenAPI document.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, SecondsFormat, Utc};
use common::{Server, Tessera, http, jwt_parts};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";
const ADMIN_SCOPES: &str = "admin:read admin:write";
const JSON: &str = "application/json";
const MERGE_PATCH: &str = "application/merge-patch+json";
const PROBLEM: &str = "application/problem+json";
const NO_TOKEN: &str = "Bearer realm=\"tessera\"";
const INVALID_TOKEN: &str = "Bearer realm=\"tessera\", error=\"invalid_token\"";

/// A P-256 key that is not the server's, for forged tokens.
const FOREIGN_EC_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5/xob3OmTH/a7t6k
Pq+wTobUwxBZqU86LbomiMtC0d+hRANCAAQEG1SN5mOlRJPhJmSDjqm6OcalAZd0
NrzfWsGHSaPd6dRYc8GmDINU/Ga7GPrq6OEitHbP2KMKnM6WpLgQuzze
-----END PRIVATE KEY-----
";

/// A response reduced to what the tests look at.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
    what: String,
}

impl Reply {
    async fn from_reqwest(what: String, resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("response body").to_vec();
        Reply {
            status,
            headers,
            body,
            what,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: expected a JSON body ({e}); status {} body {:?}",
                self.what,
                self.status,
                self.text()
            )
        })
    }

    /// Asserts `status` and a JSON (not problem) body; returns it.
    #[track_caller]
    fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}: expected {status}, got {} with {}",
            self.what,
            self.status,
            self.text()
        );
        let ct = self.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with(JSON),
            "{}: Content-Type {ct:?}, expected application/json",
            self.what
        );
        self.json()
    }

    /// Asserts an RFC 9457 problem document with `status`; returns it.
    #[track_caller]
    fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}: expected {status}, got {} with {}",
            self.what,
            self.status,
            self.text()
        );
        let ct = self.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with(PROBLEM),
            "{}: Content-Type {ct:?}, expected {PROBLEM}",
            self.what
        );
        let v = self.json();
        assert_eq!(v["status"], status, "{}: status member in {v}", self.what);
        for member in ["type", "title", "detail"] {
            assert!(
                v[member].as_str().is_some_and(|s| !s.is_empty()),
                "{}: problem member {member:?} missing in {v}",
                self.what
            );
        }
        v
    }

    /// Asserts a 422 problem whose `errors` name `field`.
    #[track_caller]
    fn invalid(&self, field: &str) -> Value {
        let v = self.problem(422);
        let errors = v["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no errors array in {v}", self.what));
        assert!(!errors.is_empty(), "{}: empty errors in {v}", self.what);
        for e in errors {
            assert!(
                e["field"].is_string() && e["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{}: each error needs field and message: {v}",
                self.what
            );
        }
        assert!(
            errors.iter().any(|e| names_field(&e["field"], field)),
            "{}: expected an error naming {field:?}, got {v}",
            self.what
        );
        v
    }

    /// Asserts a 401 problem with exactly this `WWW-Authenticate` challenge.
    #[track_caller]
    fn unauthorized(&self, challenge: &str) {
        self.problem(401);
        assert_eq!(
            self.header("www-authenticate"),
            Some(challenge),
            "{}: WWW-Authenticate",
            self.what
        );
    }

    /// Asserts 403 `insufficient_scope` naming `scope`.
    #[track_caller]
    fn insufficient(&self, scope: &str) {
        self.problem(403);
        let expected =
            format!("Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"{scope}\"");
        assert_eq!(
            self.header("www-authenticate"),
            Some(expected.as_str()),
            "{}: WWW-Authenticate",
            self.what
        );
    }
}

/// Calls `/admin/v1` of one server with one bearer token (or none).
#[derive(Clone)]
struct Caller {
    base: String,
    authorization: Option<String>,
}

impl Caller {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}/admin/v1{path}", self.base)
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let what = format!(
            "{method} {path} {}",
            body.as_deref()
                .map(|b| truncate(b, 200))
                .unwrap_or_default()
        );
        let mut req = http().request(method, self.url(path));
        if let Some(a) = &self.authorization {
            req = req.header(AUTHORIZATION, a);
        }
        if let Some(ct) = content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        Reply::from_reqwest(what, req.send().await.expect("admin request")).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None, None).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, Some(JSON), Some(body.to_string()))
            .await
    }

    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.request(Method::PUT, path, Some(JSON), Some(body.to_string()))
            .await
    }

    async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.request(
            Method::PATCH,
            path,
            Some(MERGE_PATCH),
            Some(body.to_string()),
        )
        .await
    }

    /// `POST` without a body or content type.
    async fn post_empty(&self, path: &str) -> Reply {
        self.request(Method::POST, path, None, None).await
    }

    /// `GET` expecting 200 JSON.
    async fn ok(&self, path: &str) -> Value {
        self.get(path).await.ok(200)
    }
}

/// Whether an error's `field` names `field` itself or an element of it (`scopes[0]`).
fn names_field(got: &Value, field: &str) -> bool {
    got.as_str().is_some_and(|g| {
        g == field
            || g.strip_prefix(field)
                .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
    })
}

/// A token response in a line: the status and the error or the granted scope.
fn brief(got: &(u16, Value)) -> String {
    match got.1["error"].as_str() {
        Some(e) => format!("{} error={e}", got.0),
        None => format!("{} (token issued, scope {})", got.0, got.1["scope"]),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// One server with an `orders` API and a root admin client, plus its admin caller.
/// `s` is declared first so the server is killed before the temp dir goes.
struct Env {
    s: Server,
    t: Tessera,
    admin_id: String,
    admin_secret: String,
    admin: Caller,
}

impl Env {
    async fn new() -> Env {
        let t = Tessera::new();
        t.create_api("orders", ORDERS, "read,write");
        let (admin_id, admin_secret) = t.create_client("admin", ADMIN_SCOPES);
        let s = t.serve();
        let token = admin_token(&s, &admin_id, &admin_secret).await;
        let admin = caller(&s, Some(&token));
        Env {
            s,
            t,
            admin_id,
            admin_secret,
            admin,
        }
    }

    /// `POST /clients`, asserting 201; returns the body.
    async fn create_client(&self, body: Value) -> Value {
        self.admin.post("/clients", &body).await.ok(201)
    }

    async fn client_total(&self) -> u64 {
        self.admin.ok("/clients?limit=1").await["total"]
            .as_u64()
            .expect("total")
    }

    fn admin_audience(&self) -> String {
        self.s.url("/admin")
    }
}

fn caller(s: &Server, token: Option<&str>) -> Caller {
    Caller {
        base: s.url.clone(),
        authorization: token.map(|t| format!("Bearer {t}")),
    }
}

fn with_authorization(s: &Server, authorization: &str) -> Caller {
    Caller {
        base: s.url.clone(),
        authorization: Some(authorization.to_owned()),
    }
}

/// An admin token (only admin scopes, so `aud` is the admin audience).
async fn admin_token(s: &Server, id: &str, secret: &str) -> String {
    let v = s.token(id, secret, &[("scope", ADMIN_SCOPES)]).await;
    v["access_token"].as_str().expect("access_token").to_owned()
}

/// A token request; returns status and JSON body.
async fn try_token(s: &Server, id: &str, secret: &str, scope: Option<&str>) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(sc) = scope {
        form.push(("scope", sc));
    }
    let resp = s.token_request(Some((id, secret)), &form).await;
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[track_caller]
fn assert_refused(got: (u16, Value), what: &str) {
    assert_eq!(
        got.0,
        401,
        "{what}: token request should fail, got {}",
        brief(&got)
    );
    assert_eq!(got.1["error"], "invalid_client", "{what}: {}", got.1);
}

#[track_caller]
fn assert_issued(got: (u16, Value), what: &str) -> Value {
    assert_eq!(
        got.0, 200,
        "{what}: token request should succeed: {}",
        got.1
    );
    got.1
}

fn id_and_secret(created: &Value) -> (String, String) {
    (
        created["client_id"].as_str().expect("client_id").to_owned(),
        created["client_secret"]
            .as_str()
            .expect("client_secret")
            .to_owned(),
    )
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// Parses an RFC 3339 time and asserts it is UTC.
#[track_caller]
fn time(v: &Value, what: &str) -> DateTime<Utc> {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("{what}: expected an RFC 3339 string, got {v}"));
    let t = DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{what}: {text:?} is not RFC 3339: {e}"));
    assert_eq!(t.offset().local_minus_utc(), 0, "{what}: {text} is not UTC");
    t.with_timezone(&Utc)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Asserts `link` is an absolute URL at `base` (same origin and path); returns its query.
#[track_caller]
fn link_query(link: &Value, base: &str, what: &str) -> HashMap<String, String> {
    let text = link
        .as_str()
        .unwrap_or_else(|| panic!("{what}: link should be a string, got {link}"));
    let url = reqwest::Url::parse(text)
        .unwrap_or_else(|e| panic!("{what}: link {text:?} is not an absolute URL: {e}"));
    let base = reqwest::Url::parse(base).unwrap();
    assert_eq!(url.origin(), base.origin(), "{what}: link {text}");
    assert_eq!(url.path(), base.path(), "{what}: link {text}");
    url.query_pairs().into_owned().collect()
}

/// Asserts `link` points at `base` with this offset and limit.
#[track_caller]
fn assert_link(link: &Value, base: &str, offset: u64, limit: u64, what: &str) {
    let q = link_query(link, base, what);
    assert_eq!(
        q.get("offset").map(String::as_str),
        Some(offset.to_string().as_str()),
        "{what}: offset of {link}"
    );
    assert_eq!(
        q.get("limit").map(String::as_str),
        Some(limit.to_string().as_str()),
        "{what}: limit of {link}"
    );
}

/// Asserts the page object shape; returns the items.
#[track_caller]
fn page_items(page: &Value, what: &str) -> Vec<Value> {
    for member in ["items", "total", "offset", "limit", "links"] {
        assert!(page.get(member).is_some(), "{what}: no {member} in {page}");
    }
    assert!(page["total"].is_u64(), "{what}: total in {page}");
    assert!(page["offset"].is_u64(), "{what}: offset in {page}");
    assert!(page["limit"].is_u64(), "{what}: limit in {page}");
    for member in ["self", "next", "prev"] {
        assert!(
            page["links"].get(member).is_some(),
            "{what}: no links.{member} in {page}"
        );
    }
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: items should be an array: {page}"))
        .clone()
}

fn ids(items: &[Value], key: &str) -> Vec<String> {
    items.iter().map(|i| s(&i[key]).to_owned()).collect()
}

fn b64_json(v: &Value) -> String {
    B64URL.encode(v.to_string())
}

/// Sends SIGTERM and waits (at most 20 s) for the server to exit.
fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let pid = server.child.id();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success(), "kill -TERM {pid} failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit within 20 s of SIGTERM; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// Authentication (RFC 6750 §3)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn bearer_authentication_and_scopes_follow_rfc_6750() {
    let e = Env::new().await;
    let orders = e
        .create_client(json!({"name": "orders-only", "scopes": ["orders:read"]}))
        .await;
    let (orders_id, orders_secret) = id_and_secret(&orders);
    let total = e.client_total().await;

    // No token at all, or another scheme: a bare challenge, no error code.
    let none = caller(&e.s, None);
    none.get("/clients").await.unauthorized(NO_TOKEN);
    none.post("/clients", &json!({"name": "x"}))
        .await
        .unauthorized(NO_TOKEN);
    let basic = with_authorization(&e.s, "Basic YWRtaW46c2VjcmV0");
    let r = basic.get("/clients").await;
    r.problem(401);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|c| c.starts_with(NO_TOKEN)),
        "{}: WWW-Authenticate {:?}",
        r.what,
        r.header("www-authenticate")
    );

    // The real admin token, whatever the case of the scheme.
    e.admin.ok("/clients").await;
    let token = e.admin.authorization.clone().unwrap();
    let lower = token.replacen("Bearer", "bearer", 1);
    with_authorization(&e.s, &lower).ok("/clients").await;

    // Tokens that must be refused as invalid_token.
    let orders_token = e.s.token(&orders_id, &orders_secret, &[]).await;
    let orders_token = s(&orders_token["access_token"]).to_owned();
    let admin_token = token.strip_prefix("Bearer ").unwrap().to_owned();
    let (header, admin_claims) = jwt_parts(&admin_token);
    assert_eq!(admin_claims["aud"], e.admin_audience(), "admin token aud");
    let kid = s(&header["kid"]).to_owned();

    // The orders client's token with aud and scope rewritten, original signature kept.
    let parts: Vec<&str> = orders_token.split('.').collect();
    let (_, mut claims) = jwt_parts(&orders_token);
    claims["aud"] = json!(e.admin_audience());
    claims["scope"] = json!(ADMIN_SCOPES);
    let tampered = format!("{}.{}.{}", parts[0], b64_json(&claims), parts[2]);
    // alg none with the server's kid.
    let unsigned = format!(
        "{}.{}.",
        b64_json(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        b64_json(&admin_claims)
    );
    // The admin's own claims signed with a key that is not the server's.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.typ = Some("at+jwt".into());
    h.kid = Some(kid.clone());
    let foreign = jsonwebtoken::encode(
        &h,
        &admin_claims,
        &jsonwebtoken::EncodingKey::from_ec_pem(FOREIGN_EC_KEY.as_bytes()).unwrap(),
    )
    .unwrap();
    // The real token with its signature cut off.
    let (signed, _) = admin_token.rsplit_once('.').unwrap();
    let no_signature = format!("{signed}.");

    for (what, bad) in [
        ("garbage", "garbage".to_owned()),
        ("three dots of nothing", "a.b.c".to_owned()),
        ("token of a client without the admin audience", orders_token),
        ("tampered claims", tampered),
        ("alg none", unsigned),
        ("signed with a foreign key", foreign),
        ("signature removed", no_signature),
    ] {
        let c = caller(&e.s, Some(&bad));
        let r = c.get("/clients").await;
        assert!(r.status == 401, "{what}: expected 401, got {}", r.status);
        r.unauthorized(INVALID_TOKEN);
        let r = c.post("/clients", &json!({"name": "x"})).await;
        assert!(r.status == 401, "{what}: expected 401, got {}", r.status);
        r.unauthorized(INVALID_TOKEN);
    }

    // admin:read alone: reads work, writes are 403 naming admin:write.
    let read =
        e.s.token(&e.admin_id, &e.admin_secret, &[("scope", "admin:read")])
            .await;
    let reader = caller(&e.s, Some(s(&read["access_token"])));
    reader.ok("/clients").await;
    reader.ok("/apis").await;
    reader
        .post("/clients", &json!({"name": "nope"}))
        .await
        .insufficient("admin:write");
    reader
        .patch(
            &format!("/clients/{orders_id}"),
            &json!({"description": "x"}),
        )
        .await
        .insufficient("admin:write");
    reader
        .delete(&format!("/clients/{orders_id}"))
        .await
        .insufficient("admin:write");
    reader
        .post_empty("/keys/rotate")
        .await
        .insufficient("admin:write");

    // admin:write alone: writes work, reads are 403 naming admin:read.
    let write =
        e.s.token(&e.admin_id, &e.admin_secret, &[("scope", "admin:write")])
            .await;
    let writer = caller(&e.s, Some(s(&write["access_token"])));
    writer.get("/clients").await.insufficient("admin:read");
    writer
        .get(&format!("/clients/{orders_id}"))
        .await
        .insufficient("admin:read");
    writer
        .post("/clients", &json!({"name": "by-writer"}))
        .await
        .ok(201);
    assert_eq!(
        e.client_total().await,
        total + 1,
        "only the writer's create may have changed anything"
    );
    e.admin.ok(&format!("/clients/{orders_id}")).await;
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn client_list_pages_oldest_first_with_absolute_links() {
    let e = Env::new().await;
    let mut expected = vec![e.admin_id.clone()];
    for i in 0..4 {
        let c = e.create_client(json!({"name": format!("c{i}")})).await;
        expected.push(s(&c["client_id"]).to_owned());
    }
    let base = e.s.url("/admin/v1/clients");

    let page = e.admin.ok("/clients").await;
    let items = page_items(&page, "default page");
    assert_eq!(ids(&items, "client_id"), expected, "oldest first");
    assert_eq!(page["total"], 5);
    assert_eq!(page["offset"], 0);
    assert_eq!(page["limit"], 50, "default limit");
    assert_link(&page["links"]["self"], &base, 0, 50, "default self");
    assert!(page["links"]["next"].is_null(), "one page only: {page}");
    assert!(page["links"]["prev"].is_null(), "first page: {page}");
    for item in &items {
        assert!(item.get("client_secret").is_none(), "secret listed: {item}");
    }

    // Walk pages of two by following the links.
    let first = e.admin.ok("/clients?offset=0&limit=2").await;
    assert_eq!(ids(&page_items(&first, "p1"), "client_id"), expected[0..2]);
    assert_eq!(first["total"], 5);
    assert_eq!(first["limit"], 2);
    assert_link(&first["links"]["self"], &base, 0, 2, "p1 self");
    assert_link(&first["links"]["next"], &base, 2, 2, "p1 next");
    assert!(first["links"]["prev"].is_null(), "p1 prev: {first}");

    let second = e.admin.ok(s(&first["links"]["next"])).await;
    assert_eq!(ids(&page_items(&second, "p2"), "client_id"), expected[2..4]);
    assert_eq!(second["offset"], 2);
    assert_link(&second["links"]["self"], &base, 2, 2, "p2 self");
    assert_link(&second["links"]["next"], &base, 4, 2, "p2 next");
    assert_link(&second["links"]["prev"], &base, 0, 2, "p2 prev");

    let third = e.admin.ok(s(&second["links"]["next"])).await;
    assert_eq!(ids(&page_items(&third, "p3"), "client_id"), expected[4..5]);
    assert_eq!(third["total"], 5);
    assert!(third["links"]["next"].is_null(), "last page: {third}");
    assert_link(&third["links"]["prev"], &base, 2, 2, "p3 prev");
    let back = e.admin.ok(s(&third["links"]["prev"])).await;
    assert_eq!(ids(&page_items(&back, "back"), "client_id"), expected[2..4]);

    // Past the end: empty, but still a page.
    let past = e.admin.ok("/clients?offset=10&limit=2").await;
    assert!(page_items(&past, "past").is_empty(), "{past}");
    assert_eq!(past["total"], 5);
    assert!(past["links"]["next"].is_null(), "{past}");

    // Bounds.
    let one = e.admin.ok("/clients?limit=1").await;
    assert_eq!(page_items(&one, "limit 1").len(), 1);
    let max = e.admin.ok("/clients?limit=1000").await;
    assert_eq!(max["limit"], 1000);
    assert_eq!(page_items(&max, "limit 1000").len(), 5);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("offset=-1&limit=10", "offset"),
    ] {
        e.admin
            .get(&format!("/clients?{query}"))
            .await
            .invalid(field);
    }
    e.admin.get("/apis?limit=0").await.invalid("limit");
    e.admin
        .get("/audit-events?offset=abc")
        .await
        .invalid("offset");
}

#[tokio::test]
async fn creating_a_client_returns_it_with_location_and_a_working_secret() {
    let e = Env::new().await;
    let before = Utc::now() - chrono::Duration::seconds(2);
    let r = e
        .admin
        .post(
            "/clients",
            &json!({
                "name": "orders-sync",
                "description": "nightly sync",
                "enabled": true,
                "scopes": ["orders:write", "orders:read"],
                "roles": [],
                "allowed_ips": ["127.0.0.1", "::1/128", "10.0.0.0/8"],
                "token_ttl_seconds": 120
            }),
        )
        .await;
    let created = r.ok(201);
    let (id, secret) = id_and_secret(&created);
    assert!(
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)),
        "client_id must be URL-safe: {id:?}"
    );
    assert_eq!(
        r.header("location"),
        Some(e.s.url(&format!("/admin/v1/clients/{id}")).as_str()),
        "Location"
    );
    assert!(secret.starts_with("tsk_"), "secret prefix: {secret}");
    assert_eq!(created["name"], "orders-sync");
    assert_eq!(created["description"], "nightly sync");
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["scopes"],
        json!(["orders:read", "orders:write"]),
        "sorted"
    );
    assert_eq!(created["roles"], json!([]));
    let ips = created["allowed_ips"].as_array().expect("allowed_ips");
    assert_eq!(ips.len(), 3, "{created}");
    assert!(ips.contains(&json!("10.0.0.0/8")), "{created}");
    assert_eq!(created["token_ttl_seconds"], 120);
    assert_eq!(
        created["owner"]["id"],
        e.admin_id.as_str(),
        "owner = acting admin"
    );
    let created_at = time(&created["created_at"], "created_at");
    assert!(created_at > before && created_at < Utc::now() + chrono::Duration::seconds(2));
    time(&created["updated_at"], "updated_at");
    assert!(created["last_used_at"].is_null(), "{created}");

    // GET at the Location: the same client, no secret, with usage.
    let got = e.admin.ok(r.header("location").unwrap()).await;
    for field in [
        "client_id",
        "name",
        "description",
        "enabled",
        "scopes",
        "roles",
        "allowed_ips",
        "token_ttl_seconds",
        "owner",
        "created_at",
        "updated_at",
        "last_used_at",
    ] {
        assert_eq!(got[field], created[field], "GET {field}");
    }
    assert!(got.get("client_secret").is_none(), "GET shows the secret");
    assert!(!got.to_string().contains(&secret), "GET leaks the secret");
    assert!(got["usage"].is_object(), "usage object: {got}");
    assert!(got["usage"]["tokens_issued_24h"].is_u64(), "{got}");
    assert!(got["usage"].get("last_used_at").is_some(), "{got}");

    // The secret works at once, with the client's lifetime and scopes.
    let token = assert_issued(try_token(&e.s, &id, &secret, None).await, "new secret");
    assert_eq!(token["expires_in"], 120, "{token}");
    let (_, claims) = jwt_parts(s(&token["access_token"]));
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["aud"], ORDERS);
    assert_eq!(claims["scope"], "orders:read orders:write");

    // Defaults.
    let min = e.create_client(json!({"name": "minimal"})).await;
    assert_eq!(min["description"], "");
    assert_eq!(min["enabled"], true);
    assert_eq!(min["scopes"], json!([]));
    assert_eq!(min["roles"], json!([]));
    assert_eq!(min["allowed_ips"], json!([]));
    assert_eq!(min["token_ttl_seconds"], 900, "default lifetime");
    assert_eq!(min["owner"]["id"], e.admin_id.as_str());
    assert_ne!(min["client_id"], created["client_id"]);
    assert_ne!(min["client_secret"], created["client_secret"]);

    // enabled=false at creation and allowed_ips elsewhere are enforced at the token endpoint.
    let off = e
        .create_client(json!({"name": "off", "enabled": false, "scopes": ["orders:read"]}))
        .await;
    assert_eq!(off["enabled"], false);
    let (off_id, off_secret) = id_and_secret(&off);
    assert_refused(
        try_token(&e.s, &off_id, &off_secret, None).await,
        "created disabled",
    );
    let far = e
        .create_client(
            json!({"name": "far", "scopes": ["orders:read"], "allowed_ips": ["10.0.0.0/8"]}),
        )
        .await;
    let (far_id, far_secret) = id_and_secret(&far);
    let got = try_token(&e.s, &far_id, &far_secret, None).await;
    assert_eq!(got.0, 400, "outside allowed_ips: {got:?}");
    assert_eq!(got.1["error"], "unauthorized_client", "{got:?}");

    // Lifetime bounds are inclusive.
    for ttl in [60, 3600] {
        let c = e
            .create_client(json!({"name": format!("ttl{ttl}"), "token_ttl_seconds": ttl}))
            .await;
        assert_eq!(c["token_ttl_seconds"], ttl);
    }
}

#[tokio::test]
async fn invalid_client_bodies_are_422_naming_the_field_and_change_nothing() {
    let e = Env::new().await;
    let total = e.client_total().await;
    let long_name = "x".repeat(201);
    let long_description = "d".repeat(2001);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": null}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "   "}), "name"),
        (json!({"name": long_name}), "name"),
        (
            json!({"name": "x", "description": long_description}),
            "description",
        ),
        (json!({"name": "x", "description": 7}), "description"),
        (json!({"name": "x", "enabled": "yes"}), "enabled"),
        (json!({"name": "x", "scopes": "orders:read"}), "scopes"),
        (json!({"name": "x", "scopes": [1]}), "scopes"),
        (json!({"name": "x", "scopes": ["nope:read"]}), "scopes"),
        (json!({"name": "x", "scopes": ["orders:delete"]}), "scopes"),
        (json!({"name": "x", "scopes": ["orders"]}), "scopes"),
        (json!({"name": "x", "roles": ["no-such-role"]}), "roles"),
        (json!({"name": "x", "roles": "admin"}), "roles"),
        (
            json!({"name": "x", "allowed_ips": ["10.0.0.0/33"]}),
            "allowed_ips",
        ),
        (
            json!({"name": "x", "allowed_ips": ["1.2.3"]}),
            "allowed_ips",
        ),
        (
            json!({"name": "x", "allowed_ips": ["fe80::/129"]}),
            "allowed_ips",
        ),
        (
            json!({"name": "x", "allowed_ips": ["127.0.0.1", "localhost"]}),
            "allowed_ips",
        ),
        (
            json!({"name": "x", "allowed_ips": "10.0.0.1"}),
            "allowed_ips",
        ),
        (
            json!({"name": "x", "token_ttl_seconds": 59}),
            "token_ttl_seconds",
        ),
        (
            json!({"name": "x", "token_ttl_seconds": 3601}),
            "token_ttl_seconds",
        ),
        (
            json!({"name": "x", "token_ttl_seconds": 0}),
            "token_ttl_seconds",
        ),
        (
            json!({"name": "x", "token_ttl_seconds": -1}),
            "token_ttl_seconds",
        ),
        (
            json!({"name": "x", "token_ttl_seconds": "900"}),
            "token_ttl_seconds",
        ),
        (
            json!({"name": "x", "token_ttl_seconds": 120.5}),
            "token_ttl_seconds",
        ),
    ];
    let mut failures = Vec::new();
    for (body, field) in &cases {
        let r = e.admin.post("/clients", body).await;
        let named = r.status == 422
            && r.header("content-type")
                .is_some_and(|c| c.starts_with(PROBLEM))
            && serde_json::from_slice::<Value>(&r.body).unwrap_or_default()["errors"]
                .as_array()
                .is_some_and(|errs| errs.iter().any(|er| names_field(&er["field"], field)));
        if !named {
            failures.push(format!(
                "POST /admin/v1/clients {body} → {} {} (expected 422 naming {field:?})",
                r.status,
                r.text()
            ));
        } else {
            r.invalid(field);
        }
    }
    // Several faults at once are all named.
    let r = e
        .admin
        .post(
            "/clients",
            &json!({"name": "", "token_ttl_seconds": 59, "allowed_ips": ["1.2.3"]}),
        )
        .await;
    r.invalid("name");
    r.invalid("token_ttl_seconds");
    r.invalid("allowed_ips");

    assert_eq!(
        e.client_total().await,
        total,
        "a refused create made a client"
    );
    let page = e.admin.ok("/clients?limit=1000").await;
    for item in page_items(&page, "after") {
        assert!(
            item["client_id"] == e.admin_id.as_str(),
            "unexpected client {item}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn owned_clients_may_be_granted_only_scopes_their_owner_holds() {
    let e = Env::new().await;
    // A delegated admin, owned by the root admin, holding orders:read but not orders:write.
    let team = e
        .create_client(
            json!({"name": "team", "scopes": ["admin:read", "admin:write", "orders:read"]}),
        )
        .await;
    assert_eq!(team["owner"]["id"], e.admin_id.as_str());
    let (team_id, team_secret) = id_and_secret(&team);
    let team_api = caller(&e.s, Some(&admin_token(&e.s, &team_id, &team_secret).await));

    let svc = team_api
        .post(
            "/clients",
            &json!({"name": "team-svc", "scopes": ["orders:read"]}),
        )
        .await
        .ok(201);
    assert_eq!(
        svc["owner"]["id"],
        team_id.as_str(),
        "owner = acting client"
    );
    let (svc_id, svc_secret) = id_and_secret(&svc);
    assert_issued(
        try_token(&e.s, &svc_id, &svc_secret, None).await,
        "team-svc",
    );

    let total = e.client_total().await;
    for scopes in [
        json!(["orders:write"]),
        json!(["orders:read", "orders:write"]),
    ] {
        team_api
            .post("/clients", &json!({"name": "too-much", "scopes": scopes}))
            .await
            .problem(403);
    }
    assert_eq!(
        e.client_total().await,
        total,
        "a refused create made a client"
    );
    team_api
        .patch(
            &format!("/clients/{svc_id}"),
            &json!({"scopes": ["orders:read", "orders:write"]}),
        )
        .await
        .problem(403);
    team_api
        .put(
            &format!("/clients/{svc_id}"),
            &json!({"name": "team-svc", "scopes": ["orders:write"]}),
        )
        .await
        .problem(403);
    let after = e.admin.ok(&format!("/clients/{svc_id}")).await;
    assert_eq!(after["scopes"], json!(["orders:read"]), "unchanged");

    // The root admin may grant anything.
    e.admin
        .patch(
            &format!("/clients/{svc_id}"),
            &json!({"scopes": ["orders:read", "orders:write"]}),
        )
        .await
        .ok(200);
}

#[tokio::test]
async fn disabling_a_client_disables_the_clients_it_owns_transitively() {
    let e = Env::new().await;
    let admin_scopes = json!(["admin:read", "admin:write", "orders:read"]);
    let a = e
        .create_client(json!({"name": "a", "scopes": admin_scopes}))
        .await;
    let (a_id, a_secret) = id_and_secret(&a);
    let a_api = caller(&e.s, Some(&admin_token(&e.s, &a_id, &a_secret).await));
    let b = a_api
        .post("/clients", &json!({"name": "b", "scopes": admin_scopes}))
        .await
        .ok(201);
    let (b_id, b_secret) = id_and_secret(&b);
    let b_api = caller(&e.s, Some(&admin_token(&e.s, &b_id, &b_secret).await));
    let c = b_api
        .post("/clients", &json!({"name": "c", "scopes": ["orders:read"]}))
        .await
        .ok(201);
    let (c_id, c_secret) = id_and_secret(&c);
    assert_eq!(c["owner"]["id"], b_id.as_str());
    assert_issued(try_token(&e.s, &c_id, &c_secret, None).await, "c before");

    e.admin
        .patch(&format!("/clients/{a_id}"), &json!({"enabled": false}))
        .await
        .ok(200);
    assert_refused(try_token(&e.s, &a_id, &a_secret, None).await, "a disabled");
    let mut failures = Vec::new();
    for (name, id, secret) in [("b", &b_id, &b_secret), ("c", &c_id, &c_secret)] {
        let got = try_token(&e.s, id, secret, None).await;
        if got.0 != 401 || got.1["error"] != "invalid_client" {
            failures.push(format!(
                "after PATCH /clients/{{a}} {{\"enabled\":false}}: token request of {name} \
                 (owned by a, transitively) → {}",
                brief(&got)
            ));
        }
        let v = e.admin.ok(&format!("/clients/{id}")).await;
        if v["enabled"] != false {
            failures.push(format!(
                "after disabling a: GET /clients/{{{name}}} shows enabled = {}",
                v["enabled"]
            ));
        }
    }
    let r = b_api.get("/clients").await;
    if r.status != 401 {
        failures.push(format!(
            "after disabling a: b's admin token → GET /clients {} (expected 401 invalid_token)",
            r.status
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn deleting_a_client_disables_the_clients_it_owns() {
    let e = Env::new().await;
    let d = e
        .create_client(json!({"name": "d", "scopes": ["admin:read", "admin:write", "orders:read"]}))
        .await;
    let (d_id, d_secret) = id_and_secret(&d);
    let d_api = caller(&e.s, Some(&admin_token(&e.s, &d_id, &d_secret).await));
    let x = d_api
        .post(
            "/clients",
            &json!({"name": "x", "scopes": ["admin:read", "admin:write"]}),
        )
        .await
        .ok(201);
    let (x_id, x_secret) = id_and_secret(&x);
    let x_api = caller(&e.s, Some(&admin_token(&e.s, &x_id, &x_secret).await));
    x_api.ok("/clients").await;

    let r = e.admin.delete(&format!("/clients/{d_id}")).await;
    assert_eq!(r.status, 204, "{}: {}", r.what, r.text());
    let mut failures = Vec::new();
    let got = try_token(&e.s, &x_id, &x_secret, None).await;
    if got.0 != 401 {
        failures.push(format!(
            "after DELETE /clients/{{d}}: token request of x (owned by d) → {}",
            brief(&got)
        ));
    }
    let r = x_api.get("/clients").await;
    if r.status != 401 {
        failures.push(format!(
            "after DELETE /clients/{{d}}: x's admin token → GET /clients {} (expected 401)",
            r.status
        ));
    }
    let v = e.admin.ok(&format!("/clients/{x_id}")).await;
    if v["enabled"] != false {
        failures.push(format!(
            "after DELETE /clients/{{d}}: GET /clients/{{x}} → enabled {}, owner {}",
            v["enabled"], v["owner"]
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn put_replaces_and_patch_merges() {
    let e = Env::new().await;
    let c = e
        .create_client(json!({
            "name": "svc",
            "description": "first",
            "scopes": ["orders:read", "orders:write"],
            "allowed_ips": ["127.0.0.0/8"],
            "token_ttl_seconds": 120
        }))
        .await;
    let (id, secret) = id_and_secret(&c);
    let path = format!("/clients/{id}");
    let unchanged = |a: &Value, b: &Value, except: &[&str], what: &str| {
        for field in [
            "client_id",
            "name",
            "description",
            "enabled",
            "scopes",
            "roles",
            "allowed_ips",
            "token_ttl_seconds",
            "owner",
            "created_at",
        ] {
            if !except.contains(&field) {
                assert_eq!(a[field], b[field], "{what}: {field} changed");
            }
        }
    };

    // Merge patch: only the description changes.
    let v = e
        .admin
        .patch(&path, &json!({"description": "second"}))
        .await
        .ok(200);
    assert_eq!(v["description"], "second");
    unchanged(&c, &v, &["description"], "PATCH description");
    assert!(
        time(&v["updated_at"], "updated_at") >= time(&c["updated_at"], "updated_at"),
        "updated_at went back"
    );
    let got = e.admin.ok(&path).await;
    assert_eq!(got["description"], "second", "GET after PATCH");
    unchanged(&c, &got, &["description"], "GET after PATCH");

    // application/json is accepted for PATCH too.
    let v = e
        .admin
        .request(
            Method::PATCH,
            &path,
            Some(JSON),
            Some(json!({"name": "svc2"}).to_string()),
        )
        .await
        .ok(200);
    assert_eq!(v["name"], "svc2");
    assert_eq!(v["description"], "second");

    // null resets the lifetime to the default.
    let v = e
        .admin
        .patch(&path, &json!({"token_ttl_seconds": 300}))
        .await
        .ok(200);
    assert_eq!(v["token_ttl_seconds"], 300);
    let v = e
        .admin
        .patch(&path, &json!({"token_ttl_seconds": null}))
        .await
        .ok(200);
    assert_eq!(v["token_ttl_seconds"], 900, "null → default");
    assert_eq!(v["scopes"], json!(["orders:read", "orders:write"]));
    let token = assert_issued(try_token(&e.s, &id, &secret, None).await, "after reset");
    assert_eq!(token["expires_in"], 900);

    // Bad patches change nothing.
    let before = e.admin.ok(&path).await;
    for bad in [json!([]), json!("x"), json!(5), json!(null)] {
        e.admin.patch(&path, &bad).await.problem(422);
    }
    e.admin
        .patch(&path, &json!({"colour": "red"}))
        .await
        .invalid("colour");
    e.admin
        .patch(&path, &json!({"allowed_ips": ["1.2.3"]}))
        .await
        .invalid("allowed_ips");
    e.admin
        .patch(&path, &json!({"token_ttl_seconds": 3601}))
        .await
        .invalid("token_ttl_seconds");
    e.admin
        .patch(&path, &json!({"scopes": ["nope:read"]}))
        .await
        .invalid("scopes");
    e.admin
        .patch(&path, &json!({"roles": ["no-such-role"]}))
        .await
        .invalid("roles");
    e.admin
        .patch(&path, &json!({"name": ""}))
        .await
        .invalid("name");
    e.admin
        .patch(&path, &json!({"enabled": "no"}))
        .await
        .invalid("enabled");
    e.admin
        .request(
            Method::PATCH,
            &path,
            Some("text/plain"),
            Some(json!({"description": "x"}).to_string()),
        )
        .await
        .problem(415);
    e.admin
        .patch("/clients/no-such-client", &json!({"description": "x"}))
        .await
        .problem(404);
    let after = e.admin.ok(&path).await;
    unchanged(&before, &after, &[], "after refused patches");
    assert_eq!(after["updated_at"], before["updated_at"], "refused patch");

    // PUT: omitted fields take their defaults.
    let v = e
        .admin
        .put(&path, &json!({"name": "replaced"}))
        .await
        .ok(200);
    assert_eq!(v["client_id"], id.as_str());
    assert_eq!(v["name"], "replaced");
    assert_eq!(v["description"], "");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["scopes"], json!([]));
    assert_eq!(v["roles"], json!([]));
    assert_eq!(v["allowed_ips"], json!([]));
    assert_eq!(v["token_ttl_seconds"], 900);
    assert_eq!(v["owner"], c["owner"], "PUT must not change the owner");
    assert_eq!(v["created_at"], c["created_at"]);
    // The token endpoint sees the change at once.
    let got = try_token(&e.s, &id, &secret, Some("orders:read")).await;
    assert_eq!(got.0, 400, "scope removed by PUT still granted: {got:?}");
    assert_eq!(got.1["error"], "invalid_scope", "{got:?}");

    let v = e
        .admin
        .put(
            &path,
            &json!({"name": "again", "scopes": ["orders:read"], "token_ttl_seconds": 180}),
        )
        .await
        .ok(200);
    assert_eq!(v["scopes"], json!(["orders:read"]));
    let token = assert_issued(try_token(&e.s, &id, &secret, None).await, "after PUT");
    assert_eq!(token["expires_in"], 180);
    assert_eq!(token["scope"], "orders:read");

    let before = e.admin.ok(&path).await;
    e.admin
        .put(&path, &json!({"name": "x", "scopes": ["nope:read"]}))
        .await
        .invalid("scopes");
    e.admin
        .put(&path, &json!({"name": "x", "allowed_ips": ["fe80::/129"]}))
        .await
        .invalid("allowed_ips");
    e.admin
        .put(&path, &json!({"name": "x", "colour": "red"}))
        .await
        .invalid("colour");
    e.admin
        .put(&path, &json!({"name": "x", "client_id": "other"}))
        .await
        .invalid("client_id");
    e.admin
        .put("/clients/no-such-client", &json!({"name": "x"}))
        .await
        .problem(404);
    let after = e.admin.ok(&path).await;
    unchanged(&before, &after, &[], "after refused PUTs");
}

#[tokio::test]
async fn disabling_enabling_and_deleting_a_client_take_effect_at_once() {
    let e = Env::new().await;
    let ops = e
        .create_client(json!({"name": "ops", "scopes": ["admin:read", "admin:write"]}))
        .await;
    let (ops_id, ops_secret) = id_and_secret(&ops);
    let ops_api = caller(&e.s, Some(&admin_token(&e.s, &ops_id, &ops_secret).await));
    ops_api.ok("/clients").await;
    let path = format!("/clients/{ops_id}");

    let v = e
        .admin
        .patch(&path, &json!({"enabled": false}))
        .await
        .ok(200);
    assert_eq!(v["enabled"], false);
    assert_eq!(e.admin.ok(&path).await["enabled"], false);
    assert_refused(
        try_token(&e.s, &ops_id, &ops_secret, None).await,
        "disabled client",
    );
    ops_api.get("/clients").await.unauthorized(INVALID_TOKEN);
    ops_api
        .post("/clients", &json!({"name": "by-disabled"}))
        .await
        .unauthorized(INVALID_TOKEN);

    let v = e
        .admin
        .patch(&path, &json!({"enabled": true}))
        .await
        .ok(200);
    assert_eq!(v["enabled"], true);
    let token = admin_token(&e.s, &ops_id, &ops_secret).await;
    let ops_api = caller(&e.s, Some(&token));
    ops_api.ok("/clients").await;

    let total = e.client_total().await;
    let r = e.admin.delete(&path).await;
    assert_eq!(r.status, 204, "{}: {}", r.what, r.text());
    assert!(r.body.is_empty(), "204 with a body: {}", r.text());
    assert_eq!(e.client_total().await, total - 1);
    e.admin.get(&path).await.problem(404);
    e.admin.delete(&path).await.problem(404);
    e.admin.get(&format!("{path}/secrets")).await.problem(404);
    assert_refused(
        try_token(&e.s, &ops_id, &ops_secret, None).await,
        "deleted client",
    );
    ops_api.get("/clients").await.unauthorized(INVALID_TOKEN);
    e.admin.get("/clients/no-such-client").await.problem(404);
}

// ---------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn secrets_can_be_added_listed_masked_deleted_and_reset() {
    let e = Env::new().await;
    let c = e
        .create_client(json!({"name": "svc", "scopes": ["orders:read"]}))
        .await;
    let (id, s1) = id_and_secret(&c);
    let other = e
        .create_client(json!({"name": "other", "scopes": ["orders:read"]}))
        .await;
    let (other_id, other_secret) = id_and_secret(&other);
    let secrets_path = format!("/clients/{id}/secrets");
    let masked_ok = |masked: &Value, secret: &str, what: &str| {
        let m = s(masked);
        assert!(m.starts_with("tsk_"), "{what}: masked {m:?}");
        assert!(
            m.ends_with(&secret[secret.len() - 4..]),
            "{what}: masked {m:?} should end with the secret's last 4 characters"
        );
        assert!(m.chars().count() < 16, "{what}: masked {m:?} too long");
        assert!(!m.contains(&secret[4..12]), "{what}: masked {m:?} leaks");
    };

    let list = e.admin.ok(&secrets_path).await;
    let items = page_items(&list, "secrets");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(list["total"], 1);
    for field in [
        "secret_id",
        "masked",
        "created_at",
        "expires_at",
        "last_used_at",
    ] {
        assert!(items[0].get(field).is_some(), "secret item lacks {field}");
    }
    let s1_id = s(&items[0]["secret_id"]).to_owned();
    masked_ok(&items[0]["masked"], &s1, "first secret");
    assert!(items[0]["expires_at"].is_null());
    time(&items[0]["created_at"], "secret created_at");
    assert!(!list.to_string().contains(&s1), "list leaks the secret");

    // Add one with an empty body and one with an expiry.
    let r = e.admin.post_empty(&secrets_path).await;
    let added = r.ok(201);
    for field in ["secret_id", "client_secret", "created_at", "expires_at"] {
        assert!(
            added.get(field).is_some(),
            "new secret lacks {field}: {added}"
        );
    }
    let s2 = s(&added["client_secret"]).to_owned();
    let s2_id = s(&added["secret_id"]).to_owned();
    assert!(s2.starts_with("tsk_") && s2 != s1, "{added}");
    assert!(added["expires_at"].is_null());
    time(&added["created_at"], "new secret created_at");

    let expiry = Utc::now() + chrono::Duration::days(1);
    let added = e
        .admin
        .post(&secrets_path, &json!({"expires_at": rfc3339(expiry)}))
        .await
        .ok(201);
    let s3 = s(&added["client_secret"]).to_owned();
    let s3_id = s(&added["secret_id"]).to_owned();
    let echoed = time(&added["expires_at"], "expires_at");
    assert!(
        (echoed - expiry).num_milliseconds().abs() < 1000,
        "expires_at {echoed} ≠ {expiry}"
    );

    for (what, secret) in [("s1", &s1), ("s2", &s2), ("s3", &s3)] {
        assert_issued(try_token(&e.s, &id, secret, None).await, what);
    }
    let list = e.admin.ok(&secrets_path).await;
    let items = page_items(&list, "three secrets");
    assert_eq!(items.len(), 3, "{list}");
    for (sid, secret) in [(&s1_id, &s1), (&s2_id, &s2), (&s3_id, &s3)] {
        let item = items
            .iter()
            .find(|i| i["secret_id"] == sid.as_str())
            .unwrap_or_else(|| panic!("secret {sid} not listed: {list}"));
        masked_ok(&item["masked"], secret, sid);
    }

    // Refused additions.
    let past = rfc3339(Utc::now() - chrono::Duration::minutes(1));
    e.admin
        .post(&secrets_path, &json!({"expires_at": past}))
        .await
        .invalid("expires_at");
    e.admin
        .post(&secrets_path, &json!({"expires_at": "tomorrow"}))
        .await
        .invalid("expires_at");
    e.admin
        .post(&secrets_path, &json!({"colour": "red"}))
        .await
        .invalid("colour");
    e.admin
        .post_empty("/clients/no-such-client/secrets")
        .await
        .problem(404);
    e.admin
        .get("/clients/no-such-client/secrets")
        .await
        .problem(404);
    assert_eq!(
        page_items(&e.admin.ok(&secrets_path).await, "after refusals").len(),
        3
    );

    // Delete one: it stops working, the others go on.
    let r = e.admin.delete(&format!("{secrets_path}/{s1_id}")).await;
    assert_eq!(r.status, 204, "{}: {}", r.what, r.text());
    assert_refused(try_token(&e.s, &id, &s1, None).await, "deleted secret");
    assert_issued(
        try_token(&e.s, &id, &s2, None).await,
        "s2 after deleting s1",
    );
    e.admin
        .delete(&format!("{secrets_path}/{s1_id}"))
        .await
        .problem(404);
    e.admin
        .delete(&format!("{secrets_path}/no-such-secret"))
        .await
        .problem(404);
    e.admin
        .delete(&format!("/clients/no-such-client/secrets/{s2_id}"))
        .await
        .problem(404);
    // A secret id under another client's path is unknown there.
    e.admin
        .delete(&format!("/clients/{other_id}/secrets/{s2_id}"))
        .await
        .problem(404);
    assert_issued(try_token(&e.s, &id, &s2, None).await, "s2 still there");

    // Reset: one new secret, every older one refused at once.
    let r = e
        .admin
        .post_empty(&format!("/clients/{id}/reset-secret"))
        .await;
    let reset = r.ok(200);
    let s4 = s(&reset["client_secret"]).to_owned();
    assert!(s4.starts_with("tsk_"), "{reset}");
    for field in ["secret_id", "created_at", "expires_at"] {
        assert!(reset.get(field).is_some(), "reset lacks {field}: {reset}");
    }
    assert_refused(try_token(&e.s, &id, &s2, None).await, "s2 after reset");
    assert_refused(try_token(&e.s, &id, &s3, None).await, "s3 after reset");
    assert_issued(try_token(&e.s, &id, &s4, None).await, "s4 after reset");
    let list = e.admin.ok(&secrets_path).await;
    let items = page_items(&list, "after reset");
    assert_eq!(ids(&items, "secret_id"), vec![s(&reset["secret_id"])]);
    e.admin
        .post_empty("/clients/no-such-client/reset-secret")
        .await
        .problem(404);
    // The other client was not touched.
    assert_issued(
        try_token(&e.s, &other_id, &other_secret, None).await,
        "other client",
    );

    // No GET anywhere shows a live secret or a hash.
    let secrets = [&s1, &s2, &s3, &s4, &other_secret, &e.admin_secret];
    for path in [
        "/clients?limit=1000".to_owned(),
        format!("/clients/{id}"),
        secrets_path.clone(),
        format!("/clients/{other_id}/secrets"),
        format!("/clients/{}", e.admin_id),
        "/audit-events?limit=1000".to_owned(),
        "/apis".to_owned(),
        "/keys".to_owned(),
    ] {
        let body = e.admin.get(&path).await.text();
        assert!(!body.contains("$argon2"), "GET {path} shows a hash: {body}");
        for secret in secrets {
            assert!(!body.contains(secret.as_str()), "GET {path} shows a secret");
        }
    }
}

#[tokio::test]
async fn an_expired_secret_is_refused() {
    let e = Env::new().await;
    let c = e
        .create_client(json!({"name": "svc", "scopes": ["orders:read"]}))
        .await;
    let id = s(&c["client_id"]).to_owned();
    let expiry = Utc::now() + chrono::Duration::seconds(3);
    let added = e
        .admin
        .post(
            &format!("/clients/{id}/secrets"),
            &json!({"expires_at": rfc3339(expiry)}),
        )
        .await
        .ok(201);
    let secret = s(&added["client_secret"]).to_owned();
    assert_issued(try_token(&e.s, &id, &secret, None).await, "before expiry");
    let wait = (expiry - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1500);
    tokio::time::sleep(wait).await;
    assert_refused(try_token(&e.s, &id, &secret, None).await, "after expiry");
    // The client's first secret never expires.
    assert_issued(
        try_token(&e.s, &id, s(&c["client_secret"]), None).await,
        "first secret",
    );
}

// ---------------------------------------------------------------------------------------
// APIs
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_api_catalog_can_be_managed() {
    let e = Env::new().await;
    let list = e.admin.ok("/apis").await;
    let items = page_items(&list, "apis");
    let admin = items
        .iter()
        .find(|a| a["name"] == "admin")
        .unwrap_or_else(|| panic!("no built-in admin API: {list}"));
    assert_eq!(admin["audience"], e.admin_audience());
    assert_eq!(admin["permissions"], json!(["read", "write"]));
    assert!(items.iter().any(|a| a["name"] == "orders"), "{list}");
    assert_eq!(list["total"], items.len());

    // Create.
    let billing_aud = "https://api.example.com/billing";
    let r = e
        .admin
        .post(
            "/apis",
            &json!({"name": "billing", "audience": billing_aud}),
        )
        .await;
    let billing = r.ok(201);
    assert_eq!(
        r.header("location"),
        Some(e.s.url("/admin/v1/apis/billing").as_str()),
        "Location"
    );
    assert_eq!(billing["name"], "billing");
    assert_eq!(billing["audience"], billing_aud);
    assert_eq!(billing["permissions"], json!(["read", "write"]), "default");
    time(&billing["created_at"], "api created_at");
    let audit = e
        .admin
        .post(
            "/apis",
            &json!({"name": "audit-log", "audience": "urn:example:audit", "permissions": ["read"]}),
        )
        .await
        .ok(201);
    assert_eq!(audit["permissions"], json!(["read"]));
    assert_eq!(
        e.admin.ok("/apis/billing").await,
        billing,
        "GET /apis/billing"
    );
    e.admin.get("/apis/no-such-api").await.problem(404);

    // Refusals.
    let before = e.admin.ok("/apis").await["total"].clone();
    for (body, field) in [
        (
            json!({"name": "Bad", "audience": "https://x.example/bad"}),
            "name",
        ),
        (
            json!({"name": "", "audience": "https://x.example/e"}),
            "name",
        ),
        (
            json!({"name": "-x", "audience": "https://x.example/d"}),
            "name",
        ),
        (json!({"name": "ok", "audience": "not a uri"}), "audience"),
        (
            json!({"name": "ok", "audience": "https://x.example/p", "permissions": ["delete"]}),
            "permissions",
        ),
        (
            json!({"name": "ok", "audience": "https://x.example/q", "permissions": []}),
            "permissions",
        ),
        (
            json!({"name": "ok", "audience": "https://x.example/c", "colour": "red"}),
            "colour",
        ),
        (json!({"name": "ok", "audience": 5}), "audience"),
    ] {
        e.admin.post("/apis", &body).await.invalid(field);
    }
    e.admin
        .post(
            "/apis",
            &json!({"name": "billing", "audience": "https://other.example/billing"}),
        )
        .await
        .problem(409);
    e.admin
        .post(
            "/apis",
            &json!({"name": "billing2", "audience": billing_aud}),
        )
        .await
        .problem(409);
    e.admin
        .post(
            "/apis",
            &json!({"name": "admin2", "audience": e.admin_audience()}),
        )
        .await
        .problem(409);
    assert_eq!(
        e.admin.ok("/apis").await["total"],
        before,
        "refusals changed the catalog"
    );

    // A client granted billing: its tokens carry the audience, which PUT can change.
    let c = e
        .create_client(json!({"name": "payer", "scopes": ["billing:read", "billing:write"]}))
        .await;
    let (id, secret) = id_and_secret(&c);
    let token = assert_issued(try_token(&e.s, &id, &secret, None).await, "billing");
    assert_eq!(jwt_parts(s(&token["access_token"])).1["aud"], billing_aud);
    let new_aud = "https://billing.example.com";
    let updated = e
        .admin
        .put(
            "/apis/billing",
            &json!({"audience": new_aud, "permissions": ["read", "write"]}),
        )
        .await
        .ok(200);
    assert_eq!(updated["audience"], new_aud);
    assert_eq!(e.admin.ok("/apis/billing").await["audience"], new_aud);
    let token = assert_issued(try_token(&e.s, &id, &secret, None).await, "new aud");
    assert_eq!(
        jwt_parts(s(&token["access_token"])).1["aud"],
        new_aud,
        "token after the audience changed"
    );
    // A permission still granted cannot be dropped.
    e.admin
        .put(
            "/apis/billing",
            &json!({"audience": new_aud, "permissions": ["read"]}),
        )
        .await
        .invalid("permissions");
    e.admin
        .put(
            "/apis/billing",
            &json!({"audience": new_aud, "permissions": ["read", "write"], "colour": 1}),
        )
        .await
        .invalid("colour");
    e.admin
        .put(
            "/apis/billing",
            &json!({"audience": ORDERS, "permissions": ["read", "write"]}),
        )
        .await
        .problem(409);
    e.admin
        .put(
            "/apis/no-such-api",
            &json!({"audience": "https://n.example", "permissions": ["read"]}),
        )
        .await
        .problem(404);
    assert_eq!(
        e.admin.ok("/apis/billing").await["permissions"],
        json!(["read", "write"])
    );
    // An ungranted permission can be dropped.
    let narrowed = e
        .admin
        .put(
            "/apis/audit-log",
            &json!({"audience": "urn:example:audit", "permissions": ["read"]}),
        )
        .await
        .ok(200);
    assert_eq!(narrowed["permissions"], json!(["read"]));

    // Deletion.
    e.admin.delete("/apis/admin").await.problem(409);
    assert!(
        page_items(&e.admin.ok("/apis").await, "after admin delete")
            .iter()
            .any(|a| a["name"] == "admin")
    );
    e.admin.delete("/apis/billing").await.problem(409);
    assert_eq!(
        e.admin.ok(&format!("/clients/{id}")).await["scopes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = e.admin.delete("/apis/billing?force=true").await;
    assert_eq!(r.status, 204, "{}: {}", r.what, r.text());
    e.admin.get("/apis/billing").await.problem(404);
    let after = e.admin.ok(&format!("/clients/{id}")).await;
    assert_eq!(after["scopes"], json!([]), "grants of a deleted API remain");
    let got = try_token(&e.s, &id, &secret, Some("billing:read")).await;
    assert_eq!(got.0, 400, "scope of a deleted API: {got:?}");
    assert_eq!(got.1["error"], "invalid_scope");
    let r = e.admin.delete("/apis/audit-log").await;
    assert_eq!(r.status, 204, "ungranted API: {}", r.text());
    e.admin.delete("/apis/audit-log").await.problem(404);
}

// ---------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------

async fn jwks_kids(s: &Server) -> Vec<String> {
    let jwks: Value = http()
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| s_owned(&k["kid"]))
        .collect()
}

fn s_owned(v: &Value) -> String {
    s(v).to_owned()
}

#[track_caller]
fn assert_public_only(key: &Value, what: &str) {
    for private in [
        "d",
        "p",
        "q",
        "dp",
        "dq",
        "qi",
        "k",
        "private_key",
        "private_jwk",
    ] {
        assert!(
            key.get(private).is_none(),
            "{what}: key shows {private}: {key}"
        );
    }
}

#[tokio::test]
async fn signing_keys_can_be_listed_and_rotated() {
    let e = Env::new().await;
    let token = e.admin.authorization.clone().unwrap();
    let (header, _) = jwt_parts(token.strip_prefix("Bearer ").unwrap());
    let first_kid = s_owned(&header["kid"]);

    let list = e.admin.ok("/keys").await;
    let items = page_items(&list, "keys");
    assert_eq!(items.len(), 1, "{list}");
    let k = &items[0];
    assert_eq!(k["kid"], first_kid.as_str());
    assert_eq!(k["alg"], "ES256");
    assert_eq!(k["state"], "signing");
    time(&k["created_at"], "key created_at");
    time(&k["activates_at"], "key activates_at");
    assert_public_only(k, "GET /keys");

    // Staged rotation: published at once, not yet signing.
    let before = Utc::now();
    let r = e.admin.post_empty("/keys/rotate").await;
    let next = r.ok(200);
    assert_eq!(next["state"], "next", "{next}");
    assert_public_only(&next, "rotate");
    let next_kid = s_owned(&next["kid"]);
    assert_ne!(next_kid, first_kid);
    assert!(
        time(&next["activates_at"], "activates_at") > before,
        "a next key activates later: {next}"
    );
    assert!(
        jwks_kids(&e.s).await.contains(&next_kid),
        "rotated key not in the JWKS at once"
    );
    let later = e
        .admin
        .post("/keys/rotate", &json!({"now": false}))
        .await
        .ok(200);
    assert_eq!(later["state"], "next", "{later}");
    let later_kid = s_owned(&later["kid"]);

    e.admin
        .post("/keys/rotate", &json!({"now": "yes"}))
        .await
        .invalid("now");
    e.admin
        .post("/keys/rotate", &json!({"later": true}))
        .await
        .invalid("later");

    // Emergency rotation: signs at once.
    let now = e
        .admin
        .post("/keys/rotate", &json!({"now": true}))
        .await
        .ok(200);
    assert_eq!(now["state"], "signing", "{now}");
    let now_kid = s_owned(&now["kid"]);
    assert!(jwks_kids(&e.s).await.contains(&now_kid));
    let fresh = admin_token(&e.s, &e.admin_id, &e.admin_secret).await;
    assert_eq!(
        jwt_parts(&fresh).0["kid"],
        now_kid.as_str(),
        "a token after an emergency rotation is signed by the new key"
    );
    caller(&e.s, Some(&fresh)).ok("/keys").await;

    let list = e.admin.ok("/keys").await;
    let items = page_items(&list, "after rotations");
    assert_eq!(items.len(), 4, "{list}");
    assert_eq!(list["total"], 4);
    let state = |kid: &str| {
        items
            .iter()
            .find(|k| k["kid"] == kid)
            .map(|k| k["state"].clone())
            .unwrap_or_else(|| panic!("{kid} not listed: {list}"))
    };
    assert_eq!(state(&now_kid), "signing");
    assert_eq!(state(&first_kid), "verifying");
    assert_eq!(state(&next_kid), "next");
    assert_eq!(state(&later_kid), "next");
    assert_eq!(
        items.iter().filter(|k| k["state"] == "signing").count(),
        1,
        "exactly one signing key: {list}"
    );
    for k in &items {
        assert_public_only(k, "GET /keys after rotations");
    }
    // The old admin token, signed by a key still published, still works.
    e.admin.ok("/clients").await;
}

// ---------------------------------------------------------------------------------------
// Audit events
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_changes_leave_audit_events() {
    let e = Env::new().await;
    let c = e
        .create_client(json!({"name": "audited", "scopes": ["orders:read"]}))
        .await;
    let (id, first_secret) = id_and_secret(&c);
    let path = format!("/clients/{id}");
    let mut secrets = vec![first_secret];
    e.admin
        .patch(&path, &json!({"description": "changed"}))
        .await
        .ok(200);
    e.admin
        .patch(&path, &json!({"enabled": false}))
        .await
        .ok(200);
    e.admin
        .patch(&path, &json!({"enabled": true}))
        .await
        .ok(200);
    let added = e.admin.post_empty(&format!("{path}/secrets")).await.ok(201);
    secrets.push(s_owned(&added["client_secret"]));
    let r = e
        .admin
        .delete(&format!("{path}/secrets/{}", s(&added["secret_id"])))
        .await;
    assert_eq!(r.status, 204);
    let reset = e
        .admin
        .post_empty(&format!("{path}/reset-secret"))
        .await
        .ok(200);
    secrets.push(s_owned(&reset["client_secret"]));
    e.admin
        .post(
            "/apis",
            &json!({"name": "billing", "audience": "https://api.example.com/billing"}),
        )
        .await
        .ok(201);
    e.admin
        .put(
            "/apis/billing",
            &json!({"audience": "https://billing.example.com", "permissions": ["read"]}),
        )
        .await
        .ok(200);
    assert_eq!(e.admin.delete("/apis/billing").await.status, 204);
    let key = e.admin.post_empty("/keys/rotate").await.ok(200);
    let kid = s_owned(&key["kid"]);
    assert_eq!(e.admin.delete(&path).await.status, 204);

    let expected: Vec<(&str, &str)> = vec![
        ("client.created", &id),
        ("client.updated", &id),
        ("client.disabled", &id),
        ("client.enabled", &id),
        ("secret.added", &id),
        ("secret.deleted", &id),
        ("secret.reset", &id),
        ("api.created", "billing"),
        ("api.updated", "billing"),
        ("api.deleted", "billing"),
        ("key.rotated", &kid),
        ("client.deleted", &id),
    ];

    let page = e.admin.ok("/audit-events?limit=1000").await;
    let events = page_items(&page, "audit events");
    let mut last: Option<DateTime<Utc>> = None;
    for ev in &events {
        for field in ["id", "time", "type", "actor", "target", "details"] {
            assert!(ev.get(field).is_some(), "event lacks {field}: {ev}");
        }
        let t = time(&ev["time"], "event time");
        if let Some(prev) = last {
            assert!(t <= prev, "not newest first: {page}");
        }
        last = Some(t);
        let details = ev["details"].to_string();
        assert!(!details.contains("$argon2"), "hash in {ev}");
        for secret in &secrets {
            assert!(!details.contains(secret.as_str()), "secret in {ev}");
        }
    }
    let admin_events: Vec<(String, String)> = events
        .iter()
        .filter(|ev| ev["actor"]["id"] == e.admin_id.as_str() && ev["type"] != "token.issued")
        .map(|ev| {
            (
                s_owned(&ev["type"]),
                ev["target"].as_str().unwrap_or("<none>").to_owned(),
            )
        })
        .collect();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(k, t)| ((*k).to_owned(), (*t).to_owned()))
        .collect();
    want.reverse();
    assert_eq!(admin_events, want, "admin events, newest first");

    // ?client_id matches actor or target.
    let by_client = e
        .admin
        .ok(&format!("/audit-events?client_id={id}&limit=1000"))
        .await;
    let items = page_items(&by_client, "by client");
    for ev in &items {
        assert!(
            ev["actor"]["id"] == id.as_str() || ev["target"] == id.as_str(),
            "?client_id={id} returned {ev}"
        );
    }
    let client_types: Vec<&str> = items
        .iter()
        .filter(|ev| ev["type"] != "token.issued")
        .map(|ev| s(&ev["type"]))
        .collect();
    let want_types: Vec<&str> = expected
        .iter()
        .rev()
        .filter(|(_, t)| *t == id)
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(client_types, want_types, "events of the client");
    assert_eq!(by_client["total"], items.len());
    let by_actor = e
        .admin
        .ok(&format!(
            "/audit-events?client_id={}&limit=1000",
            e.admin_id
        ))
        .await;
    assert!(
        page_items(&by_actor, "by actor").len() >= expected.len(),
        "?client_id=<admin> should match every event it acted in: {by_actor}"
    );

    // ?type, combined with client_id, and paging that keeps the filters.
    let typed = e.admin.ok("/audit-events?type=secret.added").await;
    let items = page_items(&typed, "by type");
    assert_eq!(items.len(), 1, "{typed}");
    assert_eq!(items[0]["type"], "secret.added");
    assert_eq!(items[0]["target"], id.as_str());
    let none = e
        .admin
        .ok(&format!("/audit-events?type=api.created&client_id={id}"))
        .await;
    assert!(page_items(&none, "type and client").is_empty(), "{none}");
    let base = e.s.url("/admin/v1/audit-events");
    let p1 = e
        .admin
        .ok(&format!("/audit-events?client_id={id}&limit=2"))
        .await;
    assert_eq!(page_items(&p1, "p1").len(), 2);
    let q = link_query(&p1["links"]["next"], &base, "audit next");
    assert_eq!(q.get("client_id"), Some(&id), "next link keeps the filter");
    assert_eq!(q.get("offset").map(String::as_str), Some("2"));
    let p2 = e.admin.ok(s(&p1["links"]["next"])).await;
    let p2_types: Vec<String> = page_items(&p2, "p2")
        .iter()
        .map(|ev| s_owned(&ev["type"]))
        .collect();
    assert_eq!(
        p2_types,
        want_types[2..4],
        "second page of the client's events"
    );

    // since (inclusive) and until (exclusive).
    let reset_event = page_items(
        &e.admin.ok("/audit-events?type=secret.reset").await,
        "reset event",
    )[0]
    .clone();
    let at = rfc3339(time(&reset_event["time"], "reset time"));
    let since = e
        .admin
        .ok(&format!(
            "/audit-events?client_id={id}&since={at}&limit=1000"
        ))
        .await;
    let since_types: Vec<String> = page_items(&since, "since")
        .iter()
        .filter(|ev| ev["type"] != "token.issued")
        .map(|ev| s_owned(&ev["type"]))
        .collect();
    assert_eq!(
        since_types,
        ["client.deleted", "secret.reset"],
        "since {at}"
    );
    let until = e
        .admin
        .ok(&format!(
            "/audit-events?client_id={id}&until={at}&limit=1000"
        ))
        .await;
    let until_items = page_items(&until, "until");
    assert!(
        until_items
            .iter()
            .all(|ev| ev["type"] != "secret.reset" && ev["type"] != "client.deleted"),
        "until {at} is exclusive: {until}"
    );
    assert_eq!(
        until_items
            .iter()
            .filter(|ev| ev["type"] != "token.issued")
            .count(),
        want_types.len() - 2
    );
    let future = rfc3339(Utc::now() + chrono::Duration::hours(1));
    let empty = e.admin.ok(&format!("/audit-events?since={future}")).await;
    assert!(page_items(&empty, "future").is_empty(), "{empty}");
    assert_eq!(empty["total"], 0);

    for (query, field) in [
        ("since=yesterday", "since"),
        ("since=2026-13-01T00:00:00Z", "since"),
        ("until=soon", "until"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
    ] {
        e.admin
            .get(&format!("/audit-events?{query}"))
            .await
            .invalid(field);
    }
}

// ---------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn usage_is_flushed_at_shutdown_and_shown_after_restart() {
    let e = Env::new().await;
    let c = e
        .create_client(json!({"name": "busy", "scopes": ["orders:read"]}))
        .await;
    let (id, secret) = id_and_secret(&c);
    let Env {
        mut s,
        t,
        admin_id,
        admin_secret,
        ..
    } = e;
    let before = Utc::now() - chrono::Duration::seconds(1);
    for _ in 0..3 {
        s.token(&id, &secret, &[]).await;
    }
    let after = Utc::now() + chrono::Duration::seconds(1);
    let status = terminate(&mut s);
    assert!(
        status.success(),
        "graceful shutdown should exit 0, got {status}; log:\n{}",
        s.log()
    );
    drop(s);

    let s = t.serve();
    let token = admin_token(&s, &admin_id, &admin_secret).await;
    let admin = caller(&s, Some(&token));
    let got = admin.ok(&format!("/clients/{id}")).await;
    let last_used = time(&got["last_used_at"], "last_used_at after restart");
    assert!(
        last_used >= before && last_used <= after,
        "last_used_at {last_used} not in [{before}, {after}]"
    );
    assert_eq!(got["usage"]["last_used_at"], got["last_used_at"], "{got}");
    let issued = got["usage"]["tokens_issued_24h"].as_u64().unwrap_or(0);
    assert!(
        issued >= 3,
        "tokens_issued_24h = {issued}, expected ≥ 3: {got}"
    );

    let secrets = admin.ok(&format!("/clients/{id}/secrets")).await;
    let items = page_items(&secrets, "secrets");
    time(
        &items[0]["last_used_at"],
        "secret last_used_at after restart",
    );

    let events = admin
        .ok(&format!("/audit-events?type=token.issued&client_id={id}"))
        .await;
    let items = page_items(&events, "token.issued events");
    assert!(!items.is_empty(), "no token.issued event: {events}");
    let mut count = 0;
    for ev in &items {
        assert_eq!(ev["type"], "token.issued");
        assert_eq!(ev["target"], id.as_str(), "{ev}");
        count += ev["details"]["count"]
            .as_u64()
            .unwrap_or_else(|| panic!("details.count missing: {ev}"));
    }
    assert!(count >= 3, "counted {count} tokens: {events}");
}

// ---------------------------------------------------------------------------------------
// Content types, unknown paths, the OpenAPI document
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn content_types_malformed_bodies_and_unknown_paths() {
    let e = Env::new().await;
    let total = e.client_total().await;
    let body = json!({"name": "x"}).to_string();
    e.admin
        .request(
            Method::POST,
            "/clients",
            Some("text/plain"),
            Some(body.clone()),
        )
        .await
        .problem(415);
    e.admin
        .request(Method::POST, "/clients", None, Some(body.clone()))
        .await
        .problem(415);
    e.admin
        .request(
            Method::POST,
            "/clients",
            Some("application/x-www-form-urlencoded"),
            Some("name=x".into()),
        )
        .await
        .problem(415);
    for malformed in ["{\"name\": ", "{name: 'x'}", "not json", ""] {
        e.admin
            .request(
                Method::POST,
                "/clients",
                Some(JSON),
                Some(malformed.to_owned()),
            )
            .await
            .problem(400);
    }
    e.admin
        .request(
            Method::POST,
            "/apis",
            Some(JSON),
            Some("{\"name\": \"a\",".into()),
        )
        .await
        .problem(400);
    assert_eq!(
        e.client_total().await,
        total,
        "a refused body made a client"
    );

    let ok = e
        .admin
        .request(
            Method::POST,
            "/clients",
            Some("application/json; charset=utf-8"),
            Some(body.clone()),
        )
        .await;
    ok.ok(201);

    let id = e.admin_id.clone();
    e.admin
        .request(
            Method::PUT,
            &format!("/clients/{id}"),
            Some("text/plain"),
            Some(json!({"name": "admin"}).to_string()),
        )
        .await
        .problem(415);

    for path in [
        "/nope",
        "/clients/x/y/z",
        "/client",
        &format!("/clients/{id}/secret"),
    ] {
        e.admin.get(path).await.problem(404);
    }

    let doc = e.admin.ok("/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/admin/v1/clients",
        "/admin/v1/clients/{client_id}",
        "/admin/v1/clients/{client_id}/secrets",
        "/admin/v1/clients/{client_id}/secrets/{secret_id}",
        "/admin/v1/clients/{client_id}/reset-secret",
        "/admin/v1/apis",
        "/admin/v1/apis/{name}",
        "/admin/v1/keys",
        "/admin/v1/keys/rotate",
        "/admin/v1/audit-events",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
}
