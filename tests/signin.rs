//! Console sign-in over real HTTP (SPEC §7, §8): enrollment sets a password and a TOTP factor,
//! sign-in takes both, codes are accepted once, failures look alike and are throttled,
//! sessions end on sign-out and when the administrator is disabled, and every POST needs the
//! console's origin and its CSRF token.

mod common;

use common::{Server, Tessera};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

const PASSWORD: &str = "correct horse battery staple";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The installation's database, as the server sees it (SQLite file or PostgreSQL).
async fn database(t: &Tessera) -> DatabaseConnection {
    let url = t
        .env
        .iter()
        .find(|(k, _)| k == "TESSERA__DATABASE__URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    tessera::store::connect(&url).await.unwrap()
}

/// An administrator who has not enrolled yet, made by the real CLI, and the token of the
/// enrollment URL it printed.
fn new_admin(t: &Tessera, email: &str) -> (String, String) {
    let v = t.cli_json(&[
        "admins",
        "create",
        "--email",
        email,
        "--display-name",
        "Ada Lovelace",
    ]);
    let url = v["enrollment_url"].as_str().unwrap();
    assert!(url.contains("/console/enroll/"), "{url}");
    (
        v["id"].as_str().unwrap().to_owned(),
        url.rsplit('/').next().unwrap().to_owned(),
    )
}

/// A new enrollment URL's token for someone (`tessera admins enroll EMAIL`).
fn reenroll(t: &Tessera, email: &str) -> String {
    let v = t.cli_json(&["admins", "enroll", email]);
    let url = v["enrollment_url"].as_str().unwrap();
    url.rsplit('/').next().unwrap().to_owned()
}

/// The session rows of an administrator.
async fn sessions_of(db: &DatabaseConnection, id: &str) -> Vec<entity::admin_session::Model> {
    entity::admin_session::Entity::find()
        .filter(entity::admin_session::Column::AdministratorId.eq(id))
        .all(db)
        .await
        .unwrap()
}

async fn administrator(db: &DatabaseConnection, id: &str) -> entity::administrator::Model {
    entity::administrator::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

/// A browser: keeps cookies, does not follow redirects (so each step is seen), and sends
/// `Sec-Fetch-Site: same-origin` on its POSTs as browsers do for a form of the same page.
struct Browser {
    http: reqwest::Client,
    base: String,
}

impl Browser {
    fn new(s: &Server) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.url.clone(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_with(path, form, &[("Sec-Fetch-Site", "same-origin")])
            .await
    }

    /// A POST with exactly these extra headers.
    async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.unwrap()
    }

    /// The CSRF token of the form on `path`.
    async fn csrf(&self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status(), 200, "GET {path}");
        field(&page.text().await.unwrap(), "name=\"csrf\" value=\"")
    }

    /// Enrolls with `password`, confirming the TOTP secret with the current code; returns
    /// the secret (base32).
    async fn enroll(&self, token: &str, password: &str) -> String {
        let path = format!("/console/enroll/{token}");
        let page = self.get(&path).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let secret = field(&html, "id=\"totp-key\" type=\"text\" readonly value=\"");
        let csrf = field(&html, "name=\"csrf\" value=\"");
        let res = self
            .post(
                &path,
                &[
                    ("csrf", &csrf),
                    ("password", password),
                    ("code", &code(&secret, 0)),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert_eq!(location(&res), "/console/sign-in?enrolled=1");
        secret
    }

    /// The password step; returns the response.
    async fn password(&self, email: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf("/console/sign-in").await;
        self.post(
            "/console/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        )
        .await
    }

    /// The code step; returns the response.
    async fn code(&self, code: &str) -> reqwest::Response {
        let csrf = self.csrf("/console/sign-in/verify").await;
        self.post(
            "/console/sign-in/verify",
            &[("csrf", &csrf), ("code", code)],
        )
        .await
    }

    /// Signs in completely and checks it worked.
    async fn sign_in(&self, email: &str, password: &str, code: &str) {
        let res = self.password(email, password).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/console/sign-in/verify");
        let res = self.code(code).await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert_eq!(location(&res), "/console");
        let home = self.get("/console/account").await;
        assert_eq!(home.status(), 200);
        assert!(
            home.text()
                .await
                .unwrap()
                .contains("Signed in as Ada Lovelace")
        );
    }
}

/// Every audit event, read through the admin API with a new root admin client.
async fn audit_events(t: &Tessera, s: &Server) -> Vec<serde_json::Value> {
    let (id, secret) = t.create_client(
        &format!("auditor-{}", tessera::secret::random_id(4)),
        "admin:read",
    );
    let token = s.token(&id, &secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let page: serde_json::Value = common::http()
        .get(s.url("/admin/v1/audit-events?limit=1000"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

/// The value following `marker` up to the next quote.
fn field(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The TOTP code for now plus `offset_steps` steps, computed independently with totp-rs.
fn code(secret_base32: &str, offset_steps: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = chrono::Utc::now().timestamp() + offset_steps * 30;
    totp.generate(now as u64).to_string()
}

/// Texts of the page's alerts (the errors shown to the person).
fn alerts(html: &str) -> Vec<String> {
    html.split("role=\"alert\"")
        .skip(1)
        .map(|rest| {
            let text = &rest[rest.find('>').unwrap() + 1..];
            text[..text.find('<').unwrap()].to_owned()
        })
        .collect()
}

/// A server with one enrolled administrator; returns it, the browser used, the TOTP secret,
/// the database and the administrator's id.
async fn enrolled(t: &Tessera, email: &str) -> (Server, String, DatabaseConnection, String) {
    let s = t.serve();
    let db = database(t).await;
    let (id, token) = new_admin(t, email);
    let secret = Browser::new(&s).enroll(&token, PASSWORD).await;
    (s, secret, db, id)
}

#[tokio::test]
async fn enrollment_sets_password_and_totp_then_sign_in_works() {
    let t = Tessera::new();
    let s = t.serve();
    let db = database(&t).await;
    let (id, token) = new_admin(&t, "Ada@Example.com");
    assert!(administrator(&db, &id).await.password_hash.is_none());

    let b = Browser::new(&s);
    let secret = b.enroll(&token, PASSWORD).await;
    let stored = administrator(&db, &id).await;
    assert!(stored.password_hash.unwrap().starts_with("$argon2id$"));
    // Neither the password nor the TOTP secret is stored in the clear.
    let bytes = t.database_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains(PASSWORD));
    assert!(!text.contains(&secret));

    // The sign-in page has the labels and buttons of SPEC §8.
    let page = b
        .get("/console/sign-in?enrolled=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<label for=\"email\">Email</label>"),
        "{page}"
    );
    assert!(page.contains("<label for=\"password\">Password</label>"));
    assert!(page.contains(">Sign in</button>"));
    assert!(page.contains("Enrollment complete"));
    // Before the second factor, nothing is granted.
    let res = b.password("ada@example.COM", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/sign-in/verify");
    let home = b.get("/console/account").await;
    assert_eq!(home.status(), 303, "a half-done sign-in grants nothing");
    let verify = b.get("/console/sign-in/verify").await.text().await.unwrap();
    assert!(verify.contains("<label for=\"code\">Authentication code</label>"));
    assert!(verify.contains(">Verify</button>"));
    // The next step's code: the enrollment spent the current one.
    let res = b.code(&code(&secret, 1)).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console");
    let home = b.get("/console/account").await;
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    assert!(
        html.contains("Signed in as Ada Lovelace (ada@example.com)"),
        "{html}"
    );
    assert!(html.contains(">Sign out</button>"));
    assert!(administrator(&db, &id).await.last_sign_in_at.is_some());
    // The log holds neither the enrollment token, nor the password, nor the TOTP secret.
    let log = s.log();
    assert!(log.contains("path=/console/enroll/[redacted]"), "{log}");
    for secret_thing in [token.as_str(), PASSWORD, secret.as_str()] {
        assert!(!log.contains(secret_thing), "the log leaks {secret_thing}");
    }
}

#[tokio::test]
async fn weak_common_and_short_passwords_are_refused_with_the_field_named_and_nothing_stored() {
    let t = Tessera::new();
    let s = t.serve();
    let db = database(&t).await;
    let (id, token) = new_admin(&t, "weak@example.com");
    let b = Browser::new(&s);
    let path = format!("/console/enroll/{token}");
    let html = b.get(&path).await.text().await.unwrap();
    let secret = field(&html, "id=\"totp-key\" type=\"text\" readonly value=\"");
    let csrf = field(&html, "name=\"csrf\" value=\"");
    let long = "x".repeat(1025);
    for (password, why) in [
        ("short", "Password must be at least 12 characters long."),
        ("password1234", "Password is too common"),
        ("Qwertyuiop!!", "Password is too common"),
        (long.as_str(), "Password must be at most 1024 bytes long."),
    ] {
        let res = b
            .post(
                &path,
                &[
                    ("csrf", &csrf),
                    ("password", password),
                    ("code", &code(&secret, 0)),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{password}");
        let html = res.text().await.unwrap();
        let shown = alerts(&html);
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert!(shown[0].starts_with(why), "{shown:?}");
        assert!(html.contains("id=\"password\"") && html.contains("aria-invalid=\"true\""));
        assert!(!html.contains(password), "the password is never echoed");
    }
    // A wrong code is named too, even with a good password.
    let res = b
        .post(
            &path,
            &[("csrf", &csrf), ("password", PASSWORD), ("code", "000000")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let shown = alerts(&res.text().await.unwrap());
    assert!(
        shown[0].starts_with("Authentication code is not correct"),
        "{shown:?}"
    );
    // Nothing was stored and the link still works.
    assert!(administrator(&db, &id).await.password_hash.is_none());
    assert!(
        entity::totp_credential::Entity::find_by_id(id.clone())
            .one(&db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(b.get(&path).await.status(), 200);
    b.enroll(&token, PASSWORD).await;
}

#[tokio::test]
async fn a_used_or_expired_enrollment_link_is_refused() {
    let t = Tessera::new();
    let s = t.serve();
    let db = database(&t).await;
    let (_, token) = new_admin(&t, "once@example.com");
    let b = Browser::new(&s);
    b.enroll(&token, PASSWORD).await;
    let path = format!("/console/enroll/{token}");
    let again = Browser::new(&s);
    let res = again.get(&path).await;
    assert_eq!(res.status(), 404);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("enrollment link is not valid")
    );
    let res = again
        .post(
            &path,
            &[
                ("csrf", "x"),
                ("password", "another long passphrase"),
                ("code", "123456"),
            ],
        )
        .await;
    assert_eq!(res.status(), 404);

    // An expired link, even one never used.
    let (id, token) = new_admin(&t, "late@example.com");
    entity::enrollment_token::Entity::update_many()
        .col_expr(
            entity::enrollment_token::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::TimeDelta::minutes(1)),
        )
        .filter(entity::enrollment_token::Column::AdministratorId.eq(id.clone()))
        .exec(&db)
        .await
        .unwrap();
    let res = Browser::new(&s)
        .get(&format!("/console/enroll/{token}"))
        .await;
    assert_eq!(res.status(), 404);
    assert!(administrator(&db, &id).await.password_hash.is_none());
    // And one that was never issued.
    let res = Browser::new(&s)
        .get(&format!(
            "/console/enroll/{}",
            tessera::secret::random_token(32)
        ))
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_totp_code_is_accepted_once() {
    let t = Tessera::new();
    let (s, secret, _db, _) = enrolled(&t, "replay@example.com").await;
    let b = Browser::new(&s);
    let next = code(&secret, 1);
    b.sign_in("replay@example.com", PASSWORD, &next).await;
    // Another browser replays the same code: refused.
    let other = Browser::new(&s);
    assert_eq!(
        other
            .password("replay@example.com", PASSWORD)
            .await
            .status(),
        303
    );
    let res = other.code(&next).await;
    assert_eq!(res.status(), 401);
    let html = res.text().await.unwrap();
    assert_eq!(
        alerts(&html),
        ["Incorrect email, password or authentication code."]
    );
    assert_eq!(other.get("/console/account").await.status(), 303);
    // The code of the enrollment (this step) is spent too.
    let res = other.code(&code(&secret, 0)).await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn unknown_email_wrong_password_and_wrong_code_look_alike() {
    let t = Tessera::new();
    let (s, secret, _db, _) = enrolled(&t, "same@example.com").await;
    let b = Browser::new(&s);
    let unknown = b.password("nobody@example.com", PASSWORD).await;
    let (unknown_status, unknown_html) = (unknown.status(), unknown.text().await.unwrap());
    let wrong = b
        .password("same@example.com", "not the right passphrase")
        .await;
    let (wrong_status, wrong_html) = (wrong.status(), wrong.text().await.unwrap());
    assert_eq!(b.password("same@example.com", PASSWORD).await.status(), 303);
    let bad_code = b.code(&code(&secret, 7)).await;
    let (code_status, code_html) = (bad_code.status(), bad_code.text().await.unwrap());
    assert_eq!(unknown_status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_status, unknown_status);
    assert_eq!(code_status, unknown_status);
    let message = vec!["Incorrect email, password or authentication code.".to_owned()];
    assert_eq!(alerts(&unknown_html), message);
    assert_eq!(alerts(&wrong_html), message);
    assert_eq!(alerts(&code_html), message);
    assert!(!wrong_html.contains("not the right passphrase"));
}

#[tokio::test]
async fn repeated_failures_from_one_source_get_429_with_retry_after() {
    let mut t = Tessera::new();
    t.set("TESSERA__LIMITS__FAILED_AUTH_PER_SOURCE", "5")
        .set("TESSERA__LIMITS__FAILED_AUTH_WINDOW_SECONDS", "60")
        .set("TESSERA__SERVER__TRUSTED_PROXIES", "127.0.0.1/32");
    let (s, _secret, _db, _) = enrolled(&t, "victim@example.com").await;
    let b = Browser::new(&s);
    let attempt = |email: String, source: &'static str| {
        let b = &b;
        async move {
            let csrf = b.csrf("/console/sign-in").await;
            b.post_with(
                "/console/sign-in",
                &[
                    ("csrf", csrf.as_str()),
                    ("email", &email),
                    ("password", "guess guess guess"),
                ],
                &[
                    ("Sec-Fetch-Site", "same-origin"),
                    ("X-Forwarded-For", source),
                ],
            )
            .await
        }
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        let res = attempt(format!("guess{i}@example.com"), "10.9.9.9").await;
        statuses.push(res.status().as_u16());
        if res.status() == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            assert!(
                res.text()
                    .await
                    .unwrap()
                    .contains("Too many failed sign-ins")
            );
        }
    }
    assert_eq!(&statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], [429; 3], "{statuses:?}");
    // The right password from the locked source is refused too, before any check.
    let csrf = b.csrf("/console/sign-in").await;
    let res = b
        .post_with(
            "/console/sign-in",
            &[
                ("csrf", csrf.as_str()),
                ("email", "victim@example.com"),
                ("password", PASSWORD),
            ],
            &[
                ("Sec-Fetch-Site", "same-origin"),
                ("X-Forwarded-For", "10.9.9.9"),
            ],
        )
        .await;
    assert_eq!(res.status(), 429);
    // One audit event for the lockout, not one per refused request.
    let lockouts: Vec<_> = audit_events(&t, &s)
        .await
        .into_iter()
        .filter(|e| e["type"] == "source.locked_out")
        .collect();
    assert_eq!(lockouts.len(), 1, "{lockouts:?}");
    assert_eq!(lockouts[0]["details"]["source"], "10.9.9.9");
    assert_eq!(lockouts[0]["actor"]["type"], "system");
    // Another source is not affected.
    assert_eq!(
        attempt("guess@example.com".into(), "10.8.8.8")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn repeated_failures_for_one_email_get_429_from_any_source() {
    let mut t = Tessera::new();
    t.set("TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT", "3")
        .set("TESSERA__SERVER__TRUSTED_PROXIES", "127.0.0.1/32");
    let (s, _secret, _db, _) = enrolled(&t, "target@example.com").await;
    let b = Browser::new(&s);
    let mut statuses = Vec::new();
    for i in 0..5 {
        let csrf = b.csrf("/console/sign-in").await;
        let res = b
            .post_with(
                "/console/sign-in",
                &[
                    ("csrf", csrf.as_str()),
                    ("email", "Target@example.com"),
                    ("password", "wrong wrong wrong"),
                ],
                &[
                    ("Sec-Fetch-Site", "same-origin"),
                    ("X-Forwarded-For", &format!("10.7.7.{i}")),
                ],
            )
            .await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
}

#[tokio::test]
async fn tessera_admins_disable_ends_the_session_at_once() {
    let t = Tessera::new();
    let (s, secret, _db, _) = enrolled(&t, "gone@example.com").await;
    let b = Browser::new(&s);
    b.sign_in("gone@example.com", PASSWORD, &code(&secret, 1))
        .await;
    let out = t.cli(&["admins", "disable", "gone@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res = b.get("/console/account").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/sign-in");
    let res = Browser::new(&s)
        .password("gone@example.com", PASSWORD)
        .await;
    assert_eq!(res.status(), 401, "a disabled administrator cannot sign in");
    // Enabled again, their password works again (the code step follows).
    let out = t.cli(&["admins", "enable", "gone@example.com"]);
    assert!(out.status.success());
    let res = Browser::new(&s)
        .password("gone@example.com", PASSWORD)
        .await;
    assert_eq!(res.status(), 303);
}

/// Even where a disabled administrator's session rows are left (another replica's write, a
/// path that forgot them), every request checks the administrator is enabled.
#[tokio::test]
async fn a_session_is_refused_once_its_administrator_is_disabled() {
    let t = Tessera::new();
    let (s, secret, db, id) = enrolled(&t, "leaver@example.com").await;
    let b = Browser::new(&s);
    b.sign_in("leaver@example.com", PASSWORD, &code(&secret, 1))
        .await;
    let mut admin: entity::administrator::ActiveModel = administrator(&db, &id).await.into();
    admin.enabled = Set(false);
    admin.update(&db).await.unwrap();
    let res = b.get("/console/account").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/sign-in");
    let left = sessions_of(&db, &id).await;
    assert!(left.is_empty(), "the refused session is deleted");
    // And a disabled administrator cannot sign in again (the same message as any failure).
    let res = Browser::new(&s)
        .password("leaver@example.com", PASSWORD)
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_and_changes_nothing() {
    let t = Tessera::new();
    let (s, secret, db, id) = enrolled(&t, "origin@example.com").await;
    let b = Browser::new(&s);
    b.sign_in("origin@example.com", PASSWORD, &code(&secret, 1))
        .await;
    let csrf = b.csrf("/console/account").await;
    for (name, value) in [
        ("Sec-Fetch-Site", "cross-site"),
        ("Sec-Fetch-Site", "same-site"),
        ("Origin", "https://evil.example"),
        ("Origin", "null"),
    ] {
        let res = b
            .post_with(
                "/console/sign-out",
                &[("csrf", csrf.as_str())],
                &[(name, value)],
            )
            .await;
        assert_eq!(res.status(), 403, "{name}: {value}");
        assert_eq!(res.headers()["x-frame-options"], "DENY");
    }
    // No header at all is refused too.
    let res = b
        .post_with("/console/sign-out", &[("csrf", csrf.as_str())], &[])
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        b.get("/console/account").await.status(),
        200,
        "still signed in"
    );
    // A matching Origin (a browser without Fetch Metadata) passes.
    let res = b
        .post_with(
            "/console/sign-out",
            &[("csrf", csrf.as_str())],
            &[("Origin", s.url.as_str())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(b.get("/console/account").await.status(), 303);
    // A cross-origin sign-in with the right password starts no session.
    let other = Browser::new(&s);
    let csrf = other.csrf("/console/sign-in").await;
    let res = other
        .post_with(
            "/console/sign-in",
            &[
                ("csrf", csrf.as_str()),
                ("email", "origin@example.com"),
                ("password", PASSWORD),
            ],
            &[("Sec-Fetch-Site", "cross-site")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let sessions = sessions_of(&db, &id).await;
    assert!(sessions.is_empty(), "{}", sessions.len());
}

#[tokio::test]
async fn a_post_without_its_csrf_token_is_refused() {
    let t = Tessera::new();
    let (s, secret, _db, _) = enrolled(&t, "csrf@example.com").await;
    let b = Browser::new(&s);
    b.sign_in("csrf@example.com", PASSWORD, &code(&secret, 1))
        .await;
    assert_eq!(b.post("/console/sign-out", &[]).await.status(), 403);
    assert_eq!(
        b.post("/console/sign-out", &[("csrf", "wrong")])
            .await
            .status(),
        403
    );
    assert_eq!(
        b.get("/console/account").await.status(),
        200,
        "still signed in"
    );
    // The sign-in form needs its token too (login CSRF).
    let fresh = Browser::new(&s);
    let res = fresh
        .post(
            "/console/sign-in",
            &[("email", "csrf@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 403);
    let csrf = fresh.csrf("/console/sign-in").await;
    let res = fresh
        .post(
            "/console/sign-in",
            &[
                ("csrf", "not-it"),
                ("email", "csrf@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = fresh
        .post(
            "/console/sign-in",
            &[
                ("csrf", &csrf),
                ("email", "csrf@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // The code step without the session's token.
    let res = fresh
        .post("/console/sign-in/verify", &[("code", &code(&secret, 1))])
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn console_cookies_are_http_only_strict_and_scoped_to_the_console() {
    let t = Tessera::new();
    let (s, secret, _db, _) = enrolled(&t, "cookie@example.com").await;
    let b = Browser::new(&s);
    let res = b.password("cookie@example.com", PASSWORD).await;
    let set: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(set.len(), 1, "{set:?}");
    let c = &set[0];
    assert!(c.starts_with("tessera_session="), "{c}");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/console"));
    assert!(!c.contains("Secure"), "http issuer: {c}");
    let value = c["tessera_session=".len()..].split(';').next().unwrap();
    assert!(value.len() >= 43, "256 random bits");
    // Completing sign-in issues a new session id.
    let csrf = b.csrf("/console/sign-in/verify").await;
    let res = b
        .post(
            "/console/sign-in/verify",
            &[("csrf", &csrf), ("code", &code(&secret, 1))],
        )
        .await;
    let c = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        c.starts_with("tessera_session=") && !c.contains(value),
        "{c}"
    );

    // With an https issuer every console cookie is Secure.
    let mut https = t.sharing();
    https.set("TESSERA__ISSUER", "https://id.example.com");
    let s2 = https.serve();
    let res = Browser::new(&s2).get("/console/sign-in").await;
    let c = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        c.contains("Secure") && c.contains("HttpOnly") && c.contains("SameSite=Strict"),
        "{c}"
    );
}

#[tokio::test]
async fn every_console_response_carries_the_security_headers() {
    let t = Tessera::new();
    let s = t.serve();
    let b = Browser::new(&s);
    let page = b.get("/console/sign-in").await;
    let css_path = field(&page.text().await.unwrap(), "rel=\"stylesheet\" href=\"");
    for (path, status) in [
        ("/console/sign-in", 200),
        ("/console", 303),
        ("/console/nowhere", 404),
        ("/console/enroll/nope", 404),
    ] {
        let res = b.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let h = res.headers();
        assert_eq!(h["content-security-policy"], CSP, "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    let refused = b
        .http
        .post(s.url("/console/sign-out"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["content-security-policy"], CSP);
    // The stylesheet is ours, embedded, and cached for good under its content hash.
    assert!(css_path.starts_with("/console/assets/console.") && css_path.ends_with(".css"));
    let css = b.get(&css_path).await;
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(css.headers()["content-security-policy"], CSP);
    assert_eq!(b.get("/console/assets/console.old.css").await.status(), 404);
    // The page loads nothing from elsewhere and has no inline script or style.
    let html = b.get("/console/sign-in").await.text().await.unwrap();
    assert!(!html.contains("<script") && !html.contains("style=") && !html.contains("<style"));
}

#[tokio::test]
async fn sign_out_ends_the_server_session() {
    let t = Tessera::new();
    let (s, secret, db, id) = enrolled(&t, "bye@example.com").await;
    let b = Browser::new(&s);
    let res = b.password("bye@example.com", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let csrf = b.csrf("/console/sign-in/verify").await;
    let res = b
        .post(
            "/console/sign-in/verify",
            &[("csrf", &csrf), ("code", &code(&secret, 1))],
        )
        .await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(b.get("/console/account").await.status(), 200);
    let csrf = b.csrf("/console/account").await;
    let res = b.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie, replayed by a client that kept it, no longer works.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url("/console"))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    assert_eq!(location(&replay), "/console/sign-in");
    let rows = sessions_of(&db, &id).await;
    assert!(rows.is_empty());
    // Enrollment, sign-in and sign-out are audited with the administrator as actor.
    let events = audit_events(&t, &s).await;
    for (kind, details) in [
        (
            "administrator.enrolled",
            serde_json::json!({"second_factor": "totp"}),
        ),
        (
            "administrator.signed_in",
            serde_json::json!({"method": "totp"}),
        ),
        ("administrator.signed_out", serde_json::json!({})),
    ] {
        let e = events
            .iter()
            .find(|e| e["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {events:?}"));
        assert_eq!(e["actor"]["type"], "administrator", "{e}");
        assert_eq!(e["actor"]["id"], id.as_str(), "{e}");
        assert_eq!(e["target"], id.as_str(), "{e}");
        assert_eq!(e["details"], details, "{e}");
    }
}

/// Moves the administrator's session times back by `idle` (last use) and `age` (start).
async fn age_sessions(
    db: &DatabaseConnection,
    id: &str,
    idle: chrono::TimeDelta,
    age: chrono::TimeDelta,
) {
    use entity::admin_session::Column;
    let now = chrono::Utc::now();
    entity::admin_session::Entity::update_many()
        .col_expr(
            Column::LastSeenAt,
            sea_orm::sea_query::Expr::value(now - idle),
        )
        .col_expr(
            Column::CreatedAt,
            sea_orm::sea_query::Expr::value(now - age),
        )
        .filter(Column::AdministratorId.eq(id))
        .exec(db)
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_end_after_the_idle_and_the_absolute_timeouts() {
    use chrono::TimeDelta;
    let t = Tessera::new();
    let s = t.serve();
    let db = database(&t).await;
    // One administrator a phase: a code is accepted once, so one sign-in per step each.
    let mut people = Vec::new();
    for who in ["idle", "old", "half"] {
        let email = format!("{who}@example.com");
        let (id, token) = new_admin(&t, &email);
        let secret = Browser::new(&s).enroll(&token, PASSWORD).await;
        people.push((email, id, secret));
    }
    let [
        (idle, idle_id, idle_secret),
        (old, old_id, old_secret),
        (half, half_id, _),
    ] = &people[..]
    else {
        unreachable!()
    };
    let b = Browser::new(&s);
    b.sign_in(idle, PASSWORD, &code(idle_secret, 1)).await;
    // Used 29 minutes ago, begun 7 hours ago: still live (defaults 30 min and 8 h).
    age_sessions(&db, idle_id, TimeDelta::minutes(29), TimeDelta::hours(7)).await;
    assert_eq!(b.get("/console/account").await.status(), 200);
    // Idle for 31 minutes: over.
    age_sessions(&db, idle_id, TimeDelta::minutes(31), TimeDelta::hours(1)).await;
    assert_eq!(b.get("/console/account").await.status(), 303);

    // Used a second ago, but begun 8 hours and a minute ago: over.
    let b = Browser::new(&s);
    b.sign_in(old, PASSWORD, &code(old_secret, 1)).await;
    age_sessions(
        &db,
        old_id,
        TimeDelta::seconds(1),
        TimeDelta::minutes(8 * 60 + 1),
    )
    .await;
    assert_eq!(b.get("/console/account").await.status(), 303);

    // A half-done sign-in lasts five minutes.
    let b = Browser::new(&s);
    assert_eq!(b.password(half, PASSWORD).await.status(), 303);
    assert_eq!(b.get("/console/sign-in/verify").await.status(), 200);
    age_sessions(&db, half_id, TimeDelta::seconds(1), TimeDelta::minutes(6)).await;
    let res = b.get("/console/sign-in/verify").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/console/sign-in");
}

#[tokio::test]
async fn a_new_password_ends_every_session() {
    let t = Tessera::new();
    let (s, secret, _db, _id) = enrolled(&t, "again@example.com").await;
    let b = Browser::new(&s);
    b.sign_in("again@example.com", PASSWORD, &code(&secret, 1))
        .await;
    // A new enrollment link (a lost authenticator, say) sets a new password and factor.
    let token = reenroll(&t, "again@example.com");
    let other = Browser::new(&s);
    let new_secret = other.enroll(&token, "another long passphrase").await;
    assert_ne!(new_secret, secret);
    assert_eq!(
        b.get("/console/account").await.status(),
        303,
        "the old session ended"
    );
    let res = other.password("again@example.com", PASSWORD).await;
    assert_eq!(res.status(), 401, "the old password no longer works");
    other
        .sign_in(
            "again@example.com",
            "another long passphrase",
            &code(&new_secret, 1),
        )
        .await;
}

/// A JSON POST of the passkey script: CSRF token in `X-CSRF-Token`.
async fn post_json(
    b: &Browser,
    path: &str,
    csrf: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    b.http
        .post(format!("{}{path}", b.base))
        .header("Sec-Fetch-Site", "same-origin")
        .header("X-CSRF-Token", csrf)
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_passkey_is_added_when_signed_in_and_then_serves_as_the_second_factor() {
    use webauthn_authenticator_rs::WebauthnAuthenticator;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;
    use webauthn_rs::prelude::{
        CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, Url,
    };
    // WebAuthn needs a domain: the issuer is http://localhost:PORT.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    let mut t = Tessera::new();
    t.set("TESSERA__SERVER__BIND", &format!("127.0.0.1:{port}"))
        .set("TESSERA__ISSUER", &origin);
    let (s, secret, db, id) = enrolled(&t, "keys@example.com").await;
    let b = Browser::new(&s);
    b.sign_in("keys@example.com", PASSWORD, &code(&secret, 1))
        .await;
    let csrf = b.csrf("/console/account").await;
    let empty = serde_json::json!({});

    // The script's calls need the CSRF header.
    let res = post_json(&b, "/console/passkeys/options", "", &empty).await;
    assert_eq!(res.status(), 403);
    let res = post_json(&b, "/console/passkeys/options", &csrf, &empty).await;
    assert_eq!(res.status(), 200);
    let options: CreationChallengeResponse = res.json().await.unwrap();
    let mut authenticator = SoftPasskey::new(true);
    let created = authenticator
        .do_registration(Url::parse(&origin).unwrap(), options)
        .unwrap();
    let res = post_json(
        &b,
        "/console/passkeys",
        &csrf,
        &serde_json::json!({"name": "Laptop", "credential": created}),
    )
    .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let stored = entity::passkey::Entity::find()
        .filter(entity::passkey::Column::AdministratorId.eq(id.clone()))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "Laptop");

    // Sign-in again, this time with the passkey.
    let other = Browser::new(&s);
    assert_eq!(
        other.password("keys@example.com", PASSWORD).await.status(),
        303
    );
    let page = other
        .get("/console/sign-in/verify")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(">Use a passkey</button>"));
    assert!(page.contains("<script src=\"/console/assets/passkey."));
    let csrf = field(&page, "name=\"csrf\" value=\"");
    let res = post_json(&other, "/console/sign-in/passkey/options", &csrf, &empty).await;
    assert_eq!(res.status(), 200);
    let options: RequestChallengeResponse = res.json().await.unwrap();
    let assertion: PublicKeyCredential = authenticator
        .do_authentication(Url::parse(&origin).unwrap(), options)
        .unwrap();
    let assertion = serde_json::to_value(&assertion).unwrap();
    let res = post_json(&other, "/console/sign-in/passkey", &csrf, &assertion).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("tessera_session=")
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["location"], "/console");
    assert_eq!(other.get("/console/account").await.status(), 200);

    // The same assertion, replayed in another sign-in, is refused like any wrong factor.
    let third = Browser::new(&s);
    assert_eq!(
        third.password("keys@example.com", PASSWORD).await.status(),
        303
    );
    let csrf = third.csrf("/console/sign-in/verify").await;
    let res = post_json(&third, "/console/sign-in/passkey/options", &csrf, &empty).await;
    assert_eq!(res.status(), 200);
    let res = post_json(&third, "/console/sign-in/passkey", &csrf, &assertion).await;
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        body["error"],
        "Incorrect email, password or authentication code."
    );
    assert_eq!(third.get("/console/account").await.status(), 303);

    // Adding a passkey needs a second factor within console.reauth_minutes (10).
    entity::admin_session::Entity::update_many()
        .col_expr(
            entity::admin_session::Column::SecondFactorAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::TimeDelta::minutes(11)),
        )
        .filter(entity::admin_session::Column::AdministratorId.eq(id))
        .exec(&db)
        .await
        .unwrap();
    let csrf = other.csrf("/console/account").await;
    let res = post_json(&other, "/console/passkeys/options", &csrf, &empty).await;
    assert_eq!(res.status(), 403);
}

/// The upstream OpenID provider of tests/oidc (node-oidc-provider), on a free port; killed
/// when dropped.
struct Provider {
    url: String,
    child: std::process::Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn start(client_id: &str, client_secret: &str, redirect_uri: &str) -> Provider {
        use std::io::BufRead;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        // Once per test process: tests run in parallel threads, and two `npm ci` in one
        // folder would trip over each other.
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            if !dir.join("node_modules/oidc-provider").is_dir() {
                let ok = std::process::Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .status()
                    .expect("npm (Node.js) is needed for the OpenID Connect tests");
                assert!(ok.success(), "npm ci in tests/oidc failed");
            }
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("node")
            .arg("provider.mjs")
            .args([&port.to_string(), client_id, client_secret, redirect_uri])
            .current_dir(&dir)
            .env("NODE_ENV", "development")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node");
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        // Keep reading: a provider writing to a closed pipe would die.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let url = line
            .trim()
            .strip_prefix("oidc provider listening on ")
            .unwrap_or_else(|| panic!("provider did not start: {line:?}"))
            .to_owned();
        Provider { url, child }
    }
}

/// A Tessera whose console signs in through `provider`, on a known port (its callback URL is
/// registered at the provider before Tessera starts).
fn with_provider(secret: &str) -> (Tessera, Provider) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let provider = Provider::start(
        "tessera-console",
        secret,
        &format!("{issuer}/console/sign-in/oidc/callback"),
    );
    let mut t = Tessera::new();
    t.set("TESSERA__SERVER__BIND", &format!("127.0.0.1:{port}"))
        .set("TESSERA__CONSOLE__OIDC__ISSUER", &provider.url)
        .set("TESSERA__CONSOLE__OIDC__CLIENT_ID", "tessera-console")
        .set("TESSERA__CONSOLE__OIDC__CLIENT_SECRET", secret);
    (t, provider)
}

/// Signs in at the provider's development login as `login`, starting from Tessera's
/// "Sign in with single sign-on"; returns Tessera's answer to the callback.
async fn upstream_sign_in(http: &reqwest::Client, s: &Server, login: &str) -> reqwest::Response {
    // Tessera → provider → its login page (redirects followed, cookies kept for both).
    let page = http
        .get(s.url("/console/sign-in/oidc"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "{} → {:?}",
        page.url(),
        page.headers().get("location")
    );
    let login_url = page.url().clone();
    assert!(login_url.path().starts_with("/interaction/"), "{login_url}");
    let consent = http
        .post(login_url)
        .form(&[("prompt", "login"), ("login", login), ("password", "any")])
        .send()
        .await
        .unwrap();
    let consent_url = consent.url().clone();
    assert!(
        consent_url.path().starts_with("/interaction/"),
        "{consent_url}"
    );
    // Consent: the provider then redirects to Tessera's callback.
    http.post(consent_url)
        .form(&[("prompt", "consent")])
        .send()
        .await
        .unwrap()
}

fn oidc_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_upstream_openid_sign_in_works_for_an_existing_enabled_administrator_only() {
    let (t, _provider) = with_provider("upstream-secret");
    let (_, ada_token) = new_admin(&t, "ada@example.com");
    new_admin(&t, "unverified@example.com");
    let s = t.serve();
    let ada_secret = Browser::new(&s).enroll(&ada_token, PASSWORD).await;
    let page = Browser::new(&s)
        .get("/console/sign-in")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("href=\"/console/sign-in/oidc\">Sign in with single sign-on</a>"));

    let http = oidc_browser();
    let res = upstream_sign_in(&http, &s, "Ada@example.com").await;
    assert_eq!(res.status(), 200, "{}", s.log());
    assert!(res.url().path().ends_with("/console/sign-in/oidc/callback"));
    let html = res.text().await.unwrap();
    // The provider stands for the password only: the second factor is still asked for.
    assert!(
        html.contains("http-equiv=\"refresh\" content=\"0; url=/console/sign-in/verify\""),
        "{html}"
    );
    let half = http.get(s.url("/console/account")).send().await.unwrap();
    assert!(
        half.url().path().ends_with("/console/sign-in/verify")
            || half.url().path().ends_with("/console/sign-in"),
        "a single sign-on without the second factor grants nothing: {}",
        half.url()
    );
    let verify = http
        .get(s.url("/console/sign-in/verify"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&verify, "name=\"csrf\" value=\"");
    let done = http
        .post(s.url("/console/sign-in/verify"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", code(&ada_secret, 1).as_str()),
        ])
        .send()
        .await
        .unwrap();
    // Verified: on to the console (Ada has no project yet, so its Clients page refuses).
    assert_eq!(done.url().path(), "/console/clients", "{}", done.status());
    let home = http.get(s.url("/console/account")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("(ada@example.com)"));

    // Nobody is created on the fly; an unverified email does not count; nor a disabled one.
    for login in ["stranger@example.com", "unverified@example.com"] {
        let http = oidc_browser();
        let res = upstream_sign_in(&http, &s, login).await;
        assert_eq!(res.status(), 401, "{login}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Single sign-on did not sign you in")
        );
        let home = http.get(s.url("/console")).send().await.unwrap();
        assert!(home.url().path().ends_with("/console/sign-in"), "{login}");
    }
    assert!(
        t.cli(&["admins", "disable", "ada@example.com"])
            .status
            .success()
    );
    let http = oidc_browser();
    assert_eq!(
        upstream_sign_in(&http, &s, "ada@example.com")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn an_upstream_answer_not_begun_in_this_browser_is_refused() {
    let (t, _provider) = with_provider("upstream-secret");
    new_admin(&t, "ada@example.com");
    let s = t.serve();
    // An attacker's own finished flow (code and state), replayed in the victim's browser.
    let stop_at_callback = || {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::custom(|a| {
                if a.url().path().ends_with("/oidc/callback") {
                    a.stop()
                } else {
                    a.follow()
                }
            }))
            .build()
            .unwrap()
    };
    let attacker = stop_at_callback();
    let res = upstream_sign_in(&attacker, &s, "ada@example.com").await;
    assert_eq!(res.status(), 303);
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.contains("code=") && callback.contains("state="),
        "{callback}"
    );
    let victim = oidc_browser();
    let res = victim.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let home = victim.get(s.url("/console")).send().await.unwrap();
    assert!(home.url().path().ends_with("/console/sign-in"));
    // A tampered state in the attacker's own browser is refused too.
    let attacker = stop_at_callback();
    let res = upstream_sign_in(&attacker, &s, "ada@example.com").await;
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    let tampered = callback.replace("state=", "state=x");
    assert_eq!(attacker.get(&tampered).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn twenty_wrong_codes_lock_the_second_factor_for_the_day_whatever_the_other_limits() {
    let mut t = Tessera::new();
    // The per-email and per-source limits out of the way: the daily second-factor limit alone.
    t.set("TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT", "100000")
        .set("TESSERA__LIMITS__FAILED_AUTH_PER_SOURCE", "100000");
    let (s, secret, _db, _id) = enrolled(&t, "ada@example.com").await;
    let b = Browser::new(&s);
    let res = b.password("ada@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/console/sign-in/verify");
    let wrong = code(&secret, 5);
    let mut refused_at = None;
    for i in 1..=21 {
        let res = b.code(&wrong).await;
        match res.status().as_u16() {
            401 => {}
            429 => {
                assert!(res.headers().contains_key("retry-after"));
                refused_at = Some(i);
                break;
            }
            other => panic!("wrong code {i}: {other}"),
        }
    }
    assert_eq!(
        refused_at,
        Some(21),
        "20 wrong codes a day are allowed, the 21st is refused"
    );
    // Even the right code is refused now, from a fresh password step too.
    let b = Browser::new(&s);
    let res = b.password("ada@example.com", PASSWORD).await;
    assert_eq!(location(&res), "/console/sign-in/verify");
    let res = b.code(&code(&secret, 1)).await;
    assert_eq!(res.status(), 429);
    assert_eq!(b.get("/console/account").await.status(), 303);
}
