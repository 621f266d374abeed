//! A browser for the console's tests: keeps cookies, follows no redirect, sends
//! `Sec-Fetch-Site: same-origin` on its POSTs as browsers do for a form of the same page; and
//! small readers of the pages it gets. Use with `#[path = "common/console.rs"] mod console;`
//! next to `mod common;`.
#![allow(dead_code)]

use crate::common::{Server, Tessera};

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    /// The TOTP secret (base32) once enrolled.
    pub totp: String,
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
            totp: String::new(),
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

    /// Enrolls with the real enrollment page, with the code of the previous time step (so
    /// that sign-in and one re-authentication each have a later, unused step).
    pub async fn enroll(&mut self, token: &str) {
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
                    ("code", &code(&secret, -1)),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        self.totp = secret;
    }

    /// Signs in with the password and the current step's code.
    pub async fn sign_in(&self, email: &str) {
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
                &[("csrf", &csrf), ("code", &code(&self.totp, 0))],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    }

    /// Re-authenticates on the real page with the next step's code; answers where it went.
    pub async fn reauth(&self, then: &str) -> String {
        let csrf = self.csrf("/console/account").await;
        let res = self
            .post(
                "/console/reauth",
                &[
                    ("csrf", &csrf),
                    ("then", then),
                    ("code", &code(&self.totp, 1)),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        location(&res)
    }
}

/// An administrator made by the CLI with `extra` arguments (`--project P --role R`,
/// `--superadmin`), enrolled and signed in; returns the browser and their id.
pub async fn signed_in(t: &Tessera, s: &Server, email: &str, extra: &[&str]) -> (Browser, String) {
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
    let token = url.rsplit('/').next().unwrap();
    let mut b = Browser::new(s);
    b.enroll(token).await;
    b.sign_in(email).await;
    (b, v["id"].as_str().unwrap().to_owned())
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

/// The cells of the table body, row by row (tags stripped, text as served: still escaped).
pub fn rows(html: &str) -> Vec<Vec<String>> {
    let body = &html[html.find("<tbody>").expect("a table") + 7..];
    let body = &body[..body.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let cell = &cell[cell.find('>').unwrap() + 1..];
                    text_of(&cell[..cell.find("</td>").unwrap()])
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

/// The first column of the table's rows.
pub fn names(html: &str) -> Vec<String> {
    rows(html).into_iter().map(|r| r[0].clone()).collect()
}

/// Texts of the page's alerts.
pub fn alerts(html: &str) -> String {
    html.split("role=\"alert\"")
        .skip(1)
        .map(|rest| {
            let text = &rest[rest.find('>').unwrap() + 1..];
            text[..text.find("</p>").unwrap()].to_owned()
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The page's `<h1>`.
pub fn h1(html: &str) -> String {
    let start = html.find("<h1>").expect("an h1") + 4;
    text_of(&html[start..start + html[start..].find("</h1>").unwrap()])
}
