//! Passkey ceremonies (JSON, called by `passkey.js`): as the second sign-in step, and to add a
//! passkey to a signed-in account (within the re-authentication window). The CSRF token
//! travels in `X-CSRF-Token`; the origin rule of the scope applies as to every POST.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::error::SIGN_IN_FAILED;
use super::{ConsoleError, SignedIn, cookie, current_session, source};
use crate::signin::passkeys::{self, PasskeyError};
use crate::signin::sessions::{self, Pending, Session};
use crate::signin::throttle;
use crate::state::AppState;

/// The session, if the request carries its CSRF token in `X-CSRF-Token`.
async fn session_with_token(state: &AppState, req: &HttpRequest) -> Result<Session, ConsoleError> {
    let presented = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    current_session(state, req)
        .await?
        .filter(|s| s.csrf_matches(presented))
        .ok_or(ConsoleError::Forbidden)
}

fn json_error(status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message }))
}

impl From<PasskeyError> for ConsoleError {
    fn from(e: PasskeyError) -> Self {
        match e {
            PasskeyError::Signin(e) => e.into(),
            PasskeyError::Unavailable => ConsoleError::NotFound,
            PasskeyError::Rejected | PasskeyError::BadName => ConsoleError::BadForm,
        }
    }
}

/// `POST /console/sign-in/passkey/options`: the challenge for the second step.
pub async fn sign_in_options(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let session = session_with_token(&state, &req).await?;
    if !session.second_factor_due() {
        return Err(ConsoleError::Forbidden);
    }
    let rp = passkeys::relying_party(&state.issuer)?;
    let Some((options, ceremony)) =
        passkeys::start_authentication(&state.db, &rp, &session.person).await?
    else {
        return Err(ConsoleError::NotFound);
    };
    sessions::set_pending(
        &state.db,
        &session,
        Some(&Pending::SecondFactor {
            passkey: Some(ceremony),
        }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(options))
}

/// `POST /console/sign-in/passkey`: the browser's assertion. Success completes sign-in (a new
/// session cookie); failure counts like a wrong code and says the same.
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    credential: web::Json<PublicKeyCredential>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session_with_token(&state, &req).await?;
    let Some(Pending::SecondFactor {
        passkey: Some(ceremony),
    }) = session.pending.clone().filter(|_| !session.signed_in())
    else {
        return Err(ConsoleError::Forbidden);
    };
    let email = session.person.email.clone();
    let source = source(&state, &req);
    if let Some(wait) = throttle::locked(&state, &email, source).await {
        return Err(ConsoleError::TooMany(wait));
    }
    // A ceremony's challenge answers once, whatever the outcome.
    sessions::set_pending(&state.db, &session, Some(&Pending::SECOND_FACTOR)).await?;
    let rp = passkeys::relying_party(&state.issuer)?;
    match passkeys::finish_authentication(&state.db, &rp, &session.person, &ceremony, &credential)
        .await
    {
        Ok(()) => {}
        Err(PasskeyError::Rejected) => {
            if let Some(wait) = throttle::failed(&state, &email, source).await {
                return Err(ConsoleError::TooMany(wait));
            }
            return Ok(json_error(
                actix_web::http::StatusCode::UNAUTHORIZED,
                SIGN_IN_FAILED,
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let Some(started) = sessions::complete_sign_in(&state.db, &session, source).await? else {
        return Err(ConsoleError::Forbidden);
    };
    tracing::info!(administrator = %session.person.id, "console sign-in with a passkey");
    sessions::audit(
        &state.db,
        &session.person.id,
        Some(sessions::Method::Passkey),
    )
    .await;
    Ok(HttpResponse::Ok()
        .cookie(cookie(
            &state,
            sessions::COOKIE,
            started.cookie.as_str().to_owned(),
        ))
        .json(serde_json::json!({ "location": "/console" })))
}

/// A signed-in session whose second factor was entered within `console.reauth_minutes`.
async fn recently_verified(state: &AppState, req: &HttpRequest) -> Result<Session, ConsoleError> {
    let session = SignedIn(session_with_token(state, req).await?);
    if !session.0.signed_in() {
        return Err(ConsoleError::Forbidden);
    }
    session.check_recent_second_factor(state)?;
    Ok(session.0)
}

/// `POST /console/passkeys/options`: the options to create a passkey.
pub async fn register_options(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let session = recently_verified(&state, &req).await?;
    let rp = passkeys::relying_party(&state.issuer)?;
    let (options, ceremony) = passkeys::start_registration(&state.db, &rp, &session.person).await?;
    sessions::set_pending(
        &state.db,
        &session,
        Some(&Pending::PasskeyRegistration { state: ceremony }),
    )
    .await?;
    Ok(HttpResponse::Ok().json(options))
}

/// A new passkey's name and the browser's attestation.
#[derive(Deserialize)]
pub struct NewPasskey {
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /console/passkeys`: registers the passkey created with the last options.
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<NewPasskey>,
) -> Result<HttpResponse, ConsoleError> {
    let session = recently_verified(&state, &req).await?;
    let Some(Pending::PasskeyRegistration { state: ceremony }) = session.pending.clone() else {
        return Err(ConsoleError::Forbidden);
    };
    sessions::set_pending(&state.db, &session, None).await?;
    let rp = passkeys::relying_party(&state.issuer)?;
    match passkeys::finish_registration(
        &state.db,
        &rp,
        &session.person,
        &ceremony,
        &body.name,
        &body.credential,
    )
    .await
    {
        Ok(id) => {
            tracing::info!(administrator = %session.person.id, "passkey added");
            Ok(HttpResponse::Created().json(serde_json::json!({ "id": id })))
        }
        Err(e @ (PasskeyError::Rejected | PasskeyError::BadName)) => Ok(json_error(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            &e.to_string(),
        )),
        Err(e) => Err(e.into()),
    }
}
