//! The console's Administrators and Account pages over real HTTP (SPEC §7, §8): owners see
//! the people of their projects only; superadmins add people (the enrollment link shown once)
//! and disable or delete them; membership changes need a recent second factor and follow the
//! operations' rules; the Account page changes the password (other sessions end), lists
//! sessions and second factors, and signs out everywhere. Nothing secret reaches the log.

mod common;

use common::console::{Browser, PASSWORD, alerts, code, field, location, rows};
use common::{Server, Tessera};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

const NEW_PASSWORD: &str = "a different long passphrase";

/// The sign-in steps of these tests, which reuse codes (see `World::forget_codes`).
trait PeopleSteps {
    async fn password(&self, email: &str, password: &str) -> reqwest::Response;
    async fn sign_in_again(&self, w: &World, id: &str, email: &str, password: &str, secret: &str);
    async fn reauth(&self, w: &World, id: &str, secret: &str, then: &str) -> String;
}

impl PeopleSteps for Browser {
    /// The password step; the response (303 to the second step when right).
    async fn password(&self, email: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf("/console/sign-in").await;
        self.post(
            "/console/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }

    /// Signs in with `password` and a code. Codes are accepted once each: the test forgets
    /// the last accepted step first, as if half a minute had passed.
    async fn sign_in_again(&self, w: &World, id: &str, email: &str, password: &str, secret: &str) {
        let res = self.password(email, password).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/console/sign-in/verify");
        w.forget_codes(id).await;
        let csrf = self.csrf("/console/sign-in/verify").await;
        let res = self
            .post(
                "/console/sign-in/verify",
                &[("csrf", &csrf), ("code", &code(secret, 0))],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert_eq!(location(&res), "/console");
    }

    /// Re-authenticates with a fresh code; returns where it leads.
    async fn reauth(&self, w: &World, id: &str, secret: &str, then: &str) -> String {
        w.forget_codes(id).await;
        let csrf = self.csrf("/console/account").await;
        let res = self
            .post(
                "/console/reauth",
                &[("csrf", &csrf), ("then", then), ("code", &code(secret, 0))],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        location(&res)
    }
}

/// One installation, its server and its database.
struct World {
    t: Tessera,
    s: Server,
    db: DatabaseConnection,
}

impl World {
    async fn start() -> World {
        let t = Tessera::new();
        for p in ["alpha", "beta"] {
            t.cli_json(&["projects", "create", p]);
            t.cli_json(&[
                "apis",
                "create",
                "--name",
                &format!("{p}-orders"),
                "--audience",
                &format!("https://api.example.com/{p}/orders"),
                "--permissions",
                "read,write",
                "--project",
                p,
            ]);
        }
        let s = t.serve();
        let url = t
            .env
            .iter()
            .find(|(k, _)| k == "TESSERA__DATABASE__URL")
            .map(|(_, v)| v.clone())
            .unwrap();
        let db = tessera::store::connect(&url).await.unwrap();
        World { t, s, db }
    }

    /// An administrator made by the CLI (`extra`: `--superadmin`, `--project P --role R
    /// [--scopes S]`); their id and enrollment token.
    fn create(&self, email: &str, name: &str, extra: &[&str]) -> (String, String) {
        let mut args = vec!["admins", "create", "--email", email, "--display-name", name];
        args.extend_from_slice(extra);
        let v = self.t.cli_json(&args);
        let url = v["enrollment_url"].as_str().unwrap();
        (
            v["id"].as_str().unwrap().to_owned(),
            url.rsplit('/').next().unwrap().to_owned(),
        )
    }

    /// An administrator made by the CLI, enrolled and signed in: the browser, id and TOTP
    /// secret.
    async fn person(&self, email: &str, name: &str, extra: &[&str]) -> (Browser, String, String) {
        let (id, token) = self.create(email, name, extra);
        let b = Browser::new(&self.s);
        let secret = b.enroll(&token).await;
        b.sign_in_again(self, &id, email, PASSWORD, &secret).await;
        (b, id, secret)
    }

    /// Forgets the last accepted TOTP step (each code is accepted once, and a test has no
    /// time to wait for the next one).
    async fn forget_codes(&self, id: &str) {
        entity::totp_credential::Entity::update_many()
            .col_expr(
                entity::totp_credential::Column::LastStep,
                sea_orm::sea_query::Expr::value(Option::<i64>::None),
            )
            .filter(entity::totp_credential::Column::AdministratorId.eq(id))
            .exec(&self.db)
            .await
            .unwrap();
    }

    /// Makes the person's second factors older than `console.reauth_minutes` (10).
    async fn age_second_factor(&self, id: &str) {
        entity::admin_session::Entity::update_many()
            .col_expr(
                entity::admin_session::Column::SecondFactorAt,
                sea_orm::sea_query::Expr::value(
                    chrono::Utc::now() - chrono::TimeDelta::minutes(11),
                ),
            )
            .filter(entity::admin_session::Column::AdministratorId.eq(id))
            .exec(&self.db)
            .await
            .unwrap();
    }

    async fn admin(&self, id: &str) -> tessera::store::administrators::Administrator {
        tessera::store::administrators::get(&self.db, id)
            .await
            .unwrap()
    }

    /// The audit events of `kind` about `target`, as (actor id, details).
    async fn events(&self, kind: &str, target: &str) -> Vec<(Option<String>, String)> {
        entity::audit_event::Entity::find()
            .filter(entity::audit_event::Column::Type.eq(kind))
            .filter(entity::audit_event::Column::Target.eq(target))
            .all(&self.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.actor, e.details))
            .collect()
    }

    async fn session_count(&self, id: &str) -> usize {
        entity::admin_session::Entity::find()
            .filter(entity::admin_session::Column::AdministratorId.eq(id))
            .all(&self.db)
            .await
            .unwrap()
            .len()
    }
}

#[tokio::test]
async fn owners_see_their_projects_people_only_and_viewers_and_admins_get_no_page() {
    let w = World::start().await;
    let (owner, owner_id, _) = w
        .person(
            "owen@example.com",
            "Owen Owner",
            &["--project", "alpha", "--role", "owner"],
        )
        .await;
    let (alpha_admin, _, _) = w
        .person(
            "ada@example.com",
            "Ada Admin",
            &["--project", "alpha", "--role", "admin"],
        )
        .await;
    let (viewer, _, _) = w
        .person(
            "vic@example.com",
            "Vic Viewer",
            &["--project", "alpha", "--role", "viewer"],
        )
        .await;
    let (beta_id, _) = w.create(
        "bea@example.com",
        "Bea Beta",
        &["--project", "beta", "--role", "owner"],
    );

    let res = owner.get("/console/administrators").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("<h1>Administrators</h1>"));
    assert!(html.contains("href=\"/console/administrators\" aria-current=\"page\""));
    let thead = &html[html.find("<thead>").unwrap()..html.find("</thead>").unwrap()];
    for h in ["Name", "Email", "Status", "Memberships", "Last sign-in"] {
        assert!(thead.contains(&format!(">{h}</th>")), "{h}");
    }
    let table = rows(&html);
    let mut names: Vec<&str> = table.iter().map(|r| r[0].as_str()).collect();
    names.sort();
    assert_eq!(names, ["Ada Admin", "Owen Owner", "Vic Viewer"]);
    let ada = table.iter().find(|r| r[0] == "Ada Admin").unwrap();
    assert_eq!(ada[1], "ada@example.com");
    assert_eq!(ada[2], "Enabled");
    assert_eq!(ada[3], "alpha: admin");
    assert_ne!(ada[4], "Never");
    assert!(!html.contains("Bea Beta") && !html.contains(&beta_id));
    // Only superadmins add people.
    assert!(!html.contains("Add administrator"));
    assert_eq!(owner.get("/console/administrators/new").await.status(), 403);
    // Another project's person has no page for this owner.
    assert_eq!(
        owner
            .get(&format!("/console/administrators/{beta_id}"))
            .await
            .status(),
        404
    );
    // The owner's own page: their memberships, no way to change them.
    let mine = owner
        .page(&format!("/console/administrators/{owner_id}"))
        .await;
    assert!(mine.contains("alpha"));
    assert!(!mine.contains("/membership?project=alpha"));
    assert!(!mine.contains(">Disable</button>") && !mine.contains("Delete administrator"));

    // Admins and viewers: no link, and the page refuses.
    for b in [&alpha_admin, &viewer] {
        let account = b.page("/console/account").await;
        assert!(!account.contains("href=\"/console/administrators\""));
        assert_eq!(b.get("/console/administrators").await.status(), 403);
        assert_eq!(
            b.get(&format!("/console/administrators/{owner_id}"))
                .await
                .status(),
            403
        );
    }
}

/// The Add administrator form for a new admin of alpha, limited to alpha-orders:read.
fn new_person(csrf: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("csrf", csrf),
        ("email", "New.Person@Example.com"),
        ("name", "New Person"),
        ("project", "alpha"),
        ("role", "admin"),
        ("ceiling", "limited"),
        ("scope", "alpha-orders:read"),
    ]
}

#[tokio::test]
async fn a_superadmin_adds_an_administrator_whose_link_is_shown_once_and_works() {
    let w = World::start().await;
    let (root, _, _) = w
        .person("root@example.com", "Root", &["--superadmin"])
        .await;
    let list = root.page("/console/administrators").await;
    assert!(list.contains("href=\"/console/administrators/new\">Add administrator</a>"));
    let form = root.page("/console/administrators/new?project=alpha").await;
    for label in ["Email", "Name", "Project", "Role"] {
        assert!(form.contains(&format!("\">{label}</label>")), "{label}");
    }
    assert!(form.contains("value=\"alpha-orders:read\""));
    let csrf = field(&form, "name=\"csrf\" value=\"");
    // Without the CSRF token: 403 and nobody made.
    let res = root.post("/console/administrators", &new_person("")).await;
    assert_eq!(res.status(), 403);
    let listed = w.t.cli_json(&["admins", "list"]).to_string();
    assert!(!listed.contains("new.person@example.com"));

    // A bad email is named beside its field, the form refilled.
    let mut bad = new_person(&csrf);
    bad[1] = ("email", "not an email");
    let res = root.post("/console/administrators", &bad).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        alerts(&html).contains("Email: must be an email address"),
        "{}",
        alerts(&html)
    );
    assert!(html.contains("aria-describedby=\"email-error\""));
    assert!(html.contains("value=\"New Person\""));

    let res = root
        .post("/console/administrators", &new_person(&csrf))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("will not be shown again"));
    assert!(html.contains("data-copy=\"enrollment-url\""));
    let url = field(
        &html,
        "id=\"enrollment-url\" type=\"text\" readonly autocomplete=\"off\" value=\"",
    );
    assert!(
        url.starts_with(&format!("{}/console/enroll/", w.s.url)),
        "{url}"
    );
    let first_token = url.rsplit('/').next().unwrap().to_owned();
    let person = w.t.cli_json(&["admins", "list"]);
    let person = person
        .as_array()
        .or_else(|| person["items"].as_array())
        .unwrap()
        .iter()
        .find(|a| a["email"] == "new.person@example.com")
        .unwrap()
        .clone();
    let id = person["id"].as_str().unwrap().to_owned();
    let made = w.admin(&id).await;
    assert_eq!(made.memberships.len(), 1);
    assert_eq!(
        made.memberships[0].scopes,
        Some(vec!["alpha-orders:read".to_owned()])
    );

    // Its page never shows the link again; a new one may be issued while not enrolled.
    let detail = root.page(&format!("/console/administrators/{id}")).await;
    assert!(!detail.contains(&first_token));
    assert!(detail.contains("Enrollment pending"));
    assert!(detail.contains(">New enrollment link</button>"));
    let res = root
        .post(
            &format!("/console/administrators/{id}/enrollment"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let url = field(
        &html,
        "id=\"enrollment-url\" type=\"text\" readonly autocomplete=\"off\" value=\"",
    );
    let token = url.rsplit('/').next().unwrap().to_owned();
    assert_ne!(token, first_token);
    assert_eq!(
        w.events("administrator.enrollment_reissued", &id)
            .await
            .len(),
        1
    );
    // The first link stopped working; the new one enrolls, then signs in.
    let newcomer = Browser::new(&w.s);
    assert_eq!(
        newcomer
            .get(&format!("/console/enroll/{first_token}"))
            .await
            .status(),
        404
    );
    let secret = newcomer.enroll(&token).await;
    newcomer
        .sign_in_again(&w, &id, "new.person@example.com", PASSWORD, &secret)
        .await;
    assert_eq!(newcomer.get("/console/clients").await.status(), 200);
    let detail = root.page(&format!("/console/administrators/{id}")).await;
    assert!(!detail.contains("Enrollment pending") && !detail.contains("New enrollment link"));

    // Disable ends their sessions; Enable lets them sign in again.
    let res = root
        .post(
            &format!("/console/administrators/{id}/enabled"),
            &[("csrf", &csrf), ("enabled", "false")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!w.admin(&id).await.enabled);
    assert_eq!(newcomer.get("/console/clients").await.status(), 303);
    let detail = root.page(&format!("/console/administrators/{id}")).await;
    assert!(detail.contains(">Enable</button>"));
    let res = root
        .post(
            &format!("/console/administrators/{id}/enabled"),
            &[("csrf", &csrf), ("enabled", "true")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(w.admin(&id).await.enabled);

    // Delete: a confirmation naming the person, then gone.
    let confirm = root
        .page(&format!("/console/administrators/{id}/delete"))
        .await;
    assert!(confirm.contains("New Person") && confirm.contains("new.person@example.com"));
    assert!(confirm.contains(">Delete administrator</button>"));
    let res = root
        .post(
            &format!("/console/administrators/{id}/delete"),
            &[("csrf", "")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = root
        .post(
            &format!("/console/administrators/{id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/administrators?done=deleted");
    let list = root.page("/console/administrators").await;
    assert!(!list.contains("New Person"));

    // Neither link, nor any password, in a log line.
    let log = w.s.log();
    for secret in [first_token.as_str(), token.as_str(), PASSWORD] {
        assert!(!log.contains(secret), "the log holds a credential");
    }
}

#[tokio::test]
async fn membership_changes_need_a_recent_second_factor_follow_the_rules_and_are_audited() {
    let w = World::start().await;
    let (owner, owner_id, owner_secret) = w
        .person(
            "owen@example.com",
            "Owen Owner",
            &[
                "--project",
                "alpha",
                "--role",
                "owner",
                "--scopes",
                "alpha-orders:read",
            ],
        )
        .await;
    let (vic, _) = w.create(
        "vic@example.com",
        "Vic Viewer",
        &["--project", "alpha", "--role", "viewer"],
    );
    let edit = format!("/console/administrators/{vic}/membership?project=alpha");
    let post_path = format!("/console/administrators/{vic}/membership");
    let csrf = owner.csrf("/console/account").await;
    let promote = |csrf: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("project".to_owned(), "alpha".to_owned()),
            ("role".to_owned(), "admin".to_owned()),
            ("ceiling".to_owned(), "limited".to_owned()),
            ("scope".to_owned(), "alpha-orders:read".to_owned()),
        ]
    };
    async fn post_owned(b: &Browser, path: &str, form: &[(String, String)]) -> reqwest::Response {
        let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        b.post(path, &refs).await
    }

    // The second factor of sign-in is older than the window: the form and the change send the
    // person to re-authenticate, and nothing changes.
    w.age_second_factor(&owner_id).await;
    let res = owner.get(&edit).await;
    assert_eq!(res.status(), 303);
    let reauth = location(&res);
    assert!(reauth.starts_with("/console/reauth?"), "{reauth}");
    let res = post_owned(&owner, &post_path, &promote(&csrf)).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/console/reauth?"));
    assert_eq!(
        w.admin(&vic).await.memberships[0].role,
        tessera::store::administrators::ProjectRole::Viewer
    );

    // A fresh code leads back to the form; the change is made and audited.
    let back = owner.reauth(&w, &owner_id, &owner_secret, &edit).await;
    assert_eq!(back, edit);
    let form = owner.page(&edit).await;
    assert!(form.contains(">Save changes</button>"));
    assert!(form.contains("\">Role</label>"));
    // Without the CSRF token: 403 and nothing changes.
    let res = post_owned(&owner, &post_path, &promote("")).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        w.admin(&vic).await.memberships[0].role,
        tessera::store::administrators::ProjectRole::Viewer
    );
    let res = post_owned(&owner, &post_path, &promote(&csrf)).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let after = w.admin(&vic).await;
    assert_eq!(
        after.memberships[0].role,
        tessera::store::administrators::ProjectRole::Admin
    );
    assert_eq!(
        after.memberships[0].scopes,
        Some(vec!["alpha-orders:read".to_owned()])
    );
    let events = w.events("administrator.updated", &vic).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0.as_deref(), Some(owner_id.as_str()));
    assert!(events[0].1.contains("memberships"));
    assert_eq!(
        location(&res),
        format!("/console/administrators/{vic}?done=membership")
    );
    let detail = owner.page(&location(&res)).await;
    assert!(detail.contains("Membership saved."));
    assert!(detail.contains("<td>admin</td>") && detail.contains("<td>alpha-orders:read</td>"));

    // Beyond the owner's own ceiling: refused, the reason shown, nothing changed.
    for ceiling in [
        vec![("ceiling", "all")],
        vec![("ceiling", "limited"), ("scope", "alpha-orders:write")],
    ] {
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("project", "alpha"),
            ("role", "admin"),
        ];
        form.extend(ceiling);
        let res = owner.post(&post_path, &form).await;
        assert_eq!(res.status(), 403);
        let html = res.text().await.unwrap();
        assert!(
            alerts(&html).contains("may not exceed your own"),
            "{}",
            alerts(&html)
        );
        assert_eq!(w.admin(&vic).await.memberships, after.memberships);
    }
    // Their own membership: refused too.
    let res = owner
        .post(
            &format!("/console/administrators/{owner_id}/membership"),
            &[
                ("csrf", csrf.as_str()),
                ("project", "alpha"),
                ("role", "owner"),
                ("ceiling", "all"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let html = res.text().await.unwrap();
    assert!(
        alerts(&html).contains("you may not change your own memberships"),
        "{}",
        alerts(&html)
    );

    // Remove: a confirmation naming person and project, then gone (and audited).
    let confirm = format!("/console/administrators/{vic}/membership/remove?project=alpha");
    let html = owner.page(&confirm).await;
    assert!(html.contains("Vic Viewer") && html.contains("<strong>alpha</strong>"));
    let res = owner.post(&confirm, &[("csrf", "")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(w.admin(&vic).await.memberships.len(), 1);
    let res = owner.post(&confirm, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert!(w.admin(&vic).await.memberships.is_empty());
    assert_eq!(w.events("administrator.updated", &vic).await.len(), 2);
}

#[tokio::test]
async fn a_password_change_checks_both_passwords_and_ends_the_other_sessions() {
    let w = World::start().await;
    let email = "pat@example.com";
    let (a, id, secret) = w
        .person(email, "Pat", &["--project", "alpha", "--role", "viewer"])
        .await;
    let b = Browser::new(&w.s);
    b.sign_in_again(&w, &id, email, PASSWORD, &secret).await;
    let page = a.page("/console/account").await;
    for label in ["Current password", "New password", "Confirm new password"] {
        assert!(page.contains(&format!("\">{label}</label>")), "{label}");
    }
    assert!(page.contains(">Change password</button>"));
    let csrf = field(&page, "name=\"csrf\" value=\"");
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        [
            ("current_password", current),
            ("new_password", new),
            ("confirm_password", confirm),
        ]
    };
    let post = |csrf: String, fields: [(&'static str, &'static str); 3]| {
        let a = &a;
        async move {
            let mut form = vec![("csrf", csrf.as_str())];
            form.extend(fields);
            a.post("/console/account/password", &form).await
        }
    };

    // Without the CSRF token: 403, nothing changed.
    let res = post(String::new(), change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(res.status(), 403);
    // A wrong current password: named beside its field; counted like a failed sign-in.
    let res = post(
        csrf.clone(),
        change("not my password at all", NEW_PASSWORD, NEW_PASSWORD),
    )
    .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(alerts(&html).contains("Current password: is not your current password"));
    assert!(html.contains("aria-describedby=\"current_password-error\""));
    // A weak new password: the rule it breaks.
    let res = post(
        csrf.clone(),
        change(PASSWORD, "password1234", "password1234"),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).contains("New password: is too common"));
    let res = post(csrf.clone(), change(PASSWORD, "short", "short")).await;
    assert!(alerts(&res.text().await.unwrap()).contains("must be at least 12 characters"));
    let res = post(
        csrf.clone(),
        change(PASSWORD, NEW_PASSWORD, "something else entirely"),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(alerts(&res.text().await.unwrap()).contains("Confirm new password: does not match"));
    assert_eq!(
        w.events("administrator.password_changed", &id).await.len(),
        0
    );
    assert_eq!(b.get("/console/account").await.status(), 200);

    // Success: this session stays, the other ends; the new password signs in, the old not.
    let res = post(csrf.clone(), change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/account?done=password");
    assert!(
        a.page("/console/account?done=password")
            .await
            .contains("Password changed.")
    );
    let res = b.get("/console/account").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/sign-in");
    assert_eq!(w.session_count(&id).await, 1);
    assert_eq!(
        w.events("administrator.password_changed", &id).await.len(),
        1
    );
    let c = Browser::new(&w.s);
    assert_eq!(c.password(email, PASSWORD).await.status(), 401);
    c.sign_in_again(&w, &id, email, NEW_PASSWORD, &secret).await;
    assert_eq!(c.get("/console/account").await.status(), 200);

    // No password in a log line.
    let log = w.s.log();
    for p in [
        PASSWORD,
        NEW_PASSWORD,
        "not my password at all",
        "password1234",
    ] {
        assert!(!log.contains(p), "the log holds a password");
    }
}

#[tokio::test]
async fn sessions_are_listed_and_sign_out_everywhere_ends_them_all() {
    let w = World::start().await;
    let email = "sam@example.com";
    let (a, id, secret) = w
        .person(email, "Sam", &["--project", "alpha", "--role", "viewer"])
        .await;
    let b = Browser::new(&w.s);
    b.sign_in_again(&w, &id, email, PASSWORD, &secret).await;
    let html = a.page("/console/account").await;
    assert!(html.contains("<h1>Account</h1>"));
    assert!(html.contains("Sam") && html.contains(email) && html.contains("alpha: viewer"));
    assert!(html.contains("Enrolled</span> since "));
    assert!(html.contains("No passkey yet."));
    assert!(html.contains("id=\"passkey-add\"") && html.contains(">Add a passkey</button>"));
    let sessions = &html[html.find("id=\"sessions\"").unwrap()..];
    let table = rows(sessions);
    assert_eq!(table.len(), 2, "{table:?}");
    assert_eq!(table.iter().filter(|r| r[3] == "This session").count(), 1);
    assert!(table.iter().all(|r| r[2] == "127.0.0.1"));
    // Neither a cookie nor its hash is shown.
    for row in entity::admin_session::Entity::find()
        .filter(entity::admin_session::Column::AdministratorId.eq(id.clone()))
        .all(&w.db)
        .await
        .unwrap()
    {
        assert!(!html.contains(&row.id_hash));
    }

    let res = a
        .post("/console/account/sign-out-everywhere", &[("csrf", "")])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(w.session_count(&id).await, 2);
    let csrf = field(&html, "name=\"csrf\" value=\"");
    let res = a
        .post("/console/account/sign-out-everywhere", &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/sign-in");
    assert_eq!(w.session_count(&id).await, 0);
    for browser in [&a, &b] {
        let res = browser.get("/console/account").await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/console/sign-in");
    }
}

#[tokio::test]
async fn removing_a_passkey_needs_a_recent_second_factor() {
    let w = World::start().await;
    let email = "kim@example.com";
    let (a, id, secret) = w
        .person(email, "Kim", &["--project", "alpha", "--role", "viewer"])
        .await;
    let now = chrono::Utc::now();
    sea_orm::ActiveModelTrait::insert(
        entity::passkey::ActiveModel {
            credential_id: sea_orm::Set("cred-Laptop_1".into()),
            administrator_id: sea_orm::Set(id.clone()),
            name: sea_orm::Set("Work laptop".into()),
            passkey: sea_orm::Set("{}".into()),
            created_at: sea_orm::Set(now),
            last_used_at: sea_orm::Set(None),
        },
        &w.db,
    )
    .await
    .unwrap();
    let passkeys = || async {
        entity::passkey::Entity::find()
            .filter(entity::passkey::Column::AdministratorId.eq(id.clone()))
            .all(&w.db)
            .await
            .unwrap()
            .len()
    };
    let html = a.page("/console/account").await;
    let table = rows(&html[html.find("id=\"passkeys\"").unwrap()..]);
    assert_eq!(table[0][0], "Work laptop");
    assert_eq!(table[0][2], "Never");
    let confirm = "/console/account/passkeys/cred-Laptop_1/remove";
    assert!(html.contains(&format!("href=\"{confirm}\"")));
    let csrf = field(&html, "name=\"csrf\" value=\"");

    w.age_second_factor(&id).await;
    let res = a.get(confirm).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/console/reauth?"));
    let res = a.post(confirm, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/console/reauth?"));
    assert_eq!(passkeys().await, 1);

    assert_eq!(a.reauth(&w, &id, &secret, confirm).await, confirm);
    let page = a.page(confirm).await;
    assert!(page.contains("Work laptop") && page.contains(">Remove</button>"));
    let res = a.post(confirm, &[("csrf", "")]).await;
    assert_eq!(res.status(), 403);
    assert_eq!(passkeys().await, 1);
    let res = a.post(confirm, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/account?done=passkey");
    assert_eq!(passkeys().await, 0);
    assert_eq!(
        w.events("administrator.passkey_removed", &id).await.len(),
        1
    );
    // Someone else's (or an unknown) passkey: not found.
    assert_eq!(a.get(confirm).await.status(), 404);
}
