//! The Keys page (SPEC §4, §8): the signing keys' public identity and state, and, for
//! superadmins, Rotate keys behind a confirmation page. Rotating is a sensitive change
//! (SPEC §7): both the confirmation and the change need a second factor entered recently.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::fields::Posted;
use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, render, see_other};
use crate::keys::KeyState;
use crate::ops::{self, Ops, OpsError};
use crate::state::AppState;

/// The confirmation page, where re-authentication returns.
const ROTATE: &str = "/console/keys/rotate";

struct Row {
    kid: String,
    alg: String,
    status: &'static str,
    created: String,
    activates: String,
    superseded: String,
    retires: String,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage<'a> {
    css: &'a str,
    nav: Nav,
    notice: Option<String>,
    can_rotate: bool,
    rows: Vec<Row>,
}

/// A state in the words of SPEC §4.
fn status(state: &KeyState) -> &'static str {
    match state {
        KeyState::Next => "next",
        KeyState::Signing => "signing",
        KeyState::Verifying => "verifying",
        KeyState::Retired => "retired",
    }
}

/// `GET /console/keys`: every signing key, newest first.
pub async fn list(
    state: web::Data<AppState>,
    acting: Acting,
) -> Result<HttpResponse, ConsoleError> {
    let (code, notice, mut keys) = match ops::keys::list(&Ops::of(&state), &acting.ctx).await {
        Ok(k) => (StatusCode::OK, None, k),
        Err(OpsError::Forbidden(message)) => (StatusCode::FORBIDDEN, Some(message), Vec::new()),
        Err(e) => return Err(e.into()),
    };
    keys.sort_by_key(|k| std::cmp::Reverse((k.activates_at, k.created_at)));
    let dash = || "—".to_owned();
    let rows = keys
        .into_iter()
        .map(|k| Row {
            status: status(&k.state),
            created: when(k.created_at),
            activates: when(k.activates_at),
            superseded: k.superseded_at.map_or_else(dash, when),
            retires: k.retires_at.map_or_else(dash, when),
            kid: k.kid,
            alg: k.alg,
        })
        .collect();
    Ok(render(
        code,
        &KeysPage {
            css: css(),
            nav: acting.nav(Section::Keys),
            notice,
            can_rotate: acting.admin.superadmin,
            rows,
        },
    ))
}

#[derive(Template)]
#[template(path = "console/keys_rotate.html")]
struct RotatePage<'a> {
    css: &'a str,
    nav: Nav,
}

/// Superadmins rotate keys (the operation decides; this only spares others a dead end).
fn superadmin(acting: &Acting) -> Result<(), ConsoleError> {
    if acting.admin.superadmin {
        Ok(())
    } else {
        Err(ConsoleError::Refused(
            "Only superadmins may rotate signing keys.".to_owned(),
        ))
    }
}

/// `GET /console/keys/rotate`: the confirmation (after a fresh second factor).
pub async fn rotate_confirm(
    state: web::Data<AppState>,
    acting: Acting,
) -> Result<HttpResponse, ConsoleError> {
    superadmin(&acting)?;
    acting.require_recent_second_factor(&state, ROTATE)?;
    Ok(render(
        StatusCode::OK,
        &RotatePage {
            css: css(),
            nav: acting.nav(Section::Keys),
        },
    ))
}

/// `POST /console/keys/rotate`: adds a signing key (ticked "now": it signs at once).
pub async fn rotate(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    // Permission before re-authentication: a fresh code would not make it allowed.
    superadmin(&acting)?;
    acting.require_recent_second_factor(&state, ROTATE)?;
    ops::keys::rotate(
        &Ops::of(&state),
        &acting.ctx,
        &state.kek,
        form.ticked("now"),
    )
    .await?;
    Ok(see_other("/console/keys").finish())
}
