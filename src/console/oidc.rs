//! `GET /console/sign-in/oidc` and its callback: sign-in through the upstream OpenID provider.
//! The flow (state, PKCE verifier, nonce) rides in a cookie sealed under the key-encryption
//! key, `SameSite=Lax` (the provider's redirect back is a cross-site navigation, which a
//! `Strict` cookie would not follow) and scoped to these two paths.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::pages::sign_in_page;
use super::{ConsoleError, cookie, css, render, see_other, source};
use crate::signin::oidc::{self, Flow, OidcError};
use crate::signin::{sessions, throttle};
use crate::state::AppState;
use crate::store;

const FLOW_COOKIE: &str = "tessera_oidc";
const FLOW_PATH: &str = "/console/sign-in/oidc";

/// Shown for every failed upstream sign-in.
const OIDC_FAILED: &str = "Single sign-on did not sign you in. Sign in with your email and \
    password, or ask an administrator.";

#[derive(Template)]
#[template(path = "console/continue.html")]
struct Continue<'a> {
    css: &'a str,
    /// Where the person goes on: the second factor, or the console.
    next: &'a str,
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{FLOW_PATH}/callback", state.issuer)
}

fn flow_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(FLOW_COOKIE, value)
        .path(FLOW_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.issuer.starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::seconds(
            oidc::FLOW_SECONDS,
        ))
        .finish()
}

/// `GET /console/sign-in/oidc`: to the provider.
pub async fn begin(state: web::Data<AppState>) -> Result<HttpResponse, ConsoleError> {
    let Some(settings) = &state.settings.console.oidc else {
        return Err(ConsoleError::NotFound);
    };
    let (url, flow) = oidc::begin(settings, &redirect_uri(&state))
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "starting an OpenID Connect sign-in failed");
            ConsoleError::Unavailable
        })?;
    let json = serde_json::to_vec(&flow).map_err(|_| ConsoleError::BadForm)?;
    let sealed = state
        .kek
        .seal(&json)
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(see_other(&url).cookie(flow_cookie(&state, sealed)).finish())
}

/// The provider's answer.
#[derive(Deserialize)]
pub struct Answer {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

/// `GET /console/sign-in/oidc/callback`: verifies the answer and signs the administrator in.
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    answer: web::Query<Answer>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(settings) = &state.settings.console.oidc else {
        return Err(ConsoleError::NotFound);
    };
    let source = source(&state, &req);
    let flow: Option<Flow> = req
        .cookie(FLOW_COOKIE)
        .and_then(|c| state.kek.open("oidc", c.value()).ok())
        .and_then(|json| serde_json::from_slice(&json).ok());
    let mut removal = flow_cookie(&state, String::new());
    removal.make_removal();
    let fail = |what: &str| {
        let mut res = sign_in_page(
            &state,
            &req,
            StatusCode::UNAUTHORIZED,
            Some(OIDC_FAILED),
            None,
        )?;
        res.add_cookie(&removal)
            .map_err(|_| ConsoleError::BadForm)?;
        tracing::info!(reason = what, "OpenID Connect sign-in refused");
        Ok::<_, ConsoleError>(res)
    };
    // Failures before an email is known count against the source only (a shared "oidc"
    // counter would let anyone lock single sign-on out for everybody).
    let flow_key = format!(
        "oidc-flow:{}",
        source.map(|s| s.to_string()).unwrap_or_default()
    );
    if let Some(wait) = throttle::locked(&state, &flow_key, source).await {
        return Err(ConsoleError::TooMany(wait));
    }
    let Some(flow) = flow else {
        return fail("no sign-in in progress in this browser");
    };
    let email = match oidc::finish(
        settings,
        &redirect_uri(&state),
        flow,
        &answer.code,
        &answer.state,
    )
    .await
    {
        Ok(email) => email,
        Err(OidcError::Provider(e)) => {
            tracing::warn!(error = %e, "the OpenID provider failed");
            return Err(ConsoleError::Unavailable);
        }
        Err(e) => {
            if let Some(wait) = throttle::failed(&state, &flow_key, source).await {
                return Err(ConsoleError::TooMany(wait));
            }
            return fail(&e.to_string());
        }
    };
    let person = store::signin::person_by_email(&state.db, &email)
        .await?
        .filter(|p| p.enabled);
    let Some(person) = person else {
        if let Some(wait) = throttle::failed(&state, &email, source).await {
            return Err(ConsoleError::TooMany(wait));
        }
        return fail("no enabled administrator has this email");
    };
    // The provider stands for the password, not for the second factor: with second factors
    // required, the person still enters theirs (an account taken over upstream is not enough).
    let has_factor = store::signin::totp_secret(&state.db, &person.id)
        .await?
        .is_some()
        || crate::signin::passkeys::has_passkey(&state.db, &person.id).await?;
    let needs_factor = state.settings.console.require_second_factor;
    if needs_factor && !has_factor {
        if let Some(wait) = throttle::failed(&state, &email, source).await {
            return Err(ConsoleError::TooMany(wait));
        }
        return fail("the administrator has not enrolled a second factor");
    }
    let started = sessions::start(
        &state.db,
        &state.settings.console,
        &person.id,
        !needs_factor,
        needs_factor.then_some(&sessions::Pending::SECOND_FACTOR),
        source,
    )
    .await?;
    tracing::info!(administrator = %person.id, "console sign-in through OpenID Connect");
    if !needs_factor {
        sessions::audit(&state.db, &person.id, Some(sessions::Method::OpenIdConnect)).await;
    }
    // A page, not a redirect: the browser came here from the provider (cross-site), and a
    // SameSite=Strict cookie is sent only once a navigation starts on this site.
    let next = if needs_factor {
        "/console/sign-in/verify"
    } else {
        "/console"
    };
    let mut res = render(StatusCode::OK, &Continue { css: css(), next });
    res.add_cookie(&cookie(
        &state,
        sessions::COOKIE,
        started.cookie.as_str().to_owned(),
    ))
    .map_err(|_| ConsoleError::BadForm)?;
    res.add_cookie(&removal)
        .map_err(|_| ConsoleError::BadForm)?;
    Ok(res)
}
