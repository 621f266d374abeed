//! The Audit log page (SPEC §5, §8): admin changes and token counters, newest first, paged on
//! the server, filtered by event type, client id and dates; narrowed to the project chosen in
//! the switcher. `ops::keys::audit_events` decides what the person may see.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::fields::FieldErrors;
use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, render};
use crate::ops::{self, Ops, OpsError};
use crate::state::AppState;
use crate::store::audit::AuditFilter;

/// Events per page.
pub const PAGE_SIZE: u64 = 50;

/// Longest details text shown in the table.
const DETAILS_CHARS: usize = 240;

/// Event types offered as suggestions for the Event type filter (any type may be typed).
const TYPES: &[&str] = &[
    "administrator.created",
    "administrator.updated",
    "administrator.deleted",
    "api.created",
    "api.updated",
    "api.deleted",
    "client.created",
    "client.updated",
    "client.deleted",
    "client.transferred",
    "key.rotated",
    "project.created",
    "project.updated",
    "project.deleted",
    "role.created",
    "role.updated",
    "role.deleted",
    "secret.added",
    "secret.deleted",
    "secret.reset",
    "token.issued",
    "token.revoked",
];

/// `?type=&client_id=&since=&until=&page=`; dates are `YYYY-MM-DD` (UTC days, both included).
#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    page: Option<String>,
}

struct Row {
    time: String,
    kind: String,
    actor: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage<'a> {
    css: &'a str,
    nav: Nav,
    notice: Option<String>,
    errors: FieldErrors,
    kind: String,
    client_id: String,
    since: String,
    until: String,
    types: &'static [&'static str],
    rows: Vec<Row>,
    total: u64,
    page: u64,
    pages: u64,
    prev: Option<String>,
    next: Option<String>,
}

/// The start of day `value` (UTC), or `None` for an empty field.
fn day(value: &str) -> Result<Option<NaiveDate>, ()> {
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| ())
}

fn start_of(d: NaiveDate) -> Option<DateTime<Utc>> {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
}

/// The details as one short line of JSON.
fn compact(details: &serde_json::Value) -> String {
    if details.as_object().is_some_and(serde_json::Map::is_empty) || details.is_null() {
        return String::new();
    }
    let text = details.to_string();
    if text.chars().count() > DETAILS_CHARS {
        let mut short: String = text.chars().take(DETAILS_CHARS).collect();
        short.push('…');
        short
    } else {
        text
    }
}

/// `GET /console/audit`.
pub async fn list(
    state: web::Data<AppState>,
    acting: Acting,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let q = query.into_inner();
    let kind = q.kind.trim().chars().take(100).collect::<String>();
    let client_id = q.client_id.trim().chars().take(200).collect::<String>();
    let (since, until) = (q.since.trim().to_owned(), q.until.trim().to_owned());
    let mut errors = FieldErrors::default();
    let from = day(&since).unwrap_or_else(|()| {
        errors.add("since", "must be a date such as 2026-01-31".into());
        None
    });
    let to = day(&until).unwrap_or_else(|()| {
        errors.add("until", "must be a date such as 2026-01-31".into());
        None
    });
    let page = q
        .page
        .as_deref()
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, u64::MAX / PAGE_SIZE);
    let mut page_view = AuditPage {
        css: css(),
        nav: acting.nav(Section::Audit),
        notice: None,
        errors,
        kind,
        client_id,
        since,
        until,
        types: TYPES,
        rows: Vec::new(),
        total: 0,
        page,
        pages: 1,
        prev: None,
        next: None,
    };
    if page_view.errors.has("since") || page_view.errors.has("until") {
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page_view));
    }
    let filter = AuditFilter {
        client_id: (!page_view.client_id.is_empty()).then(|| page_view.client_id.clone()),
        among: None,
        projects: acting.project.clone().map(|p| vec![p]),
        kind: (!page_view.kind.is_empty()).then(|| page_view.kind.clone()),
        since: from.and_then(start_of),
        // The until day is included: up to the start of the next one.
        until: to.and_then(|d| d.succ_opt()).and_then(start_of),
    };
    let (events, total) = match ops::keys::audit_events(
        &Ops::of(&state),
        &acting.ctx,
        filter,
        (page - 1) * PAGE_SIZE,
        PAGE_SIZE,
    )
    .await
    {
        Ok(found) => found,
        Err(OpsError::Forbidden(message)) => {
            page_view.notice = Some(message);
            return Ok(render(StatusCode::FORBIDDEN, &page_view));
        }
        Err(e) => return Err(e.into()),
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    page_view.rows = events
        .into_iter()
        .map(|e| Row {
            time: when(e.time),
            details: compact(&e.details),
            kind: e.kind,
            actor: e.actor.display,
            target: e.target.unwrap_or_default(),
        })
        .collect();
    page_view.prev = (page > 1).then(|| link(&page_view, page - 1));
    page_view.next = (page < pages).then(|| link(&page_view, page + 1));
    page_view.total = total;
    page_view.pages = pages;
    Ok(render(StatusCode::OK, &page_view))
}

/// A link to `page` with the same filters.
fn link(p: &AuditPage<'_>, page: u64) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("type", &p.kind),
        ("client_id", &p.client_id),
        ("since", &p.since),
        ("until", &p.until),
    ] {
        if !v.is_empty() {
            url.append_pair(k, v);
        }
    }
    url.append_pair("page", &page.to_string());
    format!("/console/audit?{}", url.finish())
}
