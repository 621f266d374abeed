//! Sign-in (email and password, then an authentication code), the signed-in page, sign-out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::error::SIGN_IN_FAILED;
use super::{
    ConsoleError, SIGN_IN_CSRF_COOKIE, SignedIn, cookie, css, current_session, js, removal, render,
    see_other, source,
};
use crate::secret::random_token;
use crate::signin::sessions::{self, Pending};
use crate::signin::{normalize_email, passkeys, password, throttle, totp};
use crate::state::AppState;
use crate::store;

/// Longest email looked up (RFC 5321 paths are at most 256 octets).
const MAX_EMAIL: usize = 320;

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage<'a> {
    css: &'a str,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// Whether to offer sign-in through the upstream OpenID provider.
    oidc: bool,
}

#[derive(Template)]
#[template(path = "console/verify.html")]
struct VerifyPage<'a> {
    css: &'a str,
    js: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
    /// Whether to offer "Use a passkey".
    passkey: bool,
}

/// `?enrolled=1` after an enrollment.
#[derive(Deserialize)]
pub struct SignInQuery {
    enrolled: Option<String>,
}

/// The sign-in form. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: zeroize::Zeroizing<String>,
}

/// The second step's form.
#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: zeroize::Zeroizing<String>,
}

/// A form carrying only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// The sign-in CSRF token this browser holds, if it looks like one we made.
fn sign_in_csrf(req: &HttpRequest) -> Option<String> {
    req.cookie(SIGN_IN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43)
}

/// `GET /console/sign-in`.
pub async fn sign_in_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, ConsoleError> {
    if current_session(&state, &req)
        .await?
        .is_some_and(|s| s.signed_in())
    {
        return Ok(see_other("/console").finish());
    }
    let notice = query
        .enrolled
        .is_some()
        .then_some("Enrollment complete. Sign in with your new password and code.");
    sign_in_page(&state, &req, StatusCode::OK, None, notice)
}

/// The sign-in page with `error` or `notice`, and its CSRF cookie.
pub(super) fn sign_in_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let csrf = sign_in_csrf(req).unwrap_or_else(|| random_token(32));
    let mut res = render(
        status,
        &SignInPage {
            css: css(),
            csrf: &csrf,
            email: "",
            error,
            notice,
            oidc: state.settings.console.oidc.is_some(),
        },
    );
    res.add_cookie(&cookie(state, SIGN_IN_CSRF_COOKIE, csrf))
        .map_err(|_| ConsoleError::BadForm)?;
    Ok(res)
}

/// `POST /console/sign-in`: the password step.
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, ConsoleError> {
    let expected = sign_in_csrf(&req).ok_or(ConsoleError::Forbidden)?;
    if !bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return Err(ConsoleError::Forbidden);
    }
    let email = normalize_email(&form.email);
    let source = source(&state, &req);
    if let Some(wait) = throttle::locked(&state, &email, source).await {
        return Err(ConsoleError::TooMany(wait));
    }
    let person = if email.len() <= MAX_EMAIL {
        store::signin::person_by_email(&state.db, &email).await?
    } else {
        None
    };
    let stored = person
        .as_ref()
        .filter(|p| p.enabled)
        .and_then(|p| p.password_hash.as_deref());
    let right = password::verify(&state.argon2, &state.decoy_hash, stored, &form.password).await?;
    let person = match person {
        Some(p) if right => p,
        _ => return failed_password(&state, &email, source, &expected).await,
    };
    let has_factor = store::signin::totp_secret(&state.db, &person.id)
        .await?
        .is_some()
        || passkeys::has_passkey(&state.db, &person.id).await?;
    if !has_factor && state.settings.console.require_second_factor {
        // Not enrolled: no way to finish, and nothing to tell an attacker either.
        return failed_password(&state, &email, source, &expected).await;
    }
    let started = sessions::start(
        &state.db,
        &state.settings.console,
        &person.id,
        !has_factor,
        has_factor.then_some(&Pending::SECOND_FACTOR),
        source,
    )
    .await?;
    let next = if has_factor {
        "/console/sign-in/verify"
    } else {
        sessions::audit(&state.db, &person.id, Some(sessions::Method::Password)).await;
        "/console"
    };
    Ok(see_other(next)
        .cookie(cookie(
            &state,
            sessions::COOKIE,
            started.cookie.as_str().to_owned(),
        ))
        .finish())
}

async fn failed_password(
    state: &AppState,
    email: &str,
    source: Option<std::net::IpAddr>,
    csrf: &str,
) -> Result<HttpResponse, ConsoleError> {
    if let Some(wait) = throttle::failed(state, email, source).await {
        return Err(ConsoleError::TooMany(wait));
    }
    Ok(render(
        StatusCode::UNAUTHORIZED,
        &SignInPage {
            css: css(),
            csrf,
            email,
            error: Some(SIGN_IN_FAILED),
            notice: None,
            oidc: state.settings.console.oidc.is_some(),
        },
    ))
}

/// `GET /console/sign-in/verify`.
pub async fn verify_form(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    match current_session(&state, &req).await? {
        Some(s) if s.second_factor_due() => Ok(render(
            StatusCode::OK,
            &VerifyPage {
                css: css(),
                js: js(),
                csrf: &s.csrf_token,
                error: None,
                passkey: passkeys::has_passkey(&state.db, &s.person.id).await?,
            },
        )),
        Some(s) if s.signed_in() => Ok(see_other("/console").finish()),
        _ => Ok(see_other("/console/sign-in").finish()),
    }
}

/// `POST /console/sign-in/verify`: the second factor.
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<VerifyForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = current_session(&state, &req)
        .await?
        .filter(|s| s.second_factor_due())
        .ok_or(ConsoleError::Forbidden)?;
    if !session.csrf_matches(&form.csrf) {
        return Err(ConsoleError::Forbidden);
    }
    let email = session.person.email.clone();
    let source = source(&state, &req);
    if let Some(wait) = throttle::locked(&state, &email, source).await {
        return Err(ConsoleError::TooMany(wait));
    }
    if let Some(wait) = throttle::second_factor_locked(&state, &session.person.id).await {
        return Err(ConsoleError::TooMany(wait));
    }
    if !totp::verify_code(&state.db, &state.kek, &session.person.id, &form.code).await? {
        if let Some(wait) = throttle::failed(&state, &email, source).await {
            return Err(ConsoleError::TooMany(wait));
        }
        if let Some(wait) = throttle::second_factor_failed(&state, &session.person.id).await {
            return Err(ConsoleError::TooMany(wait));
        }
        return Ok(render(
            StatusCode::UNAUTHORIZED,
            &VerifyPage {
                css: css(),
                js: js(),
                csrf: &session.csrf_token,
                error: Some(SIGN_IN_FAILED),
                passkey: passkeys::has_passkey(&state.db, &session.person.id).await?,
            },
        ));
    }
    let Some(started) = sessions::complete_sign_in(&state.db, &session, source).await? else {
        return Ok(see_other("/console/sign-in").finish());
    };
    tracing::info!(administrator = %session.person.id, "console sign-in");
    sessions::audit(&state.db, &session.person.id, Some(sessions::Method::Totp)).await;
    Ok(see_other("/console")
        .cookie(cookie(
            &state,
            sessions::COOKIE,
            started.cookie.as_str().to_owned(),
        ))
        .finish())
}

/// `GET /console`: the default page is Clients.
pub async fn home(_: SignedIn) -> HttpResponse {
    see_other("/console/clients").finish()
}

/// `POST /console/sign-out`: ends the server session and drops the cookie.
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(session) = current_session(&state, &req).await? else {
        return Ok(see_other("/console/sign-in")
            .cookie(removal(&state, sessions::COOKIE))
            .finish());
    };
    if !session.csrf_matches(&form.csrf) {
        return Err(ConsoleError::Forbidden);
    }
    sessions::end(&state.db, &session).await?;
    tracing::info!(administrator = %session.person.id, "console sign-out");
    if session.signed_in() {
        sessions::audit(&state.db, &session.person.id, None).await;
    }
    Ok(see_other("/console/sign-in")
        .cookie(removal(&state, sessions::COOKIE))
        .finish())
}
