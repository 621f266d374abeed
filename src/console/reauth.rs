//! Re-authentication for sensitive changes (SPEC §7: resetting a secret, deleting a client,
//! memberships, ceilings, keys): when the last second factor is older than
//! `console.reauth_minutes`, the change's confirmation page sends the person here first, and
//! back once they have entered a fresh authentication code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::error::SIGN_IN_FAILED;
use super::layout::{Acting, Nav, Section};
use super::{ConsoleError, css, render, see_other, source};
use crate::signin::{throttle, totp};
use crate::state::AppState;
use crate::store;

#[derive(Template)]
#[template(path = "console/reauth.html")]
struct ReauthPage<'a> {
    css: &'a str,
    nav: Nav,
    then: String,
    error: Option<&'a str>,
}

/// `?then=`: the confirmation page to return to.
#[derive(Deserialize)]
pub struct ReauthQuery {
    #[serde(default)]
    then: String,
}

/// The form. No `Debug`: it holds a code.
#[derive(Deserialize)]
pub struct ReauthForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    then: String,
    #[serde(default)]
    code: zeroize::Zeroizing<String>,
}

/// A console path to return to: never another site, never a scheme-relative URL.
pub fn safe_return(then: &str) -> String {
    let ok = then.starts_with("/console/")
        && !then.contains("//")
        && !then.contains('\\')
        && then.len() <= 512
        && !then.chars().any(char::is_control);
    if ok {
        then.to_owned()
    } else {
        "/console/clients".to_owned()
    }
}

/// Where a sensitive change without a recent second factor goes: this page, then `then`.
pub fn location(then: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("then", &safe_return(then))
        .finish();
    format!("/console/reauth?{query}")
}

/// `GET /console/reauth`.
pub async fn form(acting: Acting, query: web::Query<ReauthQuery>) -> HttpResponse {
    render(
        StatusCode::OK,
        &ReauthPage {
            css: css(),
            nav: acting.nav(Section::of_path(&query.then)),
            then: safe_return(&query.then),
            error: None,
        },
    )
}

/// `POST /console/reauth`: a fresh authentication code restarts the re-authentication
/// window; wrong codes count like wrong codes at sign-in.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    acting: Acting,
    form: web::Form<ReauthForm>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    let then = safe_return(&form.then);
    let person = &acting.session().person;
    let source = source(&state, &req);
    if let Some(wait) = throttle::locked(&state, &person.email, source).await {
        return Err(ConsoleError::TooMany(wait));
    }
    if let Some(wait) = throttle::second_factor_locked(&state, &person.id).await {
        return Err(ConsoleError::TooMany(wait));
    }
    if !totp::verify_code(&state.db, &state.kek, &person.id, &form.code).await? {
        if let Some(wait) = throttle::failed(&state, &person.email, source).await {
            return Err(ConsoleError::TooMany(wait));
        }
        if let Some(wait) = throttle::second_factor_failed(&state, &person.id).await {
            return Err(ConsoleError::TooMany(wait));
        }
        return Ok(render(
            StatusCode::UNAUTHORIZED,
            &ReauthPage {
                css: css(),
                nav: acting.nav(Section::of_path(&then)),
                then,
                error: Some(SIGN_IN_FAILED),
            },
        ));
    }
    store::signin::second_factor_entered(&state.db, &acting.session().id_hash, chrono::Utc::now())
        .await?;
    Ok(see_other(&then).finish())
}
