//! Roles (SPEC.md §3, §5): named sets of scopes that clients hold in addition to their direct
//! scopes. The admin API (`/admin/v1/roles`), client assignment, the token endpoint, the owner
//! rule, audit events and the `tessera roles` command line, over real HTTP.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::{Server, Tessera, http, jwt_parts};
use reqwest::Method;
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";
const BILLING: &str = "https://api.example.com/billing";
const AUDIT: &str = "urn:example:audit";
const ADMIN_SCOPES: &str = "admin:read admin:write";
const PROBLEM: &str = "application/problem+json";

/// A response reduced to what the tests look at; `what` names the request for messages.
struct Reply {
    status: u16,
    content_type: String,
    location: Option<String>,
    text: String,
    what: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "{}: expected a JSON body ({e}); got {} {:?}",
                self.what, self.status, self.text
            )
        })
    }

    /// Asserts `status` and a JSON body; returns it.
    #[track_caller]
    fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, got {} {}",
            self.what, self.status, self.text
        );
        assert!(
            self.content_type.starts_with("application/json"),
            "{}: Content-Type {:?}",
            self.what,
            self.content_type
        );
        self.json()
    }

    /// Asserts an RFC 9457 problem document with `status`; returns it.
    #[track_caller]
    fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, got {} {}",
            self.what, self.status, self.text
        );
        assert!(
            self.content_type.starts_with(PROBLEM),
            "{}: Content-Type {:?}, expected {PROBLEM}; body {}",
            self.what,
            self.content_type,
            self.text
        );
        let v = self.json();
        assert_eq!(v["status"], status, "{}: status member in {v}", self.what);
        v
    }

    /// Asserts a 422 problem whose first error names `field` (or an element of it).
    #[track_caller]
    fn invalid(&self, field: &str) -> Value {
        let v = self.problem(422);
        assert!(
            names_field(&v["errors"][0]["field"], field),
            "{}: expected errors[0].field == {field:?}, got {v}",
            self.what
        );
        v
    }

    /// Asserts 400 or 422 with a problem whose errors name `field` (unknown fields, wrong types).
    #[track_caller]
    fn rejected(&self, field: &str) {
        assert!(
            self.status == 400 || self.status == 422,
            "{}: expected 400 or 422, got {} {}",
            self.what,
            self.status,
            self.text
        );
        let v = self.problem(self.status);
        let named = v["errors"]
            .as_array()
            .is_some_and(|es| es.iter().any(|e| names_field(&e["field"], field)));
        assert!(named, "{}: no error naming {field:?} in {v}", self.what);
    }

    #[track_caller]
    fn no_content(&self) {
        assert_eq!(
            self.status, 204,
            "{}: expected 204, got {} {}",
            self.what, self.status, self.text
        );
    }
}

fn names_field(got: &Value, field: &str) -> bool {
    got.as_str().is_some_and(|g| {
        g == field
            || g.strip_prefix(field)
                .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
    })
}

/// Calls `/admin/v1` of one server with one bearer token (or none).
struct Admin {
    base: String,
    token: Option<String>,
}

impl Admin {
    /// A root admin made by the CLI with `scopes`; returns it and its client id.
    async fn root(t: &Tessera, s: &Server, scopes: &str) -> (Admin, String) {
        let (id, secret) = t.create_client("admin", scopes);
        (Admin::login(s, &id, &secret).await, id)
    }

    /// An admin caller holding a token (admin scopes only) of client `id`.
    async fn login(s: &Server, id: &str, secret: &str) -> Admin {
        let v = s.token(id, secret, &[("scope", ADMIN_SCOPES)]).await;
        Admin {
            base: s.url.clone(),
            token: Some(v["access_token"].as_str().expect("access_token").to_owned()),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}/admin/v1{path}", self.base)
        };
        let what = match body {
            Some(b) => format!("{method} {path} {b}"),
            None => format!("{method} {path}"),
        };
        let mut req = http().request(method, url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.expect("admin request");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("response body");
        Reply {
            status,
            content_type,
            location,
            text,
            what,
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }
    /// `GET` expecting 200 JSON.
    async fn ok(&self, path: &str) -> Value {
        self.get(path).await.ok(200)
    }
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

/// A token that must be issued; returns the response and the JWT claims.
#[track_caller]
fn issued(got: (u16, Value), what: &str) -> (Value, Value) {
    assert_eq!(
        got.0, 200,
        "{what}: expected a token, got {} {}",
        got.0, got.1
    );
    let (_, claims) = jwt_parts(got.1["access_token"].as_str().expect("access_token"));
    assert_eq!(
        got.1["scope"], claims["scope"],
        "{what}: response scope = claim"
    );
    (got.1, claims)
}

#[track_caller]
fn invalid_scope(got: (u16, Value), what: &str) {
    assert_eq!(
        (got.0, got.1["error"].as_str()),
        (400, Some("invalid_scope")),
        "{what}: expected 400 invalid_scope, got {} {}",
        got.0,
        got.1
    );
}

fn words(v: &Value) -> BTreeSet<String> {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The `aud` claim as a set; a string when there is one audience, an array when several.
#[track_caller]
fn auds(claims: &Value) -> BTreeSet<String> {
    match &claims["aud"] {
        Value::String(a) => set(&[a]),
        Value::Array(a) => {
            assert!(a.len() > 1, "one audience should be a string: {claims}");
            a.iter().map(|x| x.as_str().unwrap().to_owned()).collect()
        }
        other => panic!("aud should be a string or array, got {other} in {claims}"),
    }
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|x| x.as_str().expect("string item").to_owned())
        .collect()
}

fn names(page: &Value) -> Vec<String> {
    page_items(page)
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_owned())
        .collect()
}

/// Asserts the page object shape; returns the items.
#[track_caller]
fn page_items(page: &Value) -> Vec<Value> {
    for member in ["items", "total", "offset", "limit", "links"] {
        assert!(page.get(member).is_some(), "no {member} in page {page}");
    }
    for member in ["self", "next", "prev"] {
        assert!(
            page["links"].get(member).is_some(),
            "no links.{member} in {page}"
        );
    }
    page["items"].as_array().expect("items array").clone()
}

/// The query of an absolute link to `base`.
#[track_caller]
fn link_query(link: &Value, base: &str) -> HashMap<String, String> {
    let text = link
        .as_str()
        .unwrap_or_else(|| panic!("link should be a string, got {link}"));
    let url = reqwest::Url::parse(text)
        .unwrap_or_else(|e| panic!("link {text:?} is not an absolute URL: {e}"));
    let base = reqwest::Url::parse(base).unwrap();
    assert_eq!(url.origin(), base.origin(), "link {text}");
    assert_eq!(url.path(), base.path(), "link {text}");
    url.query_pairs().into_owned().collect()
}

#[track_caller]
fn assert_link(link: &Value, base: &str, offset: u64, limit: u64) {
    let q = link_query(link, base);
    assert_eq!(
        (q.get("offset").cloned(), q.get("limit").cloned()),
        (Some(offset.to_string()), Some(limit.to_string())),
        "link {link}"
    );
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

/// Polls a token request until `done` holds, for at most 5 s.
async fn poll_token(
    s: &Server,
    id: &str,
    secret: &str,
    scope: Option<&str>,
    what: &str,
    done: impl Fn(&(u16, Value)) -> bool,
) -> (u16, Value) {
    let started = Instant::now();
    loop {
        let got = try_token(s, id, secret, scope).await;
        if done(&got) {
            return got;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: never reached the running server; last answer {} {}",
            got.0,
            got.1
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn roles_can_be_created_listed_read_replaced_and_deleted() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    t.create_api("audit", AUDIT, "read");
    let s = t.serve();
    let (admin, _) = Admin::root(&t, &s, ADMIN_SCOPES).await;
    let base = s.url("/admin/v1/roles");

    // Authentication as for every admin route.
    let anonymous = Admin {
        base: s.url.clone(),
        token: None,
    };
    anonymous.get("/roles").await.problem(401);
    anonymous
        .post("/roles", &json!({"name": "x", "scopes": []}))
        .await
        .problem(401);

    // Empty at first, but a page.
    let empty = admin.ok("/roles").await;
    assert!(page_items(&empty).is_empty(), "{empty}");
    assert_eq!(empty["total"], 0, "{empty}");
    assert_eq!(empty["offset"], 0, "{empty}");
    assert_eq!(empty["limit"], 50, "default limit as for clients: {empty}");

    // Create.
    let r = admin
        .post(
            "/roles",
            &json!({"name": "reader", "description": "read-only", "scopes": ["orders:read"]}),
        )
        .await;
    let reader = r.ok(201);
    assert_eq!(
        r.location.as_deref(),
        Some(s.url("/admin/v1/roles/reader").as_str()),
        "Location of {reader}"
    );
    assert_eq!(reader["name"], "reader");
    assert_eq!(reader["description"], "read-only");
    assert_eq!(reader["scopes"], json!(["orders:read"]));
    let created = reader["created_at"].as_str().expect("created_at");
    chrono::DateTime::parse_from_rfc3339(created).expect("created_at is RFC 3339");

    let writer = admin
        .post(
            "/roles",
            &json!({"name": "writer", "scopes": ["orders:write", "orders:read"]}),
        )
        .await
        .ok(201);
    assert_eq!(
        strings(&writer["scopes"]),
        set(&["orders:read", "orders:write"]),
        "{writer}"
    );
    assert!(
        writer["description"].is_string(),
        "description defaults to a string: {writer}"
    );
    admin
        .post(
            "/roles",
            &json!({"name": "auditor", "description": "", "scopes": ["audit:read"]}),
        )
        .await
        .ok(201);
    let longest = "a".repeat(63);
    admin
        .post(
            "/roles",
            &json!({"name": longest, "scopes": ["orders:read"]}),
        )
        .await
        .ok(201);
    admin
        .delete(&format!("/roles/{longest}"))
        .await
        .no_content();
    admin
        .post("/roles", &json!({"name": "a.b_c-9", "scopes": []}))
        .await
        .ok(201);

    // Refusals change nothing.
    let before = admin.ok("/roles").await;
    let too_long = "a".repeat(64);
    for name in [
        "Bad",
        "",
        "-x",
        "_x",
        ".x",
        "has space",
        "é",
        too_long.as_str(),
    ] {
        admin
            .post("/roles", &json!({"name": name, "scopes": ["orders:read"]}))
            .await
            .invalid("name");
    }
    for scopes in [
        json!(["nosuch:read"]),
        json!(["audit:write"]),
        json!(["orders:delete"]),
        json!(["orders"]),
        json!(["orders:read", "billing:read"]),
    ] {
        admin
            .post("/roles", &json!({"name": "bad-scope", "scopes": scopes}))
            .await
            .invalid("scopes");
    }
    admin
        .post(
            "/roles",
            &json!({"name": "colourful", "scopes": [], "colour": "red"}),
        )
        .await
        .rejected("colour");
    admin
        .post("/roles", &json!({"name": "typed", "scopes": "orders:read"}))
        .await
        .rejected("scopes");
    admin
        .post(
            "/roles",
            &json!({"name": "reader", "description": "again", "scopes": ["orders:write"]}),
        )
        .await
        .problem(409);
    assert_eq!(
        admin.ok("/roles").await,
        before,
        "a refusal changed the list"
    );
    assert_eq!(
        admin.ok("/roles/reader").await,
        reader,
        "the duplicate changed reader"
    );

    // List: sorted by name, paged with absolute links.
    let all = admin.ok("/roles").await;
    assert_eq!(names(&all), ["a.b_c-9", "auditor", "reader", "writer"]);
    assert_eq!(all["total"], 4);
    assert_link(&all["links"]["self"], &base, 0, 50);
    assert!(all["links"]["next"].is_null(), "{all}");
    assert!(all["links"]["prev"].is_null(), "{all}");
    let listed_reader = page_items(&all)
        .into_iter()
        .find(|r| r["name"] == "reader")
        .unwrap();
    assert_eq!(listed_reader, reader, "list item = the role");

    let first = admin.ok("/roles?offset=0&limit=3").await;
    assert_eq!(names(&first), ["a.b_c-9", "auditor", "reader"]);
    assert_eq!(
        (first["total"].clone(), first["limit"].clone()),
        (json!(4), json!(3))
    );
    assert_link(&first["links"]["next"], &base, 3, 3);
    assert!(first["links"]["prev"].is_null(), "{first}");
    let second = admin.ok(first["links"]["next"].as_str().unwrap()).await;
    assert_eq!(names(&second), ["writer"]);
    assert_eq!(second["offset"], 3);
    assert!(second["links"]["next"].is_null(), "{second}");
    assert_link(&second["links"]["prev"], &base, 0, 3);
    for query in ["limit=0", "limit=1001", "limit=abc"] {
        admin.get(&format!("/roles?{query}")).await.invalid("limit");
    }
    admin.get("/roles?offset=-1").await.invalid("offset");

    // Read.
    assert_eq!(admin.ok("/roles/reader").await, reader);
    admin.get("/roles/nope").await.problem(404);

    // Replace.
    let replaced = admin
        .put(
            "/roles/reader",
            &json!({"description": "readers", "scopes": ["orders:read", "audit:read"]}),
        )
        .await
        .ok(200);
    assert_eq!(replaced["name"], "reader");
    assert_eq!(replaced["description"], "readers");
    assert_eq!(
        strings(&replaced["scopes"]),
        set(&["audit:read", "orders:read"])
    );
    assert_eq!(
        replaced["created_at"], reader["created_at"],
        "created_at kept"
    );
    assert_eq!(admin.ok("/roles/reader").await, replaced);
    admin
        .put(
            "/roles/reader",
            &json!({"name": "reader", "description": "same name", "scopes": ["orders:read"]}),
        )
        .await
        .ok(200);
    let current = admin.ok("/roles/reader").await;
    admin
        .put(
            "/roles/reader",
            &json!({"name": "other", "scopes": ["orders:write"]}),
        )
        .await
        .invalid("name");
    admin
        .put("/roles/reader", &json!({"scopes": ["audit:write"]}))
        .await
        .invalid("scopes");
    admin
        .put("/roles/reader", &json!({"scopes": [], "colour": "red"}))
        .await
        .rejected("colour");
    assert_eq!(admin.ok("/roles/reader").await, current, "refused PUTs");
    admin
        .put("/roles/nope", &json!({"scopes": ["orders:read"]}))
        .await
        .problem(404);
    admin.get("/roles/nope").await.problem(404);

    // Delete.
    admin.delete("/roles/writer").await.no_content();
    admin.get("/roles/writer").await.problem(404);
    admin.delete("/roles/writer").await.problem(404);
    assert_eq!(
        names(&admin.ok("/roles").await),
        ["a.b_c-9", "auditor", "reader"]
    );
}

#[tokio::test]
async fn a_clients_roles_grant_scopes_and_role_edits_apply_to_the_next_token() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    t.create_api("billing", BILLING, "read,write");
    let s = t.serve();
    let (admin, _) = Admin::root(&t, &s, ADMIN_SCOPES).await;
    admin
        .post(
            "/roles",
            &json!({"name": "reader", "scopes": ["orders:read"]}),
        )
        .await
        .ok(201);
    admin
        .post(
            "/roles",
            &json!({"name": "biller", "scopes": ["billing:read"]}),
        )
        .await
        .ok(201);

    // Unknown roles are refused and nothing is made.
    let total = admin.ok("/clients?limit=1").await["total"].clone();
    admin
        .post("/clients", &json!({"name": "x", "roles": ["nope"]}))
        .await
        .invalid("roles");
    admin
        .post(
            "/clients",
            &json!({"name": "x", "roles": ["reader", "nope"]}),
        )
        .await
        .invalid("roles");
    assert_eq!(admin.ok("/clients?limit=1").await["total"], total);

    // A client with only a role.
    let svc = admin
        .post("/clients", &json!({"name": "svc", "roles": ["reader"]}))
        .await
        .ok(201);
    assert_eq!(svc["roles"], json!(["reader"]), "{svc}");
    assert_eq!(svc["scopes"], json!([]), "no direct scopes: {svc}");
    let (id, secret) = id_and_secret(&svc);
    let path = format!("/clients/{id}");
    let shown = admin.ok(&path).await;
    assert_eq!(shown["roles"], json!(["reader"]), "{shown}");
    assert_eq!(shown["scopes"], json!([]), "{shown}");

    let (body, claims) = issued(try_token(&s, &id, &secret, None).await, "role only");
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(claims["aud"], ORDERS, "{claims}");
    assert_eq!(claims["sub"], id.as_str());
    issued(
        try_token(&s, &id, &secret, Some("orders:read")).await,
        "asking for the role's scope",
    );
    invalid_scope(
        try_token(&s, &id, &secret, Some("orders:write")).await,
        "a scope the role lacks",
    );

    // Adding scopes to the role: the very next token has them.
    admin
        .put(
            "/roles/reader",
            &json!({"scopes": ["orders:read", "orders:write", "billing:read"]}),
        )
        .await
        .ok(200);
    let (body, claims) = issued(try_token(&s, &id, &secret, None).await, "after adding");
    assert_eq!(
        words(&body["scope"]),
        set(&["billing:read", "orders:read", "orders:write"]),
        "{body}"
    );
    assert_eq!(auds(&claims), set(&[BILLING, ORDERS]), "{claims}");
    let (body, claims) = issued(
        try_token(&s, &id, &secret, Some("orders:write")).await,
        "an added scope",
    );
    assert_eq!(body["scope"], "orders:write");
    assert_eq!(claims["aud"], ORDERS);

    // Removing scopes: refused at once, gone from the default token.
    admin
        .put("/roles/reader", &json!({"scopes": ["billing:read"]}))
        .await
        .ok(200);
    invalid_scope(
        try_token(&s, &id, &secret, Some("orders:read")).await,
        "a removed scope",
    );
    invalid_scope(
        try_token(&s, &id, &secret, Some("orders:write")).await,
        "another removed scope",
    );
    let (body, claims) = issued(try_token(&s, &id, &secret, None).await, "after removing");
    assert_eq!(body["scope"], "billing:read");
    assert_eq!(claims["aud"], BILLING);

    // Direct scopes and role scopes together.
    admin
        .patch(
            &path,
            &json!({"scopes": ["orders:read"], "roles": ["reader", "biller"]}),
        )
        .await
        .ok(200);
    let (body, _) = issued(try_token(&s, &id, &secret, None).await, "direct ∪ roles");
    assert_eq!(
        words(&body["scope"]),
        set(&["billing:read", "orders:read"]),
        "no duplicates: {body}"
    );
    assert_eq!(
        strings(&admin.ok(&path).await["roles"]),
        set(&["biller", "reader"])
    );

    // Client edits: unknown roles refused, nothing changes.
    let current = admin.ok(&path).await;
    admin
        .patch(&path, &json!({"roles": ["nope"]}))
        .await
        .invalid("roles");
    admin
        .put(&path, &json!({"name": "svc", "roles": ["reader", "nope"]}))
        .await
        .invalid("roles");
    assert_eq!(
        admin.ok(&path).await,
        current,
        "refused edits changed the client"
    );

    // PUT replaces roles; an empty list takes them all.
    let put = admin
        .put(&path, &json!({"name": "svc", "roles": ["reader"]}))
        .await
        .ok(200);
    assert_eq!(put["roles"], json!(["reader"]));
    assert_eq!(put["scopes"], json!([]), "PUT without scopes clears them");
    let (body, _) = issued(try_token(&s, &id, &secret, None).await, "after PUT");
    assert_eq!(body["scope"], "billing:read");
    let patched = admin.patch(&path, &json!({"roles": []})).await.ok(200);
    assert_eq!(patched["roles"], json!([]));
    invalid_scope(
        try_token(&s, &id, &secret, None).await,
        "no direct scope and no role",
    );
}

#[tokio::test]
async fn deleting_a_held_role_needs_force_and_takes_it_from_its_clients() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    let s = t.serve();
    let (admin, _) = Admin::root(&t, &s, ADMIN_SCOPES).await;
    admin
        .post(
            "/roles",
            &json!({"name": "writer", "scopes": ["orders:write"]}),
        )
        .await
        .ok(201);
    let only = admin
        .post("/clients", &json!({"name": "only", "roles": ["writer"]}))
        .await
        .ok(201);
    let (only_id, only_secret) = id_and_secret(&only);
    let both = admin
        .post(
            "/clients",
            &json!({"name": "both", "scopes": ["orders:read"], "roles": ["writer"]}),
        )
        .await
        .ok(201);
    let (both_id, both_secret) = id_and_secret(&both);
    issued(
        try_token(&s, &only_id, &only_secret, Some("orders:write")).await,
        "before",
    );
    issued(
        try_token(&s, &both_id, &both_secret, Some("orders:write")).await,
        "before",
    );

    // In use: 409, nothing changes.
    admin.delete("/roles/writer").await.problem(409);
    admin.delete("/roles/writer?force=false").await.problem(409);
    admin.ok("/roles/writer").await;
    assert_eq!(
        admin.ok(&format!("/clients/{only_id}")).await["roles"],
        json!(["writer"])
    );
    issued(
        try_token(&s, &only_id, &only_secret, None).await,
        "after a refused delete",
    );

    // Forced: gone, and taken from its clients at once.
    admin.delete("/roles/writer?force=true").await.no_content();
    admin.get("/roles/writer").await.problem(404);
    assert_eq!(
        admin.ok(&format!("/clients/{only_id}")).await["roles"],
        json!([])
    );
    let b = admin.ok(&format!("/clients/{both_id}")).await;
    assert_eq!(b["roles"], json!([]), "{b}");
    assert_eq!(
        b["scopes"],
        json!(["orders:read"]),
        "direct scopes kept: {b}"
    );
    invalid_scope(
        try_token(&s, &only_id, &only_secret, None).await,
        "only the deleted role: nothing left",
    );
    invalid_scope(
        try_token(&s, &both_id, &both_secret, Some("orders:write")).await,
        "the deleted role's scope",
    );
    let (body, _) = issued(
        try_token(&s, &both_id, &both_secret, None).await,
        "direct scope left",
    );
    assert_eq!(body["scope"], "orders:read");

    // An unheld role needs no force; a re-created role of the same name is not re-granted.
    admin
        .post(
            "/roles",
            &json!({"name": "writer", "scopes": ["orders:write"]}),
        )
        .await
        .ok(201);
    invalid_scope(
        try_token(&s, &only_id, &only_secret, None).await,
        "a new role of the same name is not held",
    );
    admin.delete("/roles/writer").await.no_content();
}

#[tokio::test]
async fn delegated_admins_may_assign_only_roles_whose_scopes_they_hold() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    let s = t.serve();
    let (root, root_id) = Admin::root(&t, &s, "admin:read admin:write orders:read").await;
    for (name, scopes) in [
        ("reader", json!(["orders:read"])),
        ("writer", json!(["orders:write"])),
        ("mixed", json!(["orders:read", "orders:write"])),
    ] {
        root.post("/roles", &json!({"name": name, "scopes": scopes}))
            .await
            .ok(201);
    }
    let d = root
        .post(
            "/clients",
            &json!({"name": "team", "scopes": ["admin:read", "admin:write", "orders:read"]}),
        )
        .await
        .ok(201);
    assert_eq!(d["owner"]["id"], root_id.as_str(), "{d}");
    let (d_id, d_secret) = id_and_secret(&d);
    let delegated = Admin::login(&s, &d_id, &d_secret).await;

    let total = root.ok("/clients?limit=1").await["total"].clone();
    for roles in [
        json!(["writer"]),
        json!(["mixed"]),
        json!(["reader", "writer"]),
    ] {
        delegated
            .post("/clients", &json!({"name": "too-much", "roles": roles}))
            .await
            .problem(403);
    }
    assert_eq!(
        root.ok("/clients?limit=1").await["total"],
        total,
        "a refused create made a client"
    );

    let svc = delegated
        .post(
            "/clients",
            &json!({"name": "team-svc", "roles": ["reader"]}),
        )
        .await
        .ok(201);
    assert_eq!(svc["owner"]["id"], d_id.as_str(), "{svc}");
    assert_eq!(svc["roles"], json!(["reader"]));
    let (svc_id, svc_secret) = id_and_secret(&svc);
    let (body, _) = issued(try_token(&s, &svc_id, &svc_secret, None).await, "team-svc");
    assert_eq!(body["scope"], "orders:read");

    let path = format!("/clients/{svc_id}");
    delegated
        .patch(&path, &json!({"roles": ["reader", "writer"]}))
        .await
        .problem(403);
    delegated
        .put(&path, &json!({"name": "team-svc", "roles": ["mixed"]}))
        .await
        .problem(403);
    assert_eq!(
        root.ok(&path).await["roles"],
        json!(["reader"]),
        "unchanged"
    );
    delegated.patch(&path, &json!({"roles": []})).await.ok(200);
    delegated
        .patch(&path, &json!({"roles": ["reader"]}))
        .await
        .ok(200);

    // A root admin may assign any role, even one whose scopes it does not hold.
    let patched = root
        .patch(&path, &json!({"roles": ["reader", "writer"]}))
        .await
        .ok(200);
    assert_eq!(strings(&patched["roles"]), set(&["reader", "writer"]));
    let root_made = root
        .post("/clients", &json!({"name": "root-svc", "roles": ["mixed"]}))
        .await
        .ok(201);
    let (rid, rsecret) = id_and_secret(&root_made);
    let (body, _) = issued(try_token(&s, &rid, &rsecret, None).await, "root-svc");
    assert_eq!(words(&body["scope"]), set(&["orders:read", "orders:write"]));
}

#[tokio::test]
async fn role_changes_leave_audit_events() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    let s = t.serve();
    let (admin, admin_id) = Admin::root(&t, &s, ADMIN_SCOPES).await;
    admin
        .post(
            "/roles",
            &json!({"name": "reader", "scopes": ["orders:read"]}),
        )
        .await
        .ok(201);
    admin
        .put(
            "/roles/reader",
            &json!({"scopes": ["orders:read", "orders:write"]}),
        )
        .await
        .ok(200);
    admin.delete("/roles/reader").await.no_content();

    for kind in ["role.created", "role.updated", "role.deleted"] {
        let page = admin.ok(&format!("/audit-events?type={kind}")).await;
        let events = page_items(&page);
        assert_eq!(events.len(), 1, "{kind}: {page}");
        let ev = &events[0];
        assert_eq!(ev["type"], kind, "{ev}");
        assert_eq!(ev["target"], "reader", "{ev}");
        assert_eq!(ev["actor"]["id"], admin_id.as_str(), "{ev}");
        for member in ["id", "time", "details"] {
            assert!(ev.get(member).is_some(), "{kind}: no {member} in {ev}");
        }
    }
    // The actor filter finds them too.
    let mine = admin
        .ok(&format!("/audit-events?client_id={admin_id}&limit=1000"))
        .await;
    let types: BTreeSet<String> = page_items(&mine)
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    for kind in ["role.created", "role.updated", "role.deleted"] {
        assert!(types.contains(kind), "{kind} not in {mine}");
    }
}

#[tokio::test]
async fn roles_can_be_managed_from_the_command_line() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    let role = t.cli_json(&[
        "roles",
        "create",
        "--name",
        "reader",
        "--description",
        "read-only",
        "--scopes",
        "orders:read",
    ]);
    assert_eq!(role["name"], "reader", "{role}");
    assert_eq!(role["description"], "read-only", "{role}");
    assert_eq!(role["scopes"], json!(["orders:read"]), "{role}");

    // Refusals.
    for args in [
        &[
            "roles",
            "create",
            "--name",
            "reader",
            "--scopes",
            "orders:write",
        ][..],
        &[
            "roles",
            "create",
            "--name",
            "Bad",
            "--scopes",
            "orders:read",
        ],
        &[
            "roles",
            "create",
            "--name",
            "bad-scope",
            "--scopes",
            "nosuch:read",
        ],
    ] {
        let out = t.cli(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "tessera {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = t.cli_json(&["roles", "list"]);
    let listed = list
        .as_array()
        .unwrap_or_else(|| panic!("an array: {list}"));
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["name"], "reader");
    assert_eq!(listed[0]["scopes"], json!(["orders:read"]));

    // Assigned by the CLI, granted by a server started afterwards.
    let (id, secret) = t.create_client("svc", "");
    let out = t.cli(&["clients", "update", &id, "--roles", "nope"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown role: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = t.cli(&["clients", "update", &id, "--roles", "reader"]);
    assert!(
        out.status.success(),
        "clients update --roles: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        t.cli_json(&["clients", "get", &id])["roles"],
        json!(["reader"])
    );
    let s = t.serve();
    let (body, claims) = issued(try_token(&s, &id, &secret, None).await, "CLI role");
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(claims["aud"], ORDERS);

    // The admin API sees the CLI's role.
    let (admin, _) = Admin::root(&t, &s, ADMIN_SCOPES).await;
    let shown = admin.ok("/roles/reader").await;
    assert_eq!(shown["description"], "read-only", "{shown}");

    // A role made and assigned while the server runs reaches it.
    t.cli_json(&[
        "roles",
        "create",
        "--name",
        "writer",
        "--scopes",
        "orders:write",
    ]);
    let out = t.cli(&["clients", "update", &id, "--roles", "reader writer"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    poll_token(
        &s,
        &id,
        &secret,
        Some("orders:write"),
        "CLI assignment",
        |g| g.0 == 200,
    )
    .await;

    // Delete: refused while held (exit 2, a message), forced takes it from the client.
    let out = t.cli(&["roles", "delete", "reader"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "delete of a held role: stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stderr.is_empty(), "no message on stderr");
    assert_eq!(t.cli_json(&["roles", "list"]).as_array().unwrap().len(), 2);
    let out = t.cli(&["roles", "delete", "writer", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    poll_token(
        &s,
        &id,
        &secret,
        Some("orders:write"),
        "CLI forced delete",
        |g| g.0 == 400,
    )
    .await;
    let out = t.cli(&["roles", "delete", "reader", "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = poll_token(&s, &id, &secret, None, "CLI forced delete", |g| g.0 != 200).await;
    invalid_scope(last, "no role and no direct scope left");
    assert_eq!(t.cli_json(&["roles", "list"]), json!([]));
    assert_eq!(t.cli_json(&["clients", "get", &id])["roles"], json!([]));
    let out = t.cli(&["roles", "delete", "reader"]);
    assert!(!out.status.success(), "deleting a missing role succeeded");
}
