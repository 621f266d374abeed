//! Projects and administrators (SPEC §7), over real HTTP and the real CLI: teams are
//! separated, clients owned by people are capped by their owner's ceiling at every token,
//! and leaving a project disables what one owned there until it is transferred.

mod common;

use std::time::Duration;

use common::{Server, Tessera, http, jwt_parts};
use reqwest::Method;
use serde_json::{Value, json};

const PROBLEM: &str = "application/problem+json";

type Creds = (String, String);

/// Calls `/admin/v1` with one bearer token.
struct Admin {
    base: String,
    bearer: String,
}

impl Admin {
    async fn of(s: &Server, c: &Creds) -> Admin {
        Admin {
            base: s.url.clone(),
            bearer: token(s, c).await,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, String, Value) {
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
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.json().await.unwrap_or(Value::Null);
        (status, ct, body)
    }

    async fn want(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let what = format!("{method} {path}");
        let (got, ct, v) = self.send(method, path, body).await;
        assert_eq!(got, status, "{what}: {v}");
        if status >= 400 {
            assert!(ct.starts_with(PROBLEM), "{what}: not a problem: {ct}");
        }
        v
    }

    async fn get(&self, path: &str) -> Value {
        self.want(Method::GET, path, None, 200).await
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

async fn token(s: &Server, c: &Creds) -> String {
    let (status, v) = try_token(s, c).await;
    assert_eq!(status, 200, "token: {v}");
    v["access_token"].as_str().expect("access_token").to_owned()
}

fn scope_of(token: &str) -> Vec<String> {
    let mut v: Vec<String> = jwt_parts(token).1["scope"]
        .as_str()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// The scopes of the next token of `c`, or the error code, waiting up to 3 s for `want`
/// (another process's change reaches the server through the change log).
async fn eventually(s: &Server, c: &Creds, want: &[&str]) -> Result<Vec<String>, String> {
    let want: Vec<String> = want.iter().map(|x| (*x).to_owned()).collect();
    let mut last = String::new();
    for _ in 0..30 {
        match try_token(s, c).await {
            (200, v) => {
                let got = scope_of(v["access_token"].as_str().unwrap_or(""));
                if got == want {
                    return Ok(got);
                }
                last = format!("scopes {got:?}");
            }
            (status, v) => {
                let err = v["error"].as_str().unwrap_or("").to_owned();
                if want == [format!("!{err}")] {
                    return Ok(vec![err]);
                }
                last = format!("{status} {v}");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last)
}

async fn introspect(s: &Server, (id, secret): &Creds, token: &str) -> Value {
    let resp = http()
        .post(s.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect");
    resp.json().await.expect("introspection JSON")
}

/// Two teams: `orders` (API orders, read/write) and `billing` (API billing, and `ledger`
/// shared read-only), a root admin client of `default`, and a project admin client of
/// `orders` made by the CLI.
struct Teams {
    t: Tessera,
    root: Creds,
    orders_admin: Creds,
    billing_svc: Creds,
}

fn teams() -> Teams {
    let t = Tessera::new();
    t.cli_json(&[
        "projects",
        "create",
        "orders",
        "--display-name",
        "Orders team",
    ]);
    t.cli_json(&["projects", "create", "billing"]);
    for (name, project, perms, shared) in [
        ("orders", "orders", "read,write", false),
        ("billing", "billing", "read,write", false),
        ("ledger", "billing", "read", true),
    ] {
        let aud = format!("https://api.example.com/{name}");
        let mut args = vec![
            "apis",
            "create",
            "--name",
            name,
            "--audience",
            &aud,
            "--permissions",
            perms,
            "--project",
            project,
        ];
        if shared {
            args.push("--shared");
        }
        let api = t.cli_json(&args);
        assert_eq!(api["project"], project, "{api}");
        assert_eq!(api["shared"], shared, "{api}");
    }
    let root = creds(&t.cli_json(&[
        "clients",
        "create",
        "--name",
        "root",
        "--scopes",
        "admin:read admin:write",
    ]));
    let orders_admin = creds(&t.cli_json(&[
        "clients",
        "create",
        "--name",
        "orders-admin",
        "--project",
        "orders",
        "--scopes",
        "admin:read admin:write orders:read orders:write",
    ]));
    let billing_svc = creds(&t.cli_json(&[
        "clients",
        "create",
        "--name",
        "billing-svc",
        "--project",
        "billing",
        "--scopes",
        "billing:read",
    ]));
    Teams {
        t,
        root,
        orders_admin,
        billing_svc,
    }
}

#[tokio::test]
async fn a_project_admin_client_sees_and_changes_only_its_own_project() {
    let teams = teams();
    let s = teams.t.serve();
    let oa = Admin::of(&s, &teams.orders_admin).await;
    let root = Admin::of(&s, &teams.root).await;
    let billing_id = teams.billing_svc.0.clone();

    // Lists hold only its project.
    let list = oa.get("/clients").await;
    let projects: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["project"].as_str().unwrap_or(""))
        .collect();
    assert!(
        !projects.is_empty() && projects.iter().all(|p| *p == "orders"),
        "{list}"
    );
    let all = root.get("/clients?project=billing").await;
    assert_eq!(all["total"], 1, "root sees billing's client: {all}");

    // Another project's client is 404 on every endpoint, and nothing changes.
    let before = root.get(&format!("/clients/{billing_id}")).await;
    for (m, path, body) in [
        (Method::GET, format!("/clients/{billing_id}"), None),
        (
            Method::PATCH,
            format!("/clients/{billing_id}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/clients/{billing_id}"), None),
        (Method::GET, format!("/clients/{billing_id}/secrets"), None),
        (
            Method::POST,
            format!("/clients/{billing_id}/reset-secret"),
            None,
        ),
        (Method::GET, "/projects/billing".to_owned(), None),
        (Method::GET, "/clients?project=billing".to_owned(), None),
        (Method::GET, "/roles?project=billing".to_owned(), None),
        (
            Method::PUT,
            "/apis/billing".to_owned(),
            Some(json!({"audience": "https://evil.example", "permissions": ["read"]})),
        ),
        (Method::DELETE, "/apis/billing".to_owned(), None),
        (Method::GET, "/apis/billing".to_owned(), None),
    ] {
        oa.want(m, &path, body, 404).await;
    }
    let after = root.get(&format!("/clients/{billing_id}")).await;
    assert_eq!(before["enabled"], after["enabled"]);
    assert_eq!(before["updated_at"], after["updated_at"], "nothing changed");
    assert_eq!(try_token(&s, &teams.billing_svc).await.0, 200);

    // The catalog it sees: its own API, the shared one, admin; not billing's.
    let apis = oa.get("/apis").await;
    let mut names: Vec<&str> = apis["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|a| a["name"].as_str().unwrap_or(""))
        .collect();
    names.sort();
    assert_eq!(names, ["admin", "ledger", "orders"], "{apis}");
    let projects = oa.get("/projects").await;
    assert_eq!(projects["total"], 1, "{projects}");
    assert_eq!(projects["items"][0]["name"], "orders");

    // Grants: another project's API is refused, the shared one is not; new clients land in
    // the caller's project.
    let refused = oa
        .want(
            Method::POST,
            "/clients",
            Some(json!({"name": "x", "scopes": ["billing:read"]})),
            422,
        )
        .await;
    assert!(refused.to_string().contains("not shared"), "{refused}");
    let refused = oa
        .want(
            Method::POST,
            "/clients",
            Some(json!({"name": "x", "project": "billing"})),
            404,
        )
        .await;
    assert_eq!(refused["status"], 404);
    let shared = oa
        .want(
            Method::POST,
            "/clients",
            Some(json!({"name": "reporting", "scopes": ["ledger:read", "orders:read"]})),
            201,
        )
        .await;
    assert_eq!(shared["project"], "orders");
    assert_eq!(shared["owner"]["type"], "client");
    assert_eq!(shared["owner"]["id"], teams.orders_admin.0.as_str());
    let t = token(&s, &creds(&shared)).await;
    assert_eq!(scope_of(&t), ["ledger:read", "orders:read"]);

    // Projects, administrators and keys are for root clients of default.
    oa.want(Method::POST, "/projects", Some(json!({"name": "x"})), 403)
        .await;
    oa.want(
        Method::POST,
        "/administrators",
        Some(json!({"email": "x@example.com"})),
        403,
    )
    .await;
    oa.want(Method::POST, "/keys/rotate", Some(json!({})), 403)
        .await;
    // Its audit view holds nothing of billing.
    let events = oa.get("/audit-events?limit=1000").await;
    assert!(
        !events.to_string().contains(&billing_id),
        "billing's client leaks into orders' audit view"
    );
    // `?project=` narrows the root's view; another team's project is 404 for the orders admin.
    let billing_events = root.get("/audit-events?project=billing&limit=1000").await;
    assert!(
        billing_events.to_string().contains(&billing_id),
        "{billing_events}"
    );
    assert!(
        !billing_events.to_string().contains(&teams.orders_admin.0),
        "orders' events in billing's view"
    );
    oa.want(Method::GET, "/audit-events?project=billing", None, 404)
        .await;
}

#[tokio::test]
async fn role_names_are_per_project_and_a_project_name_never_changes() {
    let teams = teams();
    let t = &teams.t;
    t.cli_json(&[
        "roles",
        "create",
        "--name",
        "reader",
        "--project",
        "orders",
        "--scopes",
        "orders:read",
    ]);
    t.cli_json(&[
        "roles",
        "create",
        "--name",
        "reader",
        "--project",
        "billing",
        "--scopes",
        "billing:read ledger:read",
    ]);
    let s = t.serve();
    let root = Admin::of(&s, &teams.root).await;
    let o = root.get("/roles/reader?project=orders").await;
    assert_eq!(o["scopes"], json!(["orders:read"]));
    assert_eq!(o["project"], "orders");
    let b = root.get("/roles/reader?project=billing").await;
    assert_eq!(b["scopes"], json!(["billing:read", "ledger:read"]));
    root.want(Method::GET, "/roles/reader", None, 404).await;
    root.want(Method::GET, "/roles/orders%2Freader", None, 404)
        .await;
    // The orders admin's "reader" is its own project's.
    let oa = Admin::of(&s, &teams.orders_admin).await;
    let mine = oa.get("/roles/reader").await;
    assert_eq!(mine["project"], "orders");
    let c = oa
        .want(
            Method::POST,
            "/clients",
            Some(json!({"name": "r", "roles": ["reader"]})),
            201,
        )
        .await;
    assert_eq!(scope_of(&token(&s, &creds(&c)).await), ["orders:read"]);
    // A role of another project cannot be assigned.
    oa.want(
        Method::POST,
        "/clients",
        Some(json!({"name": "r", "roles": ["billing/reader"]})),
        422,
    )
    .await;

    // A project's name is immutable; its display name is not.
    let bad = root
        .want(
            Method::PATCH,
            "/projects/orders",
            Some(json!({"name": "sales"})),
            422,
        )
        .await;
    assert_eq!(bad["errors"][0]["field"], "name", "{bad}");
    let p = root
        .want(
            Method::PATCH,
            "/projects/orders",
            Some(json!({"display_name": "Orders & fulfilment"})),
            200,
        )
        .await;
    assert_eq!(p["name"], "orders");
    assert_eq!(p["display_name"], "Orders & fulfilment");
    // Bad names are named.
    let bad = root
        .want(
            Method::POST,
            "/projects",
            Some(json!({"name": "Bad Name"})),
            422,
        )
        .await;
    assert_eq!(bad["errors"][0]["field"], "name", "{bad}");
    root.want(
        Method::POST,
        "/projects",
        Some(json!({"name": "orders"})),
        409,
    )
    .await;
    // The default project cannot go; one with clients needs force.
    root.want(Method::DELETE, "/projects/default", None, 409)
        .await;
    root.want(Method::DELETE, "/projects/billing", None, 409)
        .await;
    assert_eq!(try_token(&s, &teams.billing_svc).await.0, 200);
    root.want(Method::DELETE, "/projects/billing?force=true", None, 204)
        .await;
    let (status, v) = try_token(&s, &teams.billing_svc).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (401, Some("invalid_client")),
        "{v}"
    );
    root.want(Method::GET, "/apis/ledger", None, 404).await;
}

#[tokio::test]
async fn a_ceiling_bounds_what_an_administrator_grants_and_caps_their_clients_at_every_token() {
    let teams = teams();
    let t = &teams.t;
    let contractor = t.cli_json(&[
        "admins",
        "create",
        "--email",
        "Contractor@Example.COM",
        "--project",
        "orders",
        "--role",
        "admin",
        "--scopes",
        "orders:read",
    ]);
    assert_eq!(
        contractor["email"], "contractor@example.com",
        "{contractor}"
    );
    assert_eq!(contractor["enrolled"], false);
    let url = contractor["enrollment_url"]
        .as_str()
        .expect("enrollment_url");
    assert!(url.contains("/console/enroll/") && url.len() > 60, "{url}");
    assert_eq!(
        contractor["memberships"],
        json!([{"project": "orders", "role": "admin", "scopes": ["orders:read"]}])
    );
    let cid = contractor["id"].as_str().expect("id").to_owned();
    // Emails are unique whatever their case.
    let dup = t.cli(&["admins", "create", "--email", "contractor@example.com"]);
    assert!(!dup.status.success());

    // Beyond the ceiling: refused naming the scope, nothing made. Also through a role, and
    // an admin:* scope needs an owner.
    t.cli_json(&[
        "roles",
        "create",
        "--name",
        "writer",
        "--project",
        "orders",
        "--scopes",
        "orders:write",
    ]);
    let count = |t: &Tessera| {
        t.cli_json(&["clients", "list", "--project", "orders"])
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = count(t);
    for args in [
        vec!["--scopes", "orders:read orders:write"],
        vec!["--roles", "writer"],
        vec!["--scopes", "admin:read"],
        vec!["--scopes", "billing:read"],
    ] {
        let mut full = vec![
            "clients",
            "create",
            "--name",
            "too-much",
            "--project",
            "orders",
            "--owner",
            "contractor@example.com",
        ];
        full.extend(args.iter().copied());
        let out = t.cli(&full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        let named = args[1].split(' ').next_back().unwrap_or("");
        assert!(
            err.contains(named) || err.contains("orders:write"),
            "{args:?}: the error should name what is refused: {err}"
        );
    }
    assert_eq!(count(t), before, "nothing was created");

    let made = t.cli_json(&[
        "clients",
        "create",
        "--name",
        "orders-sync",
        "--project",
        "orders",
        "--owner",
        "contractor@example.com",
        "--scopes",
        "orders:read",
    ]);
    assert_eq!(
        made["owner"],
        json!({"type": "administrator", "id": cid}),
        "{made}"
    );
    assert_eq!(made["project"], "orders");
    let sync = creds(&made);

    let s = t.serve();
    let root = Admin::of(&s, &teams.root).await;
    let first = token(&s, &sync).await;
    assert_eq!(scope_of(&first), ["orders:read"]);

    // Lowering the ceiling lowers the very next token; raising it back restores it.
    let patched = root
        .want(
            Method::PATCH,
            &format!("/administrators/{cid}"),
            Some(json!({"memberships": [{"project": "orders", "role": "admin", "scopes": []}]})),
            200,
        )
        .await;
    assert_eq!(patched["memberships"][0]["scopes"], json!([]));
    let (status, v) = try_token(&s, &sync).await;
    assert!(
        status != 200 || scope_of(v["access_token"].as_str().unwrap_or("")).is_empty(),
        "a token after the ceiling went to [] still carries scopes: {v}"
    );
    root.want(
        Method::PATCH,
        &format!("/administrators/{cid}"),
        Some(json!({"memberships": [{"project": "orders", "role": "admin", "scopes": null}]})),
        200,
    )
    .await;
    assert_eq!(scope_of(&token(&s, &sync).await), ["orders:read"]);

    // A ceiling naming an unknown or foreign scope is refused, naming the field.
    let bad = root
        .want(
            Method::PATCH,
            &format!("/administrators/{cid}"),
            Some(json!({"memberships": [{"project": "orders", "role": "admin", "scopes": ["billing:read"]}]})),
            422,
        )
        .await;
    assert_eq!(bad["errors"][0]["field"], "memberships", "{bad}");

    // The CLI (another process) disables the contractor: the server follows through the
    // change log; old tokens turn inactive.
    let out = t.cli(&["admins", "disable", "contractor@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(&s, &sync, &["!invalid_client"])
        .await
        .expect("the contractor's client stops at once");
    let i = introspect(&s, &teams.root, &first).await;
    assert_eq!(i["active"], false, "{i}");
    let c = root.get(&format!("/clients/{}", sync.0)).await;
    assert_eq!(c["enabled"], false);
    let a = root.get(&format!("/administrators/{cid}")).await;
    assert_eq!(a["enabled"], false);

    // Audit names the people and the CLI as actors.
    let events = root.get("/audit-events?limit=1000").await;
    let disabled = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["type"] == "administrator.disabled")
        .expect("administrator.disabled event");
    assert_eq!(disabled["actor"]["type"], "cli", "{disabled}");
    assert_eq!(disabled["target"], cid.as_str());
}

#[tokio::test]
async fn leaving_a_project_disables_ones_clients_there_until_an_owner_transfers_them() {
    let teams = teams();
    let t = &teams.t;
    let mk = |email: &str, project: &str, role: &str| {
        t.cli_json(&[
            "admins",
            "create",
            "--email",
            email,
            "--project",
            project,
            "--role",
            role,
        ])["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let ann = mk("ann@example.com", "orders", "admin");
    let bob = mk("bob@example.com", "orders", "owner");
    let cat = mk("cat@example.com", "billing", "admin");
    let c = creds(&t.cli_json(&[
        "clients",
        "create",
        "--name",
        "ann-job",
        "--project",
        "orders",
        "--owner",
        "ann@example.com",
        "--scopes",
        "orders:write",
    ]));
    let s = t.serve();
    let root = Admin::of(&s, &teams.root).await;
    let old = token(&s, &c).await;

    // Taking Ann's orders membership away disables her orders clients.
    root.want(
        Method::PATCH,
        &format!("/administrators/{ann}"),
        Some(json!({"memberships": []})),
        200,
    )
    .await;
    let (status, v) = try_token(&s, &c).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (401, Some("invalid_client")),
        "{v}"
    );
    assert_eq!(introspect(&s, &teams.root, &old).await["active"], false);
    let got = root.get(&format!("/clients/{}", c.0)).await;
    assert_eq!(got["enabled"], false, "{got}");
    // It cannot come back while its owner is gone.
    root.want(
        Method::PATCH,
        &format!("/clients/{}", c.0),
        Some(json!({"enabled": true})),
        409,
    )
    .await;

    // Transfer: not to someone outside the project, not to nobody; to Bob, audited.
    let bad = root
        .want(
            Method::POST,
            &format!("/clients/{}/transfer", c.0),
            Some(json!({"owner": cat})),
            422,
        )
        .await;
    assert_eq!(bad["errors"][0]["field"], "owner", "{bad}");
    root.want(
        Method::POST,
        &format!("/clients/{}/transfer", c.0),
        Some(json!({"owner": "nobody"})),
        422,
    )
    .await;
    let (status, ct, v) = root
        .send(
            Method::POST,
            &format!("/clients/{}/transfer", c.0),
            Some(json!({"owner": bob, "extra": 1})),
        )
        .await;
    assert!(
        (status == 400 || status == 422) && ct.starts_with(PROBLEM),
        "unknown field: {status} {v}"
    );
    // A client the project admin made is not a root client: it may not transfer.
    let oa = Admin::of(&s, &teams.orders_admin).await;
    let delegated = oa
        .want(
            Method::POST,
            "/clients",
            Some(json!({"name": "helper", "scopes": ["admin:read", "admin:write"]})),
            201,
        )
        .await;
    let helper = Admin::of(&s, &creds(&delegated)).await;
    helper
        .want(
            Method::POST,
            &format!("/clients/{}/transfer", c.0),
            Some(json!({"owner": bob})),
            404,
        )
        .await;
    let moved = root
        .want(
            Method::POST,
            &format!("/clients/{}/transfer", c.0),
            Some(json!({"owner": bob})),
            200,
        )
        .await;
    assert_eq!(moved["owner"], json!({"type": "administrator", "id": bob}));
    assert_eq!(moved["enabled"], false, "a transfer does not enable");
    root.want(
        Method::PATCH,
        &format!("/clients/{}", c.0),
        Some(json!({"enabled": true})),
        200,
    )
    .await;
    assert_eq!(scope_of(&token(&s, &c).await), ["orders:write"]);
    assert_eq!(
        introspect(&s, &teams.root, &old).await["active"],
        false,
        "tokens from before the disable stay inactive"
    );
    let events = root
        .get(&format!(
            "/audit-events?client_id={}&type=client.transferred",
            c.0
        ))
        .await;
    let e = &events["items"][0];
    assert_eq!(e["actor"]["type"], "client", "{events}");
    assert_eq!(e["actor"]["id"], teams.root.0.as_str());
    assert_eq!(e["actor"]["display"], "root");
    assert_eq!(e["details"]["to"]["id"], bob.as_str());

    // Deleting Bob disables it again; nothing is deleted.
    root.want(Method::DELETE, &format!("/administrators/{bob}"), None, 204)
        .await;
    assert_eq!(try_token(&s, &c).await.0, 401);
    let still = root.get(&format!("/clients/{}", c.0)).await;
    assert_eq!(still["enabled"], false);
    root.want(Method::GET, &format!("/administrators/{bob}"), None, 404)
        .await;
}

#[tokio::test]
async fn administrators_over_the_admin_api_are_validated_and_scoped() {
    let teams = teams();
    let s = teams.t.serve();
    let root = Admin::of(&s, &teams.root).await;
    let made = root
        .want(
            Method::POST,
            "/administrators",
            Some(json!({"email": "Dana@Example.com", "display_name": "Dana",
                "memberships": [{"project": "orders", "role": "viewer"}]})),
            201,
        )
        .await;
    assert_eq!(made["email"], "dana@example.com");
    let url = made["enrollment_url"].as_str().expect("enrollment_url");
    assert!(url.starts_with(&s.url), "{url} under {}", s.url);
    let id = made["id"].as_str().expect("id").to_owned();
    // Shown once: a GET has no enrollment URL and no password field.
    let got = root.get(&format!("/administrators/{id}")).await;
    assert!(got.get("enrollment_url").is_none(), "{got}");
    assert!(!got.to_string().contains("password"), "{got}");
    for (body, field) in [
        (json!({"email": "not-an-email"}), "email"),
        (
            json!({"email": "e@example.com", "memberships": [{"project": "nope", "role": "admin"}]}),
            "memberships",
        ),
        (
            json!({"email": "e@example.com", "memberships": [{"project": "orders", "role": "god"}]}),
            "role",
        ),
        (json!({"email": "dana@EXAMPLE.com"}), "email"),
    ] {
        let (status, ct, v) = root
            .send(Method::POST, "/administrators", Some(body.clone()))
            .await;
        assert!(
            (400..=422).contains(&status) && ct.starts_with(PROBLEM),
            "{body}: {status} {v}"
        );
        let text = v.to_string();
        assert!(text.contains(field) || status == 400, "{body}: {v}");
    }
    // The orders admin client sees Dana (a member of orders) but only her orders role.
    let oa = Admin::of(&s, &teams.orders_admin).await;
    let list = oa.get("/administrators").await;
    assert_eq!(list["total"], 1, "{list}");
    let lonely = root
        .want(
            Method::POST,
            "/administrators",
            Some(json!({"email": "eve@example.com",
                "memberships": [{"project": "billing", "role": "owner"}]})),
            201,
        )
        .await;
    oa.want(
        Method::GET,
        &format!("/administrators/{}", lonely["id"].as_str().unwrap_or("")),
        None,
        404,
    )
    .await;
    oa.want(
        Method::PATCH,
        &format!("/administrators/{id}"),
        Some(json!({"enabled": false})),
        403,
    )
    .await;
}

/// A database made by the release before projects existed (the fixture was written by
/// `main` at 8f17f93 through its CLI: an API, a role, a root admin and a client holding a
/// direct scope and the role) keeps working after the upgrade, everything in `default`.
#[tokio::test]
async fn a_database_from_before_projects_keeps_every_client_working_in_default() {
    let t = Tessera::on_sqlite();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/before-projects");
    // The fixture is that database's SQL dump (a database file is not kept in git).
    let dump = std::fs::read_to_string(fixture.join("tessera.sql")).expect("fixture");
    {
        use sea_orm::ConnectionTrait;
        let url = format!("sqlite://{}/tessera.db?mode=rwc", t.path().display());
        let db = sea_orm::Database::connect(&url)
            .await
            .expect("fixture database");
        db.execute_unprepared(&dump)
            .await
            .expect("load the fixture");
        db.close().await.expect("close the fixture");
    }
    let clients: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture.join("clients.json")).expect("fixture"),
    )
    .expect("fixture JSON");
    let pair = |k: &str| -> Creds {
        (
            clients[k][0].as_str().expect("id").to_owned(),
            clients[k][1].as_str().expect("secret").to_owned(),
        )
    };
    let s = t.serve();
    let svc = pair("svc");
    assert_eq!(
        scope_of(&token(&s, &svc).await),
        ["orders:read", "orders:write"]
    );
    let root = Admin::of(&s, &pair("root")).await;
    let c = root.get(&format!("/clients/{}", svc.0)).await;
    assert_eq!(c["project"], "default");
    assert_eq!(c["roles"], json!(["reader"]));
    assert!(c["owner"].is_null(), "{c}");
    let role = root.get("/roles/reader").await;
    assert_eq!(role["project"], "default");
    let api = root.get("/apis/orders").await;
    assert_eq!(
        (api["project"].as_str(), api["shared"].as_bool()),
        (Some("default"), Some(false))
    );
    let projects = root.get("/projects").await;
    assert_eq!(projects["items"][0]["name"], "default", "{projects}");
}

/// README "People and projects": the worked example, command by command.
#[tokio::test]
async fn the_readme_worked_example_holds() {
    let t = Tessera::new();
    let ok = |args: &[&str]| t.cli_json(args);
    ok(&[
        "projects",
        "create",
        "orders",
        "--display-name",
        "Orders team",
    ]);
    ok(&[
        "projects",
        "create",
        "billing",
        "--display-name",
        "Billing team",
    ]);
    ok(&[
        "apis",
        "create",
        "--name",
        "orders",
        "--audience",
        "https://api.example.com/orders",
        "--project",
        "orders",
        "--shared",
    ]);
    ok(&[
        "apis",
        "create",
        "--name",
        "billing",
        "--audience",
        "https://api.example.com/billing",
        "--project",
        "billing",
    ]);
    ok(&[
        "admins",
        "create",
        "--email",
        "ana@example.com",
        "--project",
        "orders",
        "--role",
        "owner",
    ]);
    ok(&[
        "admins",
        "create",
        "--email",
        "ben@example.com",
        "--project",
        "billing",
        "--role",
        "admin",
        "--scopes",
        "orders:read billing:read billing:write",
    ]);
    ok(&[
        "admins",
        "create",
        "--email",
        "kim@contractor.example",
        "--project",
        "orders",
        "--role",
        "admin",
        "--scopes",
        "orders:read",
    ]);
    let refused = t.cli(&[
        "clients",
        "create",
        "--name",
        "invoice-sync",
        "--project",
        "billing",
        "--owner",
        "ben@example.com",
        "--scopes",
        "orders:write billing:write",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("orders:write"));
    let invoice = creds(&ok(&[
        "clients",
        "create",
        "--name",
        "invoice-sync",
        "--project",
        "billing",
        "--owner",
        "ben@example.com",
        "--scopes",
        "orders:read billing:write",
    ]));
    let export = creds(&ok(&[
        "clients",
        "create",
        "--name",
        "order-export",
        "--project",
        "orders",
        "--owner",
        "kim@contractor.example",
        "--scopes",
        "orders:read",
    ]));
    let s = t.serve();
    assert_eq!(
        scope_of(&token(&s, &invoice).await),
        ["billing:write", "orders:read"]
    );
    let old = token(&s, &export).await;
    assert_eq!(scope_of(&old), ["orders:read"]);
    let out = t.cli(&["admins", "disable", "kim@contractor.example"]);
    assert!(out.status.success());
    eventually(&s, &export, &["!invalid_client"])
        .await
        .expect("the contractor's client stops");
    assert_eq!(introspect(&s, &invoice, &old).await["active"], false);
    let moved = ok(&["clients", "transfer", &export.0, "--to", "ana@example.com"]);
    assert_eq!(moved["owner"]["type"], "administrator");
    assert_eq!(moved["enabled"], false);
    let out = t.cli(&["clients", "enable", &export.0]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(&s, &export, &["orders:read"])
        .await
        .expect("back after the transfer");
}
