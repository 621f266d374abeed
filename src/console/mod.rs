//! The web console (`/console`, SPEC §8): server-rendered pages (askama: templates checked at
//! compile time, escaped by default) that work without JavaScript. This slice holds sign-in,
//! enrollment, sign-out, the Account page and the Clients pages; every response carries the security headers of §8, and every POST
//! must come from the console's own origin and carry the CSRF token of its session.

mod account;
mod audit;
mod catalog;
mod client;
mod clients;
mod enroll;
mod error;
mod fields;
mod keys;
mod layout;
mod oidc;
mod pages;
mod passkeys;
mod people;
mod projects;
mod reauth;

use std::sync::LazyLock;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Service;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;

pub use error::ConsoleError;

use crate::signin::sessions::{self, Session};
use crate::state::AppState;

/// An asset embedded in the binary, served under a name that carries its content hash, so it
/// can be cached for good and a new build never meets a stale copy.
struct Asset {
    path: String,
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, ext: &str, body: &'static str, content_type: &'static str) -> Self {
        let tag: String = crate::strong_etag(body.as_bytes())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        Asset {
            path: format!("/console/assets/{stem}.{tag}.{ext}"),
            body,
            content_type,
        }
    }
}

static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "css",
        include_str!("console.css"),
        "text/css; charset=utf-8",
    )
});

/// Passkey ceremonies in the browser (progressive enhancement).
static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "passkey",
        "js",
        include_str!("passkey.js"),
        "text/javascript; charset=utf-8",
    )
});

/// Copy buttons and confirmation dialogs (progressive enhancement).
static CONSOLE_JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "js",
        include_str!("console.js"),
        "text/javascript; charset=utf-8",
    )
});

/// htmx, vendored (`vendor/htmx.md`: version, source and SHA-256): inline updates.
const HTMX_SOURCE: &str = include_str!("vendor/htmx-2.0.11.min.js");

static HTMX: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "htmx-2.0.11",
        "js",
        HTMX_SOURCE,
        "text/javascript; charset=utf-8",
    )
});

/// The Content-Security-Policy of every console response (SPEC §8).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Console form bodies are small.
const FORM_LIMIT: usize = 16 * 1024;

/// Name of the cookie holding the sign-in form's CSRF token (double submit: no session
/// exists before the password is checked).
const SIGN_IN_CSRF_COOKIE: &str = "tessera_signin_csrf";

/// Every console route, under `/console`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            .app_data(
                web::FormConfig::default()
                    .limit(FORM_LIMIT)
                    .error_handler(|_, _| ConsoleError::BadForm.into()),
            )
            .app_data(
                web::JsonConfig::default()
                    .limit(FORM_LIMIT * 4)
                    .error_handler(|_, _| ConsoleError::BadForm.into()),
            )
            .wrap_fn(|req, srv| {
                // SPEC §8: a state-changing request must come from the console's own origin;
                // otherwise 403 and nothing changes (the handler never runs).
                let refused = !req.method().is_safe()
                    && !req
                        .app_data::<web::Data<AppState>>()
                        .is_some_and(|s| same_origin(req.request(), &s.issuer));
                let outcome = if refused {
                    Err(req.into_response(ConsoleError::Forbidden.error_response()))
                } else {
                    Ok(srv.call(req))
                };
                async move {
                    let mut res = match outcome {
                        Err(refusal) => refusal,
                        Ok(call) => call.await?,
                    };
                    htmx_redirect(&mut res);
                    security_headers(res.headers_mut());
                    Ok(res)
                }
            })
            .route("", web::get().to(pages::home))
            .route("/", web::get().to(pages::home))
            .route("/project", web::post().to(layout::switch))
            .route("/reauth", web::get().to(reauth::form))
            .route("/reauth", web::post().to(reauth::submit))
            .route("/clients", web::get().to(clients::list))
            .route("/clients", web::post().to(clients::create))
            .route("/clients/new", web::get().to(clients::new))
            .route("/clients/{id}", web::get().to(client::show))
            .route("/clients/{id}", web::post().to(client::update))
            .route("/clients/{id}/enabled", web::post().to(client::set_enabled))
            .route("/clients/{id}/secret", web::get().to(client::secret))
            .route("/clients/{id}/secrets", web::post().to(client::add_secret))
            .route(
                "/clients/{id}/secrets/{secret}/delete",
                web::get().to(client::delete_secret_confirm),
            )
            .route(
                "/clients/{id}/secrets/{secret}/delete",
                web::post().to(client::delete_secret),
            )
            .route("/clients/{id}/reset", web::get().to(client::reset_confirm))
            .route("/clients/{id}/reset", web::post().to(client::reset))
            .route(
                "/clients/{id}/delete",
                web::get().to(client::delete_confirm),
            )
            .route("/clients/{id}/delete", web::post().to(client::delete))
            // Pages: administrators, account.
            .service(
                web::resource("/administrators")
                    .get(people::list)
                    .post(people::create),
            )
            .route("/administrators/new", web::get().to(people::new))
            .route("/administrators/{id}", web::get().to(people::detail))
            .route(
                "/administrators/{id}/enabled",
                web::post().to(people::set_enabled),
            )
            .route(
                "/administrators/{id}/enrollment",
                web::post().to(people::reissue),
            )
            .service(
                web::resource("/administrators/{id}/delete")
                    .get(people::confirm_delete)
                    .post(people::delete),
            )
            .service(
                web::resource("/administrators/{id}/membership")
                    .get(people::membership)
                    .post(people::save_membership),
            )
            .service(
                web::resource("/administrators/{id}/membership/remove")
                    .get(people::confirm_remove)
                    .post(people::remove),
            )
            .route("/account", web::get().to(account::page))
            .route(
                "/account/password",
                web::post().to(account::change_password),
            )
            .service(
                web::resource("/account/passkeys/{id}/remove")
                    .get(account::confirm_remove_passkey)
                    .post(account::remove_passkey),
            )
            .route(
                "/account/sign-out-everywhere",
                web::post().to(account::sign_out_everywhere),
            )
            // Pages: APIs, roles, projects, keys, audit log.
            .route("/apis", web::get().to(catalog::apis))
            .route("/apis", web::post().to(catalog::api_create))
            .route("/apis/_new", web::get().to(catalog::api_new))
            .route("/apis/{name}", web::get().to(catalog::api_show))
            .route("/apis/{name}", web::post().to(catalog::api_update))
            .route(
                "/apis/{name}/delete",
                web::get().to(catalog::api_delete_confirm),
            )
            .route("/apis/{name}/delete", web::post().to(catalog::api_delete))
            .route("/roles", web::get().to(catalog::roles))
            .route("/roles", web::post().to(catalog::role_create))
            .route("/roles/new", web::get().to(catalog::role_new))
            .route("/roles/{project}/{name}", web::get().to(catalog::role_show))
            .route(
                "/roles/{project}/{name}",
                web::post().to(catalog::role_update),
            )
            .route(
                "/roles/{project}/{name}/delete",
                web::get().to(catalog::role_delete_confirm),
            )
            .route(
                "/roles/{project}/{name}/delete",
                web::post().to(catalog::role_delete),
            )
            .route("/projects", web::get().to(projects::list))
            .route("/projects", web::post().to(projects::create))
            .route("/projects/_new", web::get().to(projects::new))
            .route("/projects/{name}", web::get().to(projects::show))
            .route("/projects/{name}", web::post().to(projects::update))
            .route(
                "/projects/{name}/delete",
                web::get().to(projects::delete_confirm),
            )
            .route("/projects/{name}/delete", web::post().to(projects::delete))
            .route("/keys", web::get().to(keys::list))
            .route("/keys/rotate", web::get().to(keys::rotate_confirm))
            .route("/keys/rotate", web::post().to(keys::rotate))
            .route("/audit", web::get().to(audit::list))
            .route("/sign-in", web::get().to(pages::sign_in_form))
            .route("/sign-in", web::post().to(pages::sign_in))
            .route("/sign-in/oidc", web::get().to(oidc::begin))
            .route("/sign-in/oidc/callback", web::get().to(oidc::callback))
            .route("/sign-in/verify", web::get().to(pages::verify_form))
            .route("/sign-in/verify", web::post().to(pages::verify))
            .route(
                "/sign-in/passkey/options",
                web::post().to(passkeys::sign_in_options),
            )
            .route("/sign-in/passkey", web::post().to(passkeys::sign_in))
            .route(
                "/passkeys/options",
                web::post().to(passkeys::register_options),
            )
            .route("/passkeys", web::post().to(passkeys::register))
            .route("/sign-out", web::post().to(pages::sign_out))
            .route("/enroll/{token}", web::get().to(enroll::form))
            .route("/enroll/{token}", web::post().to(enroll::submit))
            .route("/assets/{name}", web::get().to(asset))
            .default_service(web::to(|| async {
                ConsoleError::NotFound.error_response()
            })),
    );
}

/// htmx follows a redirect inside its request and would swap the page it lands on (the
/// sign-in page, say) into a fragment's place: tell it to navigate instead.
fn htmx_redirect(res: &mut actix_web::dev::ServiceResponse) {
    if res.status() != actix_web::http::StatusCode::SEE_OTHER
        || !res.request().headers().contains_key("hx-request")
    {
        return;
    }
    let Some(to) = res.headers().get(header::LOCATION).cloned() else {
        return;
    };
    *res.response_mut().status_mut() = actix_web::http::StatusCode::OK;
    res.headers_mut().remove(header::LOCATION);
    res.headers_mut()
        .insert(header::HeaderName::from_static("hx-redirect"), to);
}

fn security_headers(headers: &mut header::HeaderMap) {
    use header::{HeaderName, HeaderValue};
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Pages show data: never stored. Assets set their own (long) caching.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
}

/// The origin rule of SPEC §8: `Sec-Fetch-Site: same-origin`, or, from a browser that does not
/// send it, an `Origin` equal to the issuer's origin. Nothing else passes (`Origin: null`
/// included).
pub fn same_origin(req: &HttpRequest, issuer: &str) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    url::Url::parse(issuer).is_ok_and(|u| {
        let ours = u.origin();
        ours.is_tuple() && ours.ascii_serialization() == origin
    })
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    let wanted = format!("/console/assets/{name}");
    let Some(asset) = [&*CSS, &*JS, &*CONSOLE_JS, &*HTMX]
        .into_iter()
        .find(|a| a.path == wanted)
    else {
        return ConsoleError::NotFound.error_response();
    };
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(asset.body)
}

/// Renders a page with `status`.
fn render(status: actix_web::http::StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "rendering a console page failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// `303 See Other` to `to` (POST → redirect → GET).
fn see_other(to: &str) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, to.to_owned()));
    res
}

/// A console cookie: `HttpOnly`, `SameSite=Strict`, `Path=/console`, and `Secure` whenever the
/// issuer is https. No expiry: the server ends sessions, the browser forgets it on exit.
fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.issuer.starts_with("https://"))
        .finish()
}

/// A cookie that tells the browser to drop `name`.
fn removal(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(state, name, String::new());
    c.make_removal();
    c
}

/// A signed-in administrator's session: the extractor of every console page that shows or
/// changes anything. Without one, the answer is a redirect to the sign-in page.
pub struct SignedIn(pub Session);

impl actix_web::FromRequest for SignedIn {
    type Error = ConsoleError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or(ConsoleError::Unavailable)?;
            match current_session(state, &req).await? {
                Some(s) if s.signed_in() => Ok(SignedIn(s)),
                _ => Err(ConsoleError::SignInRequired),
            }
        })
    }
}

impl SignedIn {
    /// The CSRF token a form carried must be this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        if self.0.csrf_matches(presented) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    /// Sensitive changes (SPEC §7: resetting a secret, deleting a client, memberships,
    /// ceilings, keys) need a second factor within `console.reauth_minutes`.
    pub fn check_recent_second_factor(&self, state: &AppState) -> Result<(), ConsoleError> {
        if self
            .0
            .reauthenticated_within(state.settings.console.reauth, chrono::Utc::now())
        {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }
}

/// The session the request's cookie names, if it is live (half-done sign-ins included).
async fn current_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<Session>, ConsoleError> {
    let Some(c) = req.cookie(sessions::COOKIE) else {
        return Ok(None);
    };
    Ok(sessions::load(
        &state.db,
        &state.settings.console,
        c.value(),
        chrono::Utc::now(),
    )
    .await?)
}

/// `path` as it may appear in a log line: the token of an enrollment link is a credential.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/console/enroll/") {
        Some(token) if !token.is_empty() => "/console/enroll/[redacted]".into(),
        _ => path.into(),
    }
}

/// The client's address, as the token endpoint sees it (`server.trusted_proxies`).
fn source(state: &AppState, req: &HttpRequest) -> Option<std::net::IpAddr> {
    crate::oauth::request::source_address(
        req.peer_addr().map(|a| a.ip()),
        req.headers()
            .get_all("x-forwarded-for")
            .map(|v| v.as_bytes()),
        &state.settings.trusted_proxies,
    )
}

/// The path of the stylesheet, for templates.
fn css() -> &'static str {
    &CSS.path
}

/// The path of the passkey script, for templates.
fn js() -> &'static str {
    &JS.path
}

/// The path of the console's script, for templates.
fn console_js() -> &'static str {
    &CONSOLE_JS.path
}

/// The path of htmx, for templates.
fn htmx_js() -> &'static str {
    &HTMX.path
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn the_origin_rule_takes_fetch_metadata_first_then_an_exact_origin() {
        let issuer = "https://id.example.com/tessera";
        let req = |headers: &[(&str, &str)]| {
            let mut r = TestRequest::post();
            for h in headers {
                r = r.insert_header(*h);
            }
            r.to_http_request()
        };
        assert!(same_origin(
            &req(&[("Sec-Fetch-Site", "same-origin")]),
            issuer
        ));
        assert!(!same_origin(
            &req(&[("Sec-Fetch-Site", "same-site")]),
            issuer
        ));
        // Fetch metadata wins over a matching Origin.
        assert!(!same_origin(
            &req(&[
                ("Sec-Fetch-Site", "cross-site"),
                ("Origin", "https://id.example.com")
            ]),
            issuer
        ));
        assert!(same_origin(
            &req(&[("Origin", "https://id.example.com")]),
            issuer
        ));
        for other in [
            "https://id.example.com:8443",
            "http://id.example.com",
            "https://evil.example.com",
            "null",
        ] {
            assert!(!same_origin(&req(&[("Origin", other)]), issuer), "{other}");
        }
        assert!(!same_origin(&req(&[]), issuer));
    }

    #[test]
    fn the_vendored_htmx_is_the_file_its_note_names() {
        use sha2::Digest;
        let sum = sha2::Sha256::digest(HTMX_SOURCE.as_bytes());
        let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
        );
        assert!(include_str!("vendor/htmx.md").contains(&hex));
    }

    #[test]
    fn enrollment_tokens_are_redacted_from_logged_paths() {
        assert_eq!(
            loggable_path("/console/enroll/abcDEF123"),
            "/console/enroll/[redacted]"
        );
        assert_eq!(loggable_path("/console/sign-in"), "/console/sign-in");
        assert_eq!(loggable_path("/oauth2/token"), "/oauth2/token");
    }
}
