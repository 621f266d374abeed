//! The console's APIs, Roles, Projects, Keys and Audit log pages over real HTTP (SPEC §8):
//! each shows only the person's projects, changes things only through the same operations as
//! the admin API (audited with the administrator as actor), names a refused field, offers a
//! viewer no action, refuses forged and cross-site posts, and works without JavaScript
//! (POST → 303 → GET).

mod common;

use common::console::{
    Browser, PASSWORD, age_second_factor, alerts, code, field, location, names, project, rows,
    text_of,
};
use common::{Server, Tessera};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// An administrator made by the CLI with `extra` arguments (`--superadmin`, or `--project P
/// --role R`, no ceiling), enrolled with the previous time step's code and signed in with the
/// current one's, so that a re-authentication has an unused step (the next) at once; answers
/// the browser, their id and their TOTP secret.
async fn signed_in(
    t: &Tessera,
    s: &Server,
    email: &str,
    extra: &[&str],
) -> (Browser, String, String) {
    let mut args = vec![
        "admins",
        "create",
        "--email",
        email,
        "--display-name",
        "Ada",
    ];
    args.extend_from_slice(extra);
    let v = t.cli_json(&args);
    let url = v["enrollment_url"].as_str().unwrap();
    let path = format!("/console/enroll/{}", url.rsplit('/').next().unwrap());
    let b = Browser::new(s);
    let html = b.page(&path).await;
    let secret = field(&html, "id=\"totp-key\" type=\"text\" readonly value=\"");
    let csrf = field(&html, "name=\"csrf\" value=\"");
    let form = [
        ("csrf", csrf.as_str()),
        ("password", PASSWORD),
        ("code", &code(&secret, -1)),
    ];
    let res = b.post(&path, &form).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let csrf = b.csrf("/console/sign-in").await;
    let res = b
        .post(
            "/console/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/console/sign-in/verify");
    let csrf = b.csrf("/console/sign-in/verify").await;
    let res = b
        .post(
            "/console/sign-in/verify",
            &[("csrf", &csrf), ("code", &code(&secret, 0))],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    (b, v["id"].as_str().unwrap().to_owned(), secret)
}

/// Re-authenticates on the real page with the next step's code; answers where it went.
async fn reauth(b: &Browser, secret: &str, then: &str) -> String {
    let csrf = b.csrf("/console/account").await;
    let res = b
        .post(
            "/console/reauth",
            &[("csrf", &csrf), ("then", then), ("code", &code(secret, 1))],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    location(&res)
}

/// The page's `<h1>`.
fn h1(html: &str) -> String {
    let start = html.find("<h1>").expect("an h1") + 4;
    text_of(&html[start..start + html[start..].find("</h1>").unwrap()])
}

/// The names of the APIs `project` sees, by the CLI.
fn api_names(t: &Tessera, project: &str) -> Vec<String> {
    list(t, &["apis", "list", "--project", project], "name")
}

/// The names of `project`'s roles, by the CLI.
fn role_names(t: &Tessera, project: &str) -> Vec<String> {
    list(t, &["roles", "list", "--project", project], "name")
}

fn project_names(t: &Tessera) -> Vec<String> {
    list(t, &["projects", "list"], "name")
}

fn key_ids(t: &Tessera) -> Vec<String> {
    list(t, &["keys", "list"], "kid")
}

fn list(t: &Tessera, args: &[&str], key: &str) -> Vec<String> {
    let v = t.cli_json(args);
    let items = v
        .as_array()
        .or_else(|| v["items"].as_array())
        .unwrap_or_else(|| panic!("{v}"));
    items
        .iter()
        .map(|i| i[key].as_str().unwrap().to_owned())
        .collect()
}

/// The `(event, actor, target)` of the audit page `path`.
async fn events(b: &Browser, path: &str) -> Vec<(String, String, String)> {
    rows(&b.page(path).await)
        .into_iter()
        .map(|r| (r[1].clone(), r[2].clone(), r[3].clone()))
        .collect()
}

#[tokio::test]
async fn apis_show_the_persons_projects_and_change_through_forms_audited() {
    let t = Tessera::new();
    project(&t, "alpha");
    project(&t, "beta");
    // An API may be named "new": the Create API form's path never hides its page.
    t.cli_json(&[
        "apis",
        "create",
        "--name",
        "new",
        "--audience",
        "https://api.example.com/new",
        "--project",
        "alpha",
    ]);
    let s = t.serve();
    let (b, ada, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        &["--project", "alpha", "--role", "admin"],
    )
    .await;
    assert_eq!(h1(&b.page("/console/apis/new").await), "new");

    let res = b.get("/console/apis").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert_eq!(h1(&html), "APIs");
    assert!(html.contains("href=\"/console/apis/_new\">Create API</a>"));
    let shown = names(&html);
    assert!(shown.contains(&"alpha-orders".to_owned()), "{shown:?}");
    assert!(shown.contains(&"admin".to_owned()), "{shown:?}");
    // Another team's API: not listed, no page, no delete.
    assert!(!html.contains("beta-orders"));
    assert_eq!(b.get("/console/apis/beta-orders").await.status(), 404);
    assert_eq!(
        b.get("/console/apis/beta-orders/delete").await.status(),
        404
    );
    let csrf = b.csrf("/console/apis/_new").await;
    let res = b
        .post("/console/apis/beta-orders/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 404);
    assert!(api_names(&t, "beta").contains(&"beta-orders".to_owned()));

    // Create API: POST → 303 → its page.
    let audience = "https://api.example.com/<script>alert(1)</script>";
    let res = b
        .post(
            "/console/apis",
            &[
                ("csrf", &csrf),
                ("name", "alpha-ledger"),
                ("audience", audience),
                ("project", "alpha"),
                ("read", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), "/console/apis/alpha-ledger");
    let html = b.page("/console/apis/alpha-ledger").await;
    assert_eq!(h1(&html), "alpha-ledger");
    assert!(!html.contains("<script>alert(1)"), "escaped");
    assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
    assert!(html.contains(">Save changes</button>") && html.contains(">Delete API<"));
    let row = rows(&b.page("/console/apis").await)
        .into_iter()
        .find(|r| r[0] == "alpha-ledger")
        .unwrap();
    assert_eq!(
        (row[2].as_str(), row[3].as_str(), row[4].as_str()),
        ("alpha", "No", "read")
    );

    // A bad name: 422 beside the field, the form kept, nothing made.
    let before = api_names(&t, "alpha");
    let res = b
        .post(
            "/console/apis",
            &[
                ("csrf", &csrf),
                ("name", "Bad Name"),
                ("audience", "https://api.example.com/bad"),
                ("project", "alpha"),
                ("read", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(alerts(&html).starts_with("Name:"), "{}", alerts(&html));
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"name-error\"")
            || html.contains("name-error\" aria-invalid=\"true\"")
    );
    assert!(html.contains("value=\"Bad Name\""));
    // No permission ticked: named too.
    let res = b
        .post(
            "/console/apis",
            &[
                ("csrf", &csrf),
                ("name", "alpha-none"),
                ("audience", "https://api.example.com/none"),
                ("project", "alpha"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).contains("Permissions:"));
    // No CSRF token: 403, nothing made.
    let res = b
        .post(
            "/console/apis",
            &[
                ("name", "alpha-forged"),
                ("audience", "https://api.example.com/forged"),
                ("project", "alpha"),
                ("read", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(api_names(&t, "alpha"), before);

    // Save changes: shared, and write offered too.
    let res = b
        .post(
            "/console/apis/alpha-ledger",
            &[
                ("csrf", &csrf),
                ("audience", "https://api.example.com/ledger"),
                ("read", "on"),
                ("write", "on"),
                ("shared", "on"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let row = rows(&b.page("/console/apis").await)
        .into_iter()
        .find(|r| r[0] == "alpha-ledger")
        .unwrap();
    assert_eq!(
        (row[1].as_str(), row[3].as_str(), row[4].as_str()),
        ("https://api.example.com/ledger", "Shared", "read, write")
    );
    // A bad audience on edit: 422 beside it, nothing changed.
    let res = b
        .post(
            "/console/apis/alpha-ledger",
            &[("csrf", &csrf), ("audience", "not a uri"), ("read", "on")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).starts_with("Audience:"));

    // Delete API: a confirmation page naming it, then the POST.
    let html = b.page("/console/apis/alpha-ledger/delete").await;
    assert_eq!(h1(&html), "Delete API alpha-ledger?");
    assert!(html.contains(">Delete API</button>"));
    let res = b
        .post("/console/apis/alpha-ledger/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/apis");
    assert!(!api_names(&t, "alpha").contains(&"alpha-ledger".to_owned()));
    assert_eq!(b.get("/console/apis/alpha-ledger").await.status(), 404);

    // Each change audited with the person as actor (the database's own record: a
    // project's audit view follows its current APIs, so a deleted one's events leave it).
    let audited = audit_rows(&t, "alpha-ledger").await;
    for kind in ["api.created", "api.updated", "api.deleted"] {
        assert!(
            audited.iter().any(|(k, actor_type, actor)| k == kind
                && actor_type == "administrator"
                && *actor == ada),
            "{kind}: {audited:?}"
        );
    }
}

#[tokio::test]
async fn a_viewer_sees_no_actions_and_forged_posts_change_nothing() {
    let t = Tessera::new();
    project(&t, "alpha");
    t.cli_json(&[
        "roles",
        "create",
        "--name",
        "reader",
        "--project",
        "alpha",
        "--scopes",
        "alpha-orders:read",
    ]);
    let s = t.serve();
    let (v, viewer, _) = signed_in(
        &t,
        &s,
        "viewer@example.com",
        &["--project", "alpha", "--role", "viewer"],
    )
    .await;

    let html = v.page("/console/apis").await;
    assert!(names(&html).contains(&"alpha-orders".to_owned()));
    assert!(!html.contains("Create API"));
    let html = v.page("/console/apis/alpha-orders").await;
    assert!(!html.contains("Save changes") && !html.contains("Delete API"));
    let html = v.page("/console/roles").await;
    assert_eq!(names(&html), ["reader"]);
    assert!(!html.contains("Create role"));
    let html = v.page("/console/roles/alpha/reader").await;
    assert!(!html.contains("Save changes") && !html.contains("Delete role"));
    let html = v.page("/console/projects").await;
    let table = rows(&html);
    assert_eq!(table.len(), 1);
    assert_eq!(
        (table[0][0].as_str(), table[0][3].as_str()),
        ("alpha", "viewer")
    );
    assert!(!html.contains("Create project"));
    let html = v.page("/console/projects/alpha").await;
    assert!(!html.contains("Save changes") && !html.contains("Delete project"));
    let html = v.page("/console/keys").await;
    assert!(!rows(&html).is_empty());
    assert!(!html.contains("Rotate keys"));
    for page in [
        "/console/apis/_new",
        "/console/roles/new",
        "/console/projects/_new",
        "/console/apis/alpha-orders/delete",
        "/console/roles/alpha/reader/delete",
        "/console/projects/alpha/delete",
        "/console/keys/rotate",
    ] {
        assert_eq!(v.get(page).await.status(), 403, "{page}");
    }

    // Forged posts, with the viewer's own valid CSRF token: refused, nothing changed.
    let csrf = v.csrf("/console/account").await;
    let keys = key_ids(&t);
    for (path, form) in [
        (
            "/console/apis",
            vec![
                ("name", "alpha-sneaky"),
                ("audience", "https://api.example.com/sneaky"),
                ("project", "alpha"),
                ("read", "on"),
            ],
        ),
        (
            "/console/apis/alpha-orders",
            vec![
                ("audience", "https://api.example.com/changed"),
                ("read", "on"),
            ],
        ),
        ("/console/apis/alpha-orders/delete", vec![("force", "on")]),
        (
            "/console/roles",
            vec![("name", "sneaky"), ("project", "alpha")],
        ),
        (
            "/console/roles/alpha/reader",
            vec![("scope", "alpha-orders:write")],
        ),
        ("/console/roles/alpha/reader/delete", vec![("force", "on")]),
        ("/console/projects", vec![("name", "sneaky")]),
        ("/console/projects/alpha", vec![("description", "mine now")]),
        ("/console/projects/alpha/delete", vec![]),
        ("/console/keys/rotate", vec![("now", "on")]),
    ] {
        let mut form = form;
        form.push(("csrf", &csrf));
        let res = v.post(path, &form).await;
        assert_eq!(res.status(), 403, "POST {path}");
    }
    assert_eq!(
        api_names(&t, "alpha"),
        ["admin", "alpha-orders", "alpha-reports"]
    );
    let api = t.cli_json(&["apis", "list", "--project", "alpha"]);
    assert!(
        api.to_string()
            .contains("https://api.example.com/alpha/orders")
    );
    assert_eq!(role_names(&t, "alpha"), ["reader"]);
    let roles = t.cli_json(&["roles", "list", "--project", "alpha"]);
    assert!(!roles.to_string().contains("alpha-orders:write"));
    assert!(project_names(&t).contains(&"alpha".to_owned()));
    assert!(!project_names(&t).contains(&"sneaky".to_owned()));
    assert!(
        !t.cli_json(&["projects", "list"])
            .to_string()
            .contains("mine now")
    );
    assert_eq!(key_ids(&t), keys);
    // Permission before re-authentication: with an old second factor, still a plain 403.
    age_second_factor(&t, &viewer, 11).await;
    for path in ["/console/keys/rotate", "/console/projects/alpha/delete"] {
        let res = v.post(path, &[("csrf", &csrf), ("force", "on")]).await;
        assert_eq!(res.status(), 403, "POST {path}");
        assert_eq!(v.get(path).await.status(), 403, "GET {path}");
    }
    assert_eq!(key_ids(&t), keys);
}

#[tokio::test]
async fn roles_are_made_changed_and_deleted_within_the_persons_projects() {
    let t = Tessera::new();
    project(&t, "alpha");
    project(&t, "beta");
    t.cli_json(&[
        "roles",
        "create",
        "--name",
        "hidden",
        "--project",
        "beta",
        "--scopes",
        "beta-orders:read",
    ]);
    let s = t.serve();
    let (b, ada, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        &["--project", "alpha", "--role", "admin"],
    )
    .await;
    let html = b.page("/console/roles").await;
    assert_eq!(h1(&html), "Roles");
    assert!(rows(&html).is_empty() && !html.contains("/console/roles/beta/"));
    assert_eq!(b.get("/console/roles/beta/hidden").await.status(), 404);

    // The Create role grid: the project's grantable APIs, a read-only API without write.
    let html = b.page("/console/roles/new").await;
    assert!(
        html.contains("value=\"alpha-orders:read\"")
            && html.contains("value=\"alpha-orders:write\"")
    );
    assert!(
        html.contains("value=\"alpha-reports:read\"")
            && !html.contains("value=\"alpha-reports:write\"")
    );
    assert!(!html.contains("beta-orders"));
    let csrf = b.csrf("/console/roles/new").await;
    let res = b
        .post(
            "/console/roles",
            &[
                ("csrf", &csrf),
                ("name", "support"),
                ("project", "alpha"),
                ("description", "<script>alert(1)</script>"),
                ("scope", "alpha-orders:read"),
                ("scope", "alpha-reports:read"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), "/console/roles/alpha/support");
    let html = b.page("/console/roles").await;
    let row = &rows(&html)[0];
    assert_eq!(
        (row[0].as_str(), row[1].as_str(), row[3].as_str()),
        ("support", "alpha", "alpha-orders:read alpha-reports:read")
    );
    assert!(!html.contains("<script>alert(1)"));

    // A bad name: 422 beside it, nothing made.
    let res = b
        .post(
            "/console/roles",
            &[("csrf", &csrf), ("name", "No Spaces"), ("project", "alpha")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(alerts(&html).starts_with("Name:"), "{}", alerts(&html));
    assert!(html.contains("value=\"No Spaces\""));
    // In a project that is not theirs: not found, nothing made.
    let res = b
        .post(
            "/console/roles",
            &[("csrf", &csrf), ("name", "intruder"), ("project", "beta")],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(role_names(&t, "alpha"), ["support"]);
    assert_eq!(role_names(&t, "beta"), ["hidden"]);

    // Save changes: the scopes as ticked now.
    let html = b.page("/console/roles/alpha/support").await;
    assert!(html.contains("value=\"alpha-orders:read\" checked"));
    let res = b
        .post(
            "/console/roles/alpha/support",
            &[
                ("csrf", &csrf),
                ("description", "Support desk"),
                ("scope", "alpha-orders:write"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let row = &rows(&b.page("/console/roles").await)[0];
    assert_eq!(
        (row[2].as_str(), row[3].as_str()),
        ("Support desk", "alpha-orders:write")
    );
    // An unknown scope: refused beside the scopes, nothing changed.
    let res = b
        .post(
            "/console/roles/alpha/support",
            &[("csrf", &csrf), ("scope", "beta-orders:read")],
        )
        .await;
    assert!(
        matches!(res.status().as_u16(), 403 | 422),
        "{}",
        res.status()
    );
    assert!(!alerts(&res.text().await.unwrap()).is_empty());
    let row = &rows(&b.page("/console/roles").await)[0];
    assert_eq!(row[3], "alpha-orders:write");

    // Delete role: its own confirmation page, then the POST.
    let html = b.page("/console/roles/alpha/support/delete").await;
    assert_eq!(h1(&html), "Delete role support?");
    let res = b.post("/console/roles/alpha/support/delete", &[]).await;
    assert_eq!(res.status(), 403, "no CSRF token");
    assert_eq!(role_names(&t, "alpha"), ["support"]);
    let res = b
        .post("/console/roles/alpha/support/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 303);
    assert!(role_names(&t, "alpha").is_empty());
    // Audited with the person as actor (a role's events carry its key, `project/name`).
    let audited = audit_rows(&t, "alpha/support").await;
    for kind in ["role.created", "role.updated", "role.deleted"] {
        assert!(
            audited.iter().any(|(k, actor_type, actor)| k == kind
                && actor_type == "administrator"
                && *actor == ada),
            "{kind}: {audited:?}"
        );
    }
}

#[tokio::test]
async fn superadmins_create_change_and_delete_projects_clients_only_with_force() {
    let t = Tessera::new();
    let s = t.serve();
    let (b, _, _) = signed_in(&t, &s, "root@example.com", &["--superadmin"]).await;
    let html = b.page("/console/projects").await;
    assert_eq!(h1(&html), "Projects");
    assert!(html.contains("href=\"/console/projects/_new\">Create project</a>"));
    let csrf = b.csrf("/console/projects/_new").await;

    let res = b
        .post(
            "/console/projects",
            &[("csrf", &csrf), ("name", "Not Valid")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).starts_with("Name:"));
    let res = b.post("/console/projects", &[("name", "no-csrf")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(project_names(&t), ["default"]);

    let res = b
        .post(
            "/console/projects",
            &[
                ("csrf", &csrf),
                ("name", "payments"),
                ("display_name", "Payments <b>team</b>"),
                ("description", "Cards"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/projects/payments");
    let html = b.page("/console/projects/payments").await;
    assert!(!html.contains("<b>team</b>"));
    let res = b
        .post(
            "/console/projects/payments",
            &[
                ("csrf", &csrf),
                ("display_name", "Payments"),
                ("description", "Cards and wallets"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let row = rows(&b.page("/console/projects").await)
        .into_iter()
        .find(|r| r[0] == "payments")
        .unwrap();
    assert_eq!(
        (row[1].as_str(), row[2].as_str(), row[3].as_str()),
        ("Payments", "Cards and wallets", "superadmin")
    );

    // A project holding clients: the confirmation says how many and asks for "force".
    for name in ["one", "two"] {
        t.cli_json(&["clients", "create", "--name", name, "--project", "payments"]);
    }
    let html = b.page("/console/projects/payments/delete").await;
    assert_eq!(h1(&html), "Delete project payments?");
    assert!(html.contains("Also delete its 2 clients"), "{html}");
    let res = b
        .post("/console/projects/payments/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 409);
    assert!(alerts(&res.text().await.unwrap()).contains("2 client"));
    assert!(project_names(&t).contains(&"payments".to_owned()));
    let res = b
        .post(
            "/console/projects/payments/delete",
            &[("csrf", &csrf), ("force", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(project_names(&t), ["default"]);
    let v = t.cli_json(&["clients", "list"]);
    assert!(!v.to_string().contains("\"one\""), "{v}");
    // The default project is never offered for deletion.
    assert!(
        !b.page("/console/projects/default")
            .await
            .contains("Delete project")
    );
    assert_eq!(
        b.get("/console/projects/default/delete").await.status(),
        403
    );
    for kind in ["project.created", "project.updated", "project.deleted"] {
        let found = events(&b, &format!("/console/audit?type={kind}")).await;
        assert!(
            found.iter().any(|(k, actor, target)| k == kind
                && actor == "root@example.com"
                && target == "payments"),
            "{kind}: {found:?}"
        );
    }

    // A project admin sees only their projects, and no Create project.
    project(&t, "alpha");
    project(&t, "beta");
    let (a, _, _) = signed_in(
        &t,
        &s,
        "ada@example.com",
        &["--project", "alpha", "--role", "owner"],
    )
    .await;
    let html = a.page("/console/projects").await;
    assert_eq!(names(&html), ["alpha"]);
    assert_eq!(rows(&html)[0][3], "owner");
    assert!(!html.contains("Create project"));
    assert_eq!(a.get("/console/projects/beta").await.status(), 404);
}

async fn database(t: &Tessera) -> sea_orm::DatabaseConnection {
    let url = t
        .env
        .iter()
        .find(|(k, _)| k == "TESSERA__DATABASE__URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    tessera::store::connect(&url).await.unwrap()
}

/// `(type, actor_type, actor)` of the stored audit events about `target`.
async fn audit_rows(t: &Tessera, target: &str) -> Vec<(String, String, String)> {
    let db = database(t).await;
    entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Target.eq(target))
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            (
                e.r#type,
                e.actor_type.unwrap_or_default(),
                e.actor.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn rotating_keys_needs_a_recent_second_factor_then_adds_a_key() {
    let t = Tessera::new();
    let s = t.serve();
    let (b, id, totp) = signed_in(&t, &s, "root@example.com", &["--superadmin"]).await;
    let html = b.page("/console/keys").await;
    assert_eq!(h1(&html), "Keys");
    assert!(html.contains("href=\"/console/keys/rotate\">Rotate keys</a>"));
    let before = rows(&html);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0][2], "signing");
    let csrf = b.csrf("/console/keys").await;

    // The last second factor is old: to re-authentication, then back; nothing rotated.
    age_second_factor(&t, &id, 11).await;
    // (reauth::location writes `?&then=`: harmless, and not this page's to change.)
    let to_reauth = |res: &reqwest::Response| {
        let at = location(res);
        at.starts_with("/console/reauth?") && at.contains("then=%2Fconsole%2Fkeys%2Frotate")
    };
    let res = b.get("/console/keys/rotate").await;
    assert_eq!(res.status(), 303);
    assert!(to_reauth(&res), "{}", location(&res));
    let res = b.post("/console/keys/rotate", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert!(to_reauth(&res), "{}", location(&res));
    assert_eq!(key_ids(&t).len(), 1);

    // A fresh code: back to the confirmation, and the POST rotates.
    assert_eq!(
        reauth(&b, &totp, "/console/keys/rotate").await,
        "/console/keys/rotate"
    );
    let html = b.page("/console/keys/rotate").await;
    assert!(html.contains(">Rotate keys</button>"));
    let res = b.post("/console/keys/rotate", &[]).await;
    assert_eq!(res.status(), 403, "no CSRF token");
    assert_eq!(key_ids(&t).len(), 1);
    let res = b.post("/console/keys/rotate", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/keys");
    let after = rows(&b.page("/console/keys").await);
    assert_eq!(after.len(), 2);
    assert_eq!(after[0][2], "next", "{after:?}");
    assert_eq!(key_ids(&t).len(), 2);
    let found = events(&b, "/console/audit?type=key.rotated").await;
    assert!(
        found
            .iter()
            .any(|(_, actor, _)| actor == "root@example.com"),
        "{found:?}"
    );
}

#[tokio::test]
async fn the_audit_log_pages_filters_and_follows_the_project_switcher() {
    let t = Tessera::new();
    project(&t, "alpha");
    project(&t, "beta");
    for i in 0..53 {
        t.cli_json(&[
            "apis",
            "create",
            "--name",
            &format!("alpha-api-{i:02}"),
            "--audience",
            &format!("https://api.example.com/alpha/{i}"),
            "--project",
            "alpha",
        ]);
    }
    let client = t.cli_json(&["clients", "create", "--name", "c", "--project", "alpha"]);
    let client_id = client["client_id"].as_str().unwrap();
    let s = t.serve();
    let (b, _, _) = signed_in(&t, &s, "root@example.com", &["--superadmin"]).await;

    // Newest first, 50 a page, Previous/Next keep the filter.
    let html = b.page("/console/audit?type=api.created").await;
    assert_eq!(h1(&html), "Audit log");
    let thead = &html[html.find("<thead>").unwrap()..html.find("</thead>").unwrap()];
    for col in ["Time", "Event", "Actor", "Target", "Details"] {
        assert!(thead.contains(&format!(">{col}</th>")), "{col}");
    }
    assert!(html.contains("57 events, page 1 of 2"), "{html}");
    let first = rows(&html);
    assert_eq!(first.len(), 50);
    assert_eq!(first[0][3], "alpha-api-52");
    assert_eq!(first[0][2], "command line");
    assert!(first.iter().all(|r| r[1] == "api.created"));
    assert!(!html.contains("rel=\"prev\""));
    let next = html[..html.find("\" rel=\"next\"").expect("a Next link")]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert_eq!(next, "/console/audit?type=api.created&page=2");
    let html = b.page(&next).await;
    assert_eq!(rows(&html).len(), 7);
    assert!(html.contains("rel=\"prev\"") && !html.contains("rel=\"next\""));

    // By client id; by dates (UTC days, both included); a bad date named.
    let found = events(&b, &format!("/console/audit?client_id={client_id}")).await;
    assert_eq!(
        found,
        [(
            "client.created".to_owned(),
            "command line".to_owned(),
            client_id.to_owned()
        )]
    );
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    assert!(
        events(&b, &format!("/console/audit?since={tomorrow}"))
            .await
            .is_empty()
    );
    assert_eq!(
        events(
            &b,
            &format!("/console/audit?type=api.created&until={today}&since={today}")
        )
        .await
        .len(),
        50
    );
    let res = b.get("/console/audit?since=yesterday").await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).starts_with("Since:"));

    // The project switcher narrows the log to that project.
    let all = events(&b, "/console/audit?type=project.created").await;
    assert!(
        all.iter().any(|e| e.2 == "alpha") && all.iter().any(|e| e.2 == "beta"),
        "{all:?}"
    );
    let csrf = b.csrf("/console/audit").await;
    let res = b
        .post(
            "/console/project",
            &[
                ("csrf", &csrf),
                ("project", "beta"),
                ("back", "/console/audit"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = b.page("/console/audit?type=api.created").await;
    let beta: Vec<String> = rows(&html).into_iter().map(|r| r[3].clone()).collect();
    assert_eq!(beta, ["beta-reports", "beta-orders"]);
    assert!(html.contains("in project beta"));
}

#[tokio::test]
async fn deleting_what_is_still_in_use_needs_the_explicit_box() {
    let t = Tessera::new();
    project(&t, "alpha");
    t.cli_json(&[
        "roles",
        "create",
        "--name",
        "reader",
        "--project",
        "alpha",
        "--scopes",
        "alpha-reports:read",
    ]);
    t.cli_json(&[
        "clients",
        "create",
        "--name",
        "user",
        "--project",
        "alpha",
        "--scopes",
        "alpha-orders:read",
        "--roles",
        "reader",
    ]);
    let s = t.serve();
    let (b, id, totp) = signed_in(&t, &s, "root@example.com", &["--superadmin"]).await;
    let csrf = b.csrf("/console/apis").await;

    // An API still granted: 409 saying so, kept; with the box ticked, gone with its grants.
    let res = b
        .post("/console/apis/alpha-orders/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(alerts(&html).contains("granted"), "{}", alerts(&html));
    assert_eq!(h1(&html), "Delete API alpha-orders?");
    assert!(api_names(&t, "alpha").contains(&"alpha-orders".to_owned()));
    let res = b
        .post(
            "/console/apis/alpha-orders/delete",
            &[("csrf", &csrf), ("force", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!api_names(&t, "alpha").contains(&"alpha-orders".to_owned()));

    // A role still held: the same.
    let res = b
        .post("/console/roles/alpha/reader/delete", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 409);
    assert!(alerts(&res.text().await.unwrap()).contains("held"));
    assert_eq!(role_names(&t, "alpha"), ["reader"]);
    let res = b
        .post(
            "/console/roles/alpha/reader/delete",
            &[("csrf", &csrf), ("force", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(role_names(&t, "alpha").is_empty());

    // A project holding a client: deleting it deletes the client, so it needs a fresh
    // second factor, on the confirmation page and on the change.
    age_second_factor(&t, &id, 11).await;
    let then = "then=%2Fconsole%2Fprojects%2Falpha%2Fdelete";
    let res = b.get("/console/projects/alpha/delete").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).contains(then), "{}", location(&res));
    let res = b
        .post(
            "/console/projects/alpha/delete",
            &[("csrf", &csrf), ("force", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/console/reauth?") && location(&res).contains(then));
    assert!(project_names(&t).contains(&"alpha".to_owned()));
    assert_eq!(
        reauth(&b, &totp, "/console/projects/alpha/delete").await,
        "/console/projects/alpha/delete"
    );
    let html = b.page("/console/projects/alpha/delete").await;
    assert!(html.contains("Also delete its 1 client<"), "{html}");
    let res = b
        .post(
            "/console/projects/alpha/delete",
            &[("csrf", &csrf), ("force", "on")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(project_names(&t), ["default"]);
}
