//! The console as a browser sees it, for the tests of its pages: a cookie-keeping client
//! that sends what browsers send, enrollment and sign-in through the real pages, TOTP codes
//! computed independently, and small readers of the served HTML.

use super::{Server, Tessera};

pub const PASSWORD: &str = "correct horse battery staple";

/// A browser: keeps cookies, does not follow redirects, and sends
/// `Sec-Fetch-Site: same-origin` on its POSTs as browsers do for a form of the same page.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(s: &Server) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.url.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    /// The body of a page that must answer 200.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().await.unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the form on `path`.
    pub async fn csrf(&self, path: &str) -> String {
        field(&self.page(path).await, "name=\"csrf\" value=\"")
    }

    /// Enrolls with the real enrollment page; returns the TOTP secret (base32).
    pub async fn enroll(&self, token: &str) -> String {
        let path = format!("/console/enroll/{token}");
        let html = self.page(&path).await;
        let secret = field(&html, "id=\"totp-key\" type=\"text\" readonly value=\"");
        let csrf = field(&html, "name=\"csrf\" value=\"");
        let res = self
            .post(
                &path,
                &[
                    ("csrf", &csrf),
                    ("password", PASSWORD),
                    ("code", &code(&secret, 0)),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        secret
    }

    /// Signs in with the password and the next step's code.
    pub async fn sign_in(&self, email: &str, secret: &str) {
        let csrf = self.csrf("/console/sign-in").await;
        let res = self
            .post(
                "/console/sign-in",
                &[("csrf", &csrf), ("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/console/sign-in/verify");
        let csrf = self.csrf("/console/sign-in/verify").await;
        let res = self
            .post(
                "/console/sign-in/verify",
                &[("csrf", &csrf), ("code", &code(secret, 1))],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    }
}

/// The value following `marker` up to the next quote.
pub fn field(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

/// The TOTP code for now plus `offset_steps` steps, computed independently with totp-rs.
pub fn code(secret_base32: &str, offset_steps: i64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret_base32).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    let now = chrono::Utc::now().timestamp() + offset_steps * 30;
    totp.generate(now as u64).to_string()
}

/// The cells of the first table body, row by row (tags stripped, text as served: still
/// escaped); none without a table.
pub fn rows(html: &str) -> Vec<Vec<String>> {
    let Some(start) = html.find("<tbody>") else {
        return Vec::new();
    };
    let body = &html[start + 7..];
    let body = &body[..body.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td>")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[..cell.find("</td>").unwrap()];
                    text_of(cell)
                })
                .collect()
        })
        .collect()
}

/// The text of an HTML fragment: its tags dropped.
pub fn text_of(fragment: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The names (first column) of the table's rows.
pub fn names(html: &str) -> Vec<String> {
    rows(html).into_iter().map(|r| r[0].clone()).collect()
}

/// Texts of the page's alerts.
pub fn alerts(html: &str) -> String {
    html.split("role=\"alert\"")
        .skip(1)
        .map(|rest| text_of(&rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()]))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// An administrator of `project` with `role` and a ceiling, enrolled and signed in.
pub async fn signed_in(
    t: &Tessera,
    s: &Server,
    email: &str,
    project: &str,
    role: &str,
    scopes: &str,
) -> (Browser, String) {
    let (b, id, _) = signed_in_with_totp(t, s, email, project, role, scopes).await;
    (b, id)
}

/// [`signed_in`], also returning the person's TOTP secret (base32).
pub async fn signed_in_with_totp(
    t: &Tessera,
    s: &Server,
    email: &str,
    project: &str,
    role: &str,
    scopes: &str,
) -> (Browser, String, String) {
    let v = t.cli_json(&[
        "admins",
        "create",
        "--email",
        email,
        "--display-name",
        "Ada Lovelace",
        "--project",
        project,
        "--role",
        role,
        "--scopes",
        scopes,
    ]);
    let url = v["enrollment_url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap();
    let b = Browser::new(s);
    let secret = b.enroll(token).await;
    b.sign_in(email, &secret).await;
    (b, v["id"].as_str().unwrap().to_owned(), secret)
}

/// Pretends the session's last second factor was `minutes` ago (the re-authentication window
/// is at least a minute: waiting it out would only slow the suite).
pub async fn age_second_factor(t: &Tessera, administrator_id: &str, minutes: i64) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let url = t
        .env
        .iter()
        .find(|(k, _)| k == "TESSERA__DATABASE__URL")
        .map(|(_, v)| v.clone())
        .unwrap();
    let db = tessera::store::connect(&url).await.unwrap();
    entity::admin_session::Entity::update_many()
        .col_expr(
            entity::admin_session::Column::SecondFactorAt,
            sea_orm::sea_query::Expr::value(
                chrono::Utc::now() - chrono::TimeDelta::minutes(minutes),
            ),
        )
        .filter(entity::admin_session::Column::AdministratorId.eq(administrator_id))
        .exec(&db)
        .await
        .unwrap();
}

/// A TOTP code not used yet: sign-in used the next step's code, and a step is accepted once,
/// so wait for the step after it to come within reach.
pub async fn fresh_code(secret: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let wait = 30 - now % 30;
    tokio::time::sleep(std::time::Duration::from_secs(wait as u64 + 1)).await;
    code(secret, 1)
}

/// A project with an API `{project}-orders` (read, write) and `{project}-reports` (read).
pub fn project(t: &Tessera, name: &str) {
    t.cli_json(&["projects", "create", name]);
    for (api, permissions) in [("orders", "read,write"), ("reports", "read")] {
        t.cli_json(&[
            "apis",
            "create",
            "--name",
            &format!("{name}-{api}"),
            "--audience",
            &format!("https://api.example.com/{name}/{api}"),
            "--permissions",
            permissions,
            "--project",
            name,
        ]);
    }
}

/// A client made by the CLI in `project`; returns its id and secret.
pub fn cli_client(t: &Tessera, project: &str, name: &str) -> (String, String) {
    let v = t.cli_json(&["clients", "create", "--name", name, "--project", project]);
    (
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    )
}
