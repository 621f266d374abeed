//! One client's page (SPEC §8 "Client details"): what it is and who owns it, its permissions
//! (edited in place by managers), its secrets (add with an optional expiry, delete, Reset
//! secret), the Enabled switch, Delete client, tokens issued per hour over 24 hours as a
//! server-rendered SVG chart, and its audit events. Every change calls the same operation as
//! the admin API; new secrets are shown once, by the GET a change redirects to.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use serde::Deserialize;

use super::clients::{ApiRow, CLIENT_FIELDS, Entered, Grants, RoleRow, grants};
use super::fields::{FieldErrors, Posted};
use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, render, see_other};
use crate::ops::{self, Ops};
use crate::secret::ClientSecret;
use crate::signin::sessions::{self, Pending, RevealKind};
use crate::state::AppState;
use crate::store::{Client, ClientFields};

/// Audit events shown on the page (the Audit log has them all).
const EVENTS_SHOWN: u64 = 20;

/// One bar of the chart, in the SVG's coordinates.
struct Bar {
    /// The hour, e.g. `14:00`, and its count (for the table beside the drawing).
    hour: String,
    count: u64,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    label: String,
}

/// Tokens issued per hour over the last 24 hours, drawn on the server (no script, no inline
/// style: the CSP allows neither).
struct Chart {
    bars: Vec<Bar>,
    /// Hour labels under every sixth bar.
    ticks: Vec<(u32, String)>,
    total: u64,
    peak: u64,
}

/// The chart's geometry (viewBox units).
const CHART_W: u32 = 480;
const CHART_TOP: u32 = 16;
const CHART_BASE: u32 = 136;
const BAR_STEP: u32 = CHART_W / 24;
const BAR_W: u32 = BAR_STEP - 6;

impl Chart {
    fn new(hourly: &[u64], from: chrono::DateTime<chrono::Utc>) -> Self {
        let peak = hourly.iter().copied().max().unwrap_or(0);
        let room = u64::from(CHART_BASE - CHART_TOP);
        let bars = hourly
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let hour = from + chrono::Duration::hours(i as i64);
                // Any use shows: at least 2 units tall.
                let height = if n == 0 {
                    0
                } else {
                    u32::try_from((n * room).div_ceil(peak.max(1)))
                        .unwrap_or(0)
                        .max(2)
                };
                Bar {
                    hour: hour.format("%H:00").to_string(),
                    count: n,
                    x: i as u32 * BAR_STEP + 3,
                    width: BAR_W,
                    y: CHART_BASE - height,
                    height,
                    label: format!(
                        "{}–{}: {n} token{}",
                        hour.format("%H:00"),
                        (hour + chrono::Duration::hours(1)).format("%H:00 UTC"),
                        if n == 1 { "" } else { "s" }
                    ),
                }
            })
            .collect();
        let ticks = (0..24)
            .step_by(6)
            .map(|i| {
                let hour = from + chrono::Duration::hours(i);
                (
                    i as u32 * BAR_STEP + BAR_STEP / 2,
                    hour.format("%H:00").to_string(),
                )
            })
            .collect();
        Chart {
            bars,
            ticks,
            total: hourly.iter().sum(),
            peak,
        }
    }
}

struct SecretRow {
    id: String,
    masked: String,
    created: String,
    expires: String,
    last_used: String,
}

struct EventRow {
    time: String,
    kind: String,
    actor: String,
    details: String,
}

#[derive(Template)]
#[template(path = "console/client.html")]
struct ClientPage<'a> {
    css: &'a str,
    nav: Nav,
    reset_message: &'static str,
    delete_message: String,
    /// When the chart's first hour begins.
    since: String,
    client: Client,
    created: String,
    last_used: String,
    owner: String,
    token_url: String,
    /// Whether the person may change this client (the operation still decides).
    manages: bool,
    /// How it authenticates, as a person reads it.
    auth_method: &'static str,
    /// Whether it authenticates with secrets (else it has none to reset or add).
    uses_secret: bool,
    /// Whether a sensitive change would go ahead now (else its link leads through
    /// re-authentication rather than a dialog).
    recent: bool,
    notice: Option<String>,
    errors: FieldErrors,
    entered: Entered,
    apis: Vec<ApiRow>,
    other: Vec<String>,
    roles: Vec<RoleRow>,
    secrets: Vec<SecretRow>,
    chart: Chart,
    events: Vec<EventRow>,
    events_total: u64,
}

#[derive(Template)]
#[template(path = "console/client_secret.html")]
struct SecretPage<'a> {
    css: &'a str,
    nav: Nav,
    kind: RevealKind,
    name: String,
    client_id: String,
    client_secret: &'a str,
    token_url: String,
}

/// A confirmation page: a question, what follows, and the one button that does it.
#[derive(Template)]
#[template(path = "console/confirm.html")]
pub(super) struct ConfirmPage<'a> {
    pub css: &'a str,
    pub nav: Nav,
    pub title: String,
    pub message: String,
    pub action: String,
    pub button: &'static str,
    pub danger: bool,
    pub cancel: String,
}

/// What Reset secret does, said by its dialog and its confirmation page alike.
const RESET_MESSAGE: &str = "A new secret is made and shown once. Every older secret of this \
    client stops working at once: update whatever uses it.";

/// What Delete client does, said by its dialog and its confirmation page alike.
fn delete_message(client: &Client) -> String {
    format!(
        "Client {} ({}) and its secrets are deleted, and its tokens stop being active. Clients \
         it created are disabled. This cannot be undone.",
        client.name, client.client_id
    )
}

/// The client page with `notice`, `errors` and the edit form as `entered` (or as stored).
async fn page(
    state: &AppState,
    acting: &Acting,
    client_id: &str,
    status: StatusCode,
    notice: Option<String>,
    errors: FieldErrors,
    entered: Option<Entered>,
) -> Result<HttpResponse, ConsoleError> {
    let ops = Ops::of(state);
    let o = ops::clients::overview(&ops, &acting.ctx, client_id, EVENTS_SHOWN).await?;
    let entered = entered.unwrap_or_else(|| {
        Entered {
            project: Some(o.client.project.clone()),
            name: o.client.name.clone(),
            description: o.client.description.clone(),
            scopes: o.client.scopes.iter().cloned().collect(),
            roles: o.client.roles.iter().cloned().collect(),
            allowed_ips: o.client.allowed_ips.join("\n"),
            token_ttl: o
                .client
                .token_ttl_seconds
                .map(|t| t.to_string())
                .unwrap_or_default(),
            ..Entered::default()
        }
        .with_auth(&o.client.auth_fields())
    });
    let manages = acting.manages(&o.client.project);
    let Grants { apis, other, roles } = grants(state, acting, &o.client.project, &entered).await?;
    let never = || "Never".to_owned();
    let secrets = o
        .secrets
        .into_iter()
        .map(|s| SecretRow {
            id: s.secret_id,
            masked: s.masked,
            created: when(s.created_at),
            expires: s.expires_at.map_or_else(|| "Never".to_owned(), when),
            last_used: s.last_used_at.map_or_else(never, when),
        })
        .collect();
    let events = o
        .events
        .into_iter()
        .map(|e| EventRow {
            time: when(e.time),
            actor: e.actor.display,
            details: compact(&e.details),
            kind: e.kind,
        })
        .collect();
    let mut res = render(
        status,
        &ClientPage {
            css: css(),
            nav: acting.nav(Section::Clients),
            owner: o.owner.unwrap_or_else(|| "None (a root client)".to_owned()),
            token_url: format!("{}/oauth2/token", state.issuer),
            manages,
            auth_method: super::clients::auth_method_label(o.client.token_endpoint_auth_method),
            uses_secret: o.client.token_endpoint_auth_method.uses_secret(),
            recent: acting.signed_in.check_recent_second_factor(state).is_ok(),
            notice,
            errors,
            entered,
            apis,
            other,
            roles,
            secrets,
            chart: Chart::new(&o.hourly, o.hours_from),
            events,
            events_total: o.events_total,
            reset_message: RESET_MESSAGE,
            delete_message: delete_message(&o.client),
            since: o.hours_from.format("%Y-%m-%d %H:00 UTC").to_string(),
            created: when(o.client.created_at),
            last_used: o.client.last_used_at.map_or_else(never, when),
            client: o.client,
        },
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// An event's details on one line (names of fields and counts; never secret values, which
/// the audit trail does not hold).
fn compact(details: &serde_json::Value) -> String {
    match details {
        serde_json::Value::Object(m) if m.is_empty() => String::new(),
        serde_json::Value::Null => String::new(),
        other => {
            let mut s = other.to_string();
            if s.len() > 160 {
                let mut end = 157;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.truncate(end);
                s.push('…');
            }
            s
        }
    }
}

/// `?notice=`: what the last change did, from a fixed list (never free text from the URL).
#[derive(Deserialize)]
pub struct ShowQuery {
    notice: Option<String>,
}

fn notice_text(key: &str) -> Option<String> {
    Some(
        match key {
            "saved" => "Changes saved.",
            "enabled" => "The client is enabled: it can get tokens again.",
            "disabled" => "The client is disabled: it gets no new tokens, and its tokens are no longer active.",
            "secret-deleted" => "The secret was deleted: it stopped working at once.",
            "secret-gone" => "That secret was shown once and is no longer available. Reset the secret or add one if it was lost.",
            _ => return None,
        }
        .to_owned(),
    )
}

/// `GET /console/clients/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
    query: web::Query<ShowQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let notice = query.notice.as_deref().and_then(notice_text);
    page(
        &state,
        &acting,
        &id,
        StatusCode::OK,
        notice,
        FieldErrors::default(),
        None,
    )
    .await
}

/// `POST /console/clients/{id}`: Save changes (name, description, permissions, roles,
/// allowed IP ranges, token lifetime); the state stays as it is.
pub async fn update(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let ops = Ops::of(&state);
    let current = ops::clients::current(&ops, &acting.ctx, &id).await?;
    let entered = Entered::from_form(&form);
    let result = match entered.fields(current.enabled) {
        Err(errors) => Err((StatusCode::UNPROCESSABLE_ENTITY, errors)),
        Ok(fields) => {
            // New keys, a new certificate or a new method let whoever holds them get tokens:
            // as sensitive as a new secret, so it needs a recent second factor too. The
            // change is made again after it (the form is not kept across sign-in steps).
            if fields.auth.as_ref() != Some(&current.auth_fields()) {
                acting.require_recent_second_factor(&state, &format!("/console/clients/{id}"))?;
            }
            match ops::clients::replace(&ops, &acting.ctx, &id, fields).await {
                Ok(_) => Ok(()),
                Err(e) => Err(FieldErrors::of(e, CLIENT_FIELDS)?),
            }
        }
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/console/clients/{id}?notice=saved")).finish()),
        Err((status, errors)) => {
            page(&state, &acting, &id, status, None, errors, Some(entered)).await
        }
    }
}

/// The Enabled switch's form.
#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(default)]
    csrf: String,
    /// The state wanted: `true` or `false`.
    #[serde(default)]
    enabled: String,
}

#[derive(Template)]
#[template(path = "console/client_switch.html")]
struct SwitchFragment<'a> {
    nav_csrf: &'a str,
    client_id: &'a str,
    enabled: bool,
    /// What happened, for the page's live region.
    message: Option<String>,
    /// Whether the status badge and the live region come along out of band (an htmx answer).
    oob: bool,
}

/// `POST /console/clients/{id}/enabled`: the Enabled switch. A plain form gets a redirect to
/// the page; htmx (`HX-Request`) gets the switch alone, redrawn in its new state.
pub async fn set_enabled(
    state: web::Data<AppState>,
    req: HttpRequest,
    acting: Acting,
    id: web::Path<String>,
    form: web::Form<EnabledForm>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    let wanted = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(ConsoleError::BadForm),
    };
    let ops = Ops::of(&state);
    let current = ops::clients::current(&ops, &acting.ctx, &id).await?;
    let before = current.enabled;
    let fields = ClientFields {
        enabled: wanted,
        name: current.name,
        description: current.description,
        scopes: current.scopes,
        roles: current.roles,
        allowed_ips: current.allowed_ips,
        token_ttl_seconds: current.token_ttl_seconds,
        auth: None,
    };
    let outcome = ops::clients::replace(&ops, &acting.ctx, &id, fields)
        .await
        .map_err(ConsoleError::from);
    let htmx = req.headers().contains_key("hx-request");
    let fragment = |enabled: bool, message: Option<String>| {
        render(
            StatusCode::OK,
            &SwitchFragment {
                nav_csrf: &acting.session().csrf_token,
                client_id: &id,
                enabled,
                message,
                oob: true,
            },
        )
    };
    match (outcome, htmx) {
        (Ok(c), true) => Ok(fragment(c.enabled, None)),
        (Ok(c), false) => {
            let notice = if c.enabled { "enabled" } else { "disabled" };
            Ok(see_other(&format!("/console/clients/{id}?notice={notice}")).finish())
        }
        // Refused (e.g. enabling a client whose owner is disabled): said beside the switch.
        (Err(e @ (ConsoleError::Conflict(_) | ConsoleError::Refused(_))), true) => {
            Ok(fragment(before, Some(e.to_string())))
        }
        (Err(e @ (ConsoleError::Conflict(_) | ConsoleError::Refused(_))), false) => {
            let status = e.status_code();
            page(
                &state,
                &acting,
                &id,
                status,
                None,
                FieldErrors::about_form(e.to_string()),
                None,
            )
            .await
        }
        (Err(e), _) => Err(e),
    }
}

/// Holds a new secret for the one GET that shows it, and redirects there.
async fn reveal(
    state: &AppState,
    acting: &Acting,
    client_id: &str,
    kind: RevealKind,
    secret: &ClientSecret,
) -> Result<HttpResponse, ConsoleError> {
    let sealed = state
        .kek
        .seal(secret.expose().as_bytes())
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    let pending = Pending::Reveal {
        client_id: client_id.to_owned(),
        kind,
        sealed,
    };
    sessions::set_pending(&state.db, acting.session(), Some(&pending)).await?;
    Ok(see_other(&format!("/console/clients/{client_id}/secret")).finish())
}

/// `GET /console/clients/{id}/secret`: the secret just made, once. A reload, another tab or
/// the back button finds nothing and returns to the client's page.
pub async fn secret(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let gone = || see_other(&format!("/console/clients/{id}?notice=secret-gone")).finish();
    let pending = acting.session().pending.clone();
    let Some(Pending::Reveal {
        client_id,
        kind,
        sealed,
    }) = &pending
    else {
        return Ok(gone());
    };
    if *client_id != *id {
        return Ok(gone());
    }
    // Read first: a failure here must not spend the one showing.
    let client = ops::clients::read(&Ops::of(&state), &acting.ctx, &id).await?;
    let plain = state
        .kek
        .open("console", sealed)
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    let secret =
        zeroize::Zeroizing::new(String::from_utf8(plain).map_err(|_| ConsoleError::Unavailable)?);
    let Some(pending) = &pending else {
        return Ok(gone());
    };
    if !sessions::take_pending(&state.db, acting.session(), pending).await? {
        return Ok(gone());
    }
    let mut res = render(
        StatusCode::OK,
        &SecretPage {
            css: css(),
            nav: acting.nav(Section::Clients),
            kind: *kind,
            name: client.name,
            client_id: client.client_id,
            client_secret: &secret,
            token_url: format!("{}/oauth2/token", state.issuer),
        },
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// After a new client is made: its first secret, shown once.
pub(super) async fn reveal_created(
    state: &AppState,
    acting: &Acting,
    client_id: &str,
    secret: &ClientSecret,
) -> Result<HttpResponse, ConsoleError> {
    reveal(state, acting, client_id, RevealKind::Created, secret).await
}

/// `GET /console/clients/{id}/reset`: the confirmation (after re-authentication if due).
pub async fn reset_confirm(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let here = format!("/console/clients/{id}/reset");
    // The right to change it first: no code is asked of someone who may not.
    let client = ops::clients::current(&Ops::of(&state), &acting.ctx, &id).await?;
    acting.require_recent_second_factor(&state, &here)?;
    Ok(render(
        StatusCode::OK,
        &ConfirmPage {
            css: css(),
            nav: acting.nav(Section::Clients),
            title: format!("Reset the secret of {}?", client.name),
            message: RESET_MESSAGE.to_owned(),
            action: here,
            button: "Reset secret",
            danger: true,
            cancel: format!("/console/clients/{id}"),
        },
    ))
}

/// A form with nothing but the CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/clients/{id}/reset`: Reset secret.
pub async fn reset(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    ops::clients::current(&Ops::of(&state), &acting.ctx, &id).await?;
    acting.require_recent_second_factor(&state, &format!("/console/clients/{id}/reset"))?;
    let (_, secret) = ops::clients::reset_secret(&Ops::of(&state), &acting.ctx, &id).await?;
    reveal(&state, &acting, &id, RevealKind::Reset, &secret).await
}

/// The Add secret form.
#[derive(Deserialize)]
pub struct AddSecretForm {
    #[serde(default)]
    csrf: String,
    /// `YYYY-MM-DD`: it stops working at 00:00 UTC that day; empty for never.
    #[serde(default)]
    expires: String,
}

/// `POST /console/clients/{id}/secrets`: a new secret beside the others (a working
/// credential, so as sensitive as a reset).
pub async fn add_secret(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
    form: web::Form<AddSecretForm>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    ops::clients::current(&Ops::of(&state), &acting.ctx, &id).await?;
    acting.require_recent_second_factor(&state, &format!("/console/clients/{id}"))?;
    let expires = form.expires.trim();
    let expires_at = if expires.is_empty() {
        None
    } else {
        match chrono::NaiveDate::parse_from_str(expires, "%Y-%m-%d") {
            Ok(d) if d > chrono::Utc::now().date_naive() => {
                d.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
            }
            _ => {
                return page(
                    &state,
                    &acting,
                    &id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    FieldErrors::beside("expires_at", "must be a date after today (YYYY-MM-DD)"),
                    None,
                )
                .await;
            }
        }
    };
    match ops::clients::add_secret(&Ops::of(&state), &acting.ctx, &id, expires_at).await {
        Ok((_, secret)) => reveal(&state, &acting, &id, RevealKind::Added, &secret).await,
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, &["expires_at"])?;
            page(&state, &acting, &id, status, None, errors, None).await
        }
    }
}

/// `GET /console/clients/{id}/secrets/{secret}/delete`: the confirmation.
pub async fn delete_secret_confirm(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (id, secret_id) = path.into_inner();
    let ops = Ops::of(&state);
    let client = ops::clients::current(&ops, &acting.ctx, &id).await?;
    let masked = ops::clients::secrets(&ops, &acting.ctx, &id)
        .await?
        .into_iter()
        .find(|s| s.secret_id == secret_id)
        .ok_or(ConsoleError::NotFound)?
        .masked;
    Ok(render(
        StatusCode::OK,
        &ConfirmPage {
            css: css(),
            nav: acting.nav(Section::Clients),
            title: format!("Delete secret {masked} of {}?", client.name),
            message: "It stops working at once.".to_owned(),
            action: format!("/console/clients/{id}/secrets/{secret_id}/delete"),
            button: "Delete secret",
            danger: true,
            cancel: format!("/console/clients/{id}"),
        },
    ))
}

/// `POST /console/clients/{id}/secrets/{secret}/delete`.
pub async fn delete_secret(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    let (id, secret_id) = path.into_inner();
    ops::clients::delete_secret(&Ops::of(&state), &acting.ctx, &id, &secret_id).await?;
    Ok(see_other(&format!("/console/clients/{id}?notice=secret-deleted")).finish())
}

/// `GET /console/clients/{id}/delete`: the confirmation naming the client.
pub async fn delete_confirm(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let here = format!("/console/clients/{id}/delete");
    let client = ops::clients::current(&Ops::of(&state), &acting.ctx, &id).await?;
    acting.require_recent_second_factor(&state, &here)?;
    Ok(render(
        StatusCode::OK,
        &ConfirmPage {
            css: css(),
            nav: acting.nav(Section::Clients),
            title: format!("Delete client {}?", client.name),
            message: delete_message(&client),
            action: here,
            button: "Delete client",
            danger: true,
            cancel: format!("/console/clients/{id}"),
        },
    ))
}

/// `POST /console/clients/{id}/delete`: Delete client.
pub async fn delete(
    state: web::Data<AppState>,
    acting: Acting,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    ops::clients::current(&Ops::of(&state), &acting.ctx, &id).await?;
    acting.require_recent_second_factor(&state, &format!("/console/clients/{id}/delete"))?;
    ops::clients::delete(&Ops::of(&state), &acting.ctx, &id).await?;
    Ok(see_other("/console/clients?deleted=1").finish())
}
