//! `GET/POST /console/enroll/{token}`: the person behind a one-time link sets a password and a
//! TOTP second factor; both are stored at once, and only then is the link spent.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{ConsoleError, cookie, css, current_session, removal, render, see_other, source};
use crate::signin::enrollment::{self, Choice};
use crate::signin::sessions::{self, Pending, Session};
use crate::signin::totp::{self, TotpSecret};
use crate::signin::{password, sha256_hex};
use crate::state::AppState;
use crate::store::signin::Person;

/// Label of the account in authenticator apps.
const TOTP_ISSUER: &str = "Tessera";

#[derive(Template)]
#[template(path = "console/enroll.html")]
struct EnrollPage<'a> {
    css: &'a str,
    csrf: &'a str,
    token: &'a str,
    email: &'a str,
    display_name: &'a str,
    secret: &'a str,
    otpauth_uri: &'a str,
    password_error: Option<String>,
    code_error: Option<&'a str>,
}

/// The enrollment form. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct EnrollForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: zeroize::Zeroizing<String>,
    #[serde(default)]
    code: zeroize::Zeroizing<String>,
}

/// The administrator a valid link enrolls, or the "not valid" page.
async fn holder(state: &AppState, token: &str) -> Result<Person, ConsoleError> {
    enrollment::holder(&state.db, token, chrono::Utc::now())
        .await?
        .ok_or(ConsoleError::EnrollmentInvalid)
}

/// The enrollment session this browser holds for this link, and its TOTP secret.
fn enrolling(
    state: &AppState,
    session: Option<Session>,
    person: &Person,
    token_hash: &str,
) -> Result<Option<(Session, TotpSecret)>, ConsoleError> {
    let Some(s) = session.filter(|s| s.person.id == person.id) else {
        return Ok(None);
    };
    let Some(Pending::Enroll {
        token_hash: hash,
        totp,
    }) = &s.pending
    else {
        return Ok(None);
    };
    if hash != token_hash {
        return Ok(None);
    }
    let secret = TotpSecret::open(&state.kek, totp)?;
    Ok(Some((s, secret)))
}

fn page(
    status: StatusCode,
    person: &Person,
    token: &str,
    csrf: &str,
    secret: &TotpSecret,
    password_error: Option<String>,
    code_error: Option<&str>,
) -> HttpResponse {
    let uri = secret.otpauth_uri(TOTP_ISSUER, &person.email);
    render(
        status,
        &EnrollPage {
            css: css(),
            csrf,
            token,
            email: &person.email,
            display_name: &person.display_name,
            secret: &secret.base32(),
            otpauth_uri: &uri,
            password_error,
            code_error,
        },
    )
}

/// `GET /console/enroll/{token}`: starts (or resumes) enrollment. The TOTP secret offered is
/// kept server-side with an enrollment session, so the browser cannot choose it.
pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let person = holder(&state, &token).await?;
    let token_hash = sha256_hex(&token);
    let session = current_session(&state, &req).await?;
    if let Some((s, secret)) = enrolling(&state, session, &person, &token_hash)? {
        return Ok(page(
            StatusCode::OK,
            &person,
            &token,
            &s.csrf_token,
            &secret,
            None,
            None,
        ));
    }
    let secret = TotpSecret::generate();
    let pending = Pending::Enroll {
        token_hash,
        totp: secret.seal(&state.kek)?,
    };
    let started = sessions::start(
        &state.db,
        &state.settings.console,
        &person.id,
        false,
        Some(&pending),
        source(&state, &req),
    )
    .await?;
    let mut res = page(
        StatusCode::OK,
        &person,
        &token,
        &started.csrf_token,
        &secret,
        None,
        None,
    );
    res.add_cookie(&cookie(
        &state,
        sessions::COOKIE,
        started.cookie.as_str().to_owned(),
    ))
    .map_err(|_| ConsoleError::BadForm)?;
    Ok(res)
}

/// `POST /console/enroll/{token}`: checks the password rule and the code; stores both and
/// spends the link, or stores nothing and shows what to fix.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    form: web::Form<EnrollForm>,
) -> Result<HttpResponse, ConsoleError> {
    let person = holder(&state, &token).await?;
    let token_hash = sha256_hex(&token);
    let session = current_session(&state, &req).await?;
    let (session, secret) =
        enrolling(&state, session, &person, &token_hash)?.ok_or(ConsoleError::Forbidden)?;
    if !session.csrf_matches(&form.csrf) {
        return Err(ConsoleError::Forbidden);
    }
    let password_error = password::check_policy(&form.password)
        .err()
        .map(|e| e.to_string());
    let step = secret.matching_step(&form.code, totp::now_seconds());
    let code_error = step
        .is_none()
        .then_some("is not correct: enter the current code");
    let Some(step) = step.filter(|_| password_error.is_none()) else {
        return Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &person,
            &token,
            &session.csrf_token,
            &secret,
            password_error,
            code_error,
        ));
    };
    let password_hash = password::hash(&form.password).await;
    let done = enrollment::complete(
        &state.db,
        &token_hash,
        &person.id,
        Choice {
            password_hash: &password_hash,
            totp_secret_jwe: secret.seal(&state.kek)?,
            totp_step: step,
        },
    )
    .await?;
    if !done {
        return Err(ConsoleError::EnrollmentInvalid);
    }
    // Completing ended every session of the person, this enrollment session included.
    tracing::info!(administrator = %person.id, "enrollment complete");
    Ok(see_other("/console/sign-in?enrolled=1")
        .cookie(removal(&state, sessions::COOKIE))
        .finish())
}
