//! The Account page (SPEC §8): the signed-in person's profile, password, second factors and
//! active sessions. A new password ends every other session of the person at once (this one
//! stays signed in); "Sign out everywhere" ends them all, this one included.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, js, removal, render, see_other, source};
use crate::signin::sessions;
use crate::signin::{password, throttle};
use crate::state::AppState;
use crate::store;
use crate::store::administrators::ProjectRole;

/// A role's name as the console shows it.
pub(super) fn role_name(role: ProjectRole) -> &'static str {
    match role {
        ProjectRole::Viewer => "viewer",
        ProjectRole::Admin => "admin",
        ProjectRole::Owner => "owner",
    }
}

/// A form carrying only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub(super) csrf: String,
}

/// `?done=`: what the last change did.
#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// The password form. No `Debug`: it holds passwords.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: zeroize::Zeroizing<String>,
    #[serde(default)]
    new_password: zeroize::Zeroizing<String>,
    #[serde(default)]
    confirm_password: zeroize::Zeroizing<String>,
}

/// Messages beside the password fields.
#[derive(Default)]
struct PasswordErrors {
    current: Option<String>,
    new: Option<String>,
    confirm: Option<String>,
}

impl PasswordErrors {
    fn any(&self) -> bool {
        self.current.is_some() || self.new.is_some() || self.confirm.is_some()
    }
}

struct PasskeyRow {
    id: String,
    name: String,
    created: String,
    last_used: String,
}

struct SessionRow {
    started: String,
    last_seen: String,
    source: String,
    this: bool,
    complete: bool,
}

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage<'a> {
    css: &'a str,
    js: &'a str,
    nav: Nav,
    notice: Option<&'static str>,
    name: String,
    email: String,
    superadmin: bool,
    roles: Vec<(String, &'static str)>,
    errors: PasswordErrors,
    totp_since: Option<String>,
    passkeys: Vec<PasskeyRow>,
    sessions: Vec<SessionRow>,
}

#[derive(Template)]
#[template(path = "console/passkey_remove.html")]
struct RemovePasskeyPage<'a> {
    css: &'a str,
    nav: Nav,
    id: String,
    name: String,
}

/// The Account page with `status`, a notice and the password form's errors.
async fn account_page(
    state: &AppState,
    acting: &Acting,
    status: StatusCode,
    notice: Option<&'static str>,
    errors: PasswordErrors,
) -> Result<HttpResponse, ConsoleError> {
    let me = &acting.admin;
    let totp_since = store::signin::totp_enrolled_at(&state.db, &me.id)
        .await?
        .map(when);
    let passkeys = store::signin::passkey_summaries(&state.db, &me.id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            id: p.credential_id,
            name: p.name,
            created: when(p.created_at),
            last_used: p.last_used_at.map_or_else(|| "Never".to_owned(), when),
        })
        .collect();
    // Live sessions only: an expired one is gone at its next use anyway.
    let now = chrono::Utc::now();
    let settings = &state.settings.console;
    let idle = chrono::TimeDelta::from_std(settings.session_idle).unwrap_or(chrono::TimeDelta::MAX);
    let max = chrono::TimeDelta::from_std(settings.session_max).unwrap_or(chrono::TimeDelta::MAX);
    let current = &acting.session().id_hash;
    let sessions = store::signin::sessions_of(&state.db, &me.id)
        .await?
        .into_iter()
        .filter(|s| now - s.last_seen_at <= idle && now - s.created_at <= max)
        .map(|s| SessionRow {
            started: when(s.created_at),
            last_seen: when(s.last_seen_at),
            source: s.source.clone().unwrap_or_else(|| "Unknown".to_owned()),
            this: s.id_hash == *current,
            complete: s.second_factor_at.is_some(),
        })
        .collect();
    Ok(render(
        status,
        &AccountPage {
            css: css(),
            js: js(),
            nav: acting.nav(Section::Account),
            notice,
            name: me.display_name.clone(),
            email: me.email.clone(),
            superadmin: me.superadmin,
            roles: me
                .memberships
                .iter()
                .map(|m| (m.project.clone(), role_name(m.role)))
                .collect(),
            errors,
            totp_since,
            passkeys,
            sessions,
        },
    ))
}

/// `GET /console/account`.
pub async fn page(
    state: web::Data<AppState>,
    acting: Acting,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let notice = match query.done.as_str() {
        "password" => Some("Password changed. Every other session of yours has ended."),
        "passkey" => Some("Passkey removed."),
        _ => None,
    };
    account_page(
        &state,
        &acting,
        StatusCode::OK,
        notice,
        PasswordErrors::default(),
    )
    .await
}

/// `POST /console/account/password`: the current password, then the new one twice. A wrong
/// current password counts like a failed sign-in. Success ends every other session.
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    acting: Acting,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    let person = &acting.session().person;
    let source = source(&state, &req);
    if let Some(wait) = throttle::locked(&state, &person.email, source).await {
        return Err(ConsoleError::TooMany(wait));
    }
    let mut errors = PasswordErrors::default();
    if let Err(problem) = password::check_policy(&form.new_password) {
        errors.new = Some(problem.to_string());
    } else if *form.new_password != *form.confirm_password {
        errors.confirm = Some("does not match the new password".into());
    }
    if errors.any() {
        return account_page(
            &state,
            &acting,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            errors,
        )
        .await;
    }
    let right = password::verify(
        &state.argon2,
        &state.decoy_hash,
        person.password_hash.as_deref(),
        &form.current_password,
    )
    .await?;
    if !right {
        if let Some(wait) = throttle::failed(&state, &person.email, source).await {
            return Err(ConsoleError::TooMany(wait));
        }
        errors.current = Some("is not your current password".into());
        return account_page(
            &state,
            &acting,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            errors,
        )
        .await;
    }
    let hash = password::hash(&form.new_password).await;
    let ended = store::signin::change_password(
        &state.db,
        &person.id,
        &hash,
        &acting.session().id_hash,
        chrono::Utc::now(),
    )
    .await?;
    tracing::info!(administrator = %person.id, other_sessions_ended = ended, "password changed");
    Ok(see_other("/console/account?done=password").finish())
}

fn remove_path(id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/console/account/passkeys/{id}/remove")
}

/// `GET /console/account/passkeys/{id}/remove`: the confirmation, after a recent second
/// factor.
pub async fn confirm_remove_passkey(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let id = path.into_inner();
    acting.require_recent_second_factor(&state, &remove_path(&id))?;
    let found = store::signin::passkey_summaries(&state.db, &acting.admin.id)
        .await?
        .into_iter()
        .find(|p| p.credential_id == id)
        .ok_or(ConsoleError::NotFound)?;
    Ok(render(
        StatusCode::OK,
        &RemovePasskeyPage {
            css: css(),
            nav: acting.nav(Section::Account),
            id: found.credential_id,
            name: found.name,
        },
    ))
}

/// `POST /console/account/passkeys/{id}/remove`.
pub async fn remove_passkey(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    let id = path.into_inner();
    acting.require_recent_second_factor(&state, &remove_path(&id))?;
    if !store::signin::delete_passkey(&state.db, &acting.admin.id, &id).await? {
        return Err(ConsoleError::NotFound);
    }
    tracing::info!(administrator = %acting.admin.id, "passkey removed");
    Ok(see_other("/console/account?done=passkey").finish())
}

/// `POST /console/account/sign-out-everywhere`: ends every session of the person, this one
/// included, and lands on the sign-in page.
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    let id = acting.admin.id.clone();
    let ended = sessions::end_all(&state.db, &id).await?;
    tracing::info!(administrator = %id, sessions_ended = ended, "signed out everywhere");
    let actor = store::audit::Actor::Administrator(id.clone());
    if let Err(e) = store::audit::record(
        &state.db,
        "administrator.signed_out",
        &actor,
        Some(&id),
        serde_json::json!({"everywhere": true, "sessions_ended": ended}),
    )
    .await
    {
        tracing::warn!(error = %e, "recording a console audit event failed");
    }
    Ok(see_other("/console/sign-in")
        .cookie(removal(&state, sessions::COOKIE))
        .finish())
}
