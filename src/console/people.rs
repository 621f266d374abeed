//! The Administrators pages (SPEC §7, §8): the people of the projects the viewer owns (every
//! person for superadmins), a page per person with their memberships, adding people (the
//! enrollment link shown once), a new enrollment link, disabling, deleting, and changing
//! memberships and ceilings (sensitive: a recent second factor). Every change goes through
//! the same domain operations as the admin API, which decide what is allowed.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::account::{CsrfOnly, role_name};
use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, render, see_other};
use crate::ops::{self, Ops, OpsError};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::administrators::{
    Administrator, AdministratorChange, Membership, NewAdministrator, ProjectRole,
};

fn parse_role(s: &str) -> Option<ProjectRole> {
    match s {
        "viewer" => Some(ProjectRole::Viewer),
        "admin" => Some(ProjectRole::Admin),
        "owner" => Some(ProjectRole::Owner),
        _ => None,
    }
}

/// A ceiling as the console shows it.
fn ceiling(scopes: &Option<Vec<String>>) -> String {
    match scopes {
        None => "No limit".to_owned(),
        Some(s) if s.is_empty() => "Nothing".to_owned(),
        Some(s) => s.join(" "),
    }
}

/// The Administrators pages are for project owners and superadmins; a viewer or admin could
/// read people through the operations, but the console offers them nothing here.
fn gate(acting: &Acting) -> Result<(), ConsoleError> {
    if acting.admin.superadmin || acting.projects.iter().any(|p| acting.owns(p)) {
        Ok(())
    } else {
        Err(ConsoleError::Refused(
            "Only project owners and superadmins manage administrators.".into(),
        ))
    }
}

/// A multi-valued form (`scope` repeats), read by key.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn one(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The scopes that may be put in a ceiling in `project`: every permission of the APIs
/// grantable there (its own, shared ones, the admin API).
async fn grantable(
    state: &AppState,
    acting: &Acting,
    project: &str,
) -> Result<Vec<String>, ConsoleError> {
    let apis = ops::catalog::apis(&Ops::of(state), &acting.ctx, Some(project)).await?;
    Ok(apis
        .into_iter()
        .filter(|a| a.grantable_in(project))
        .flat_map(|a| {
            a.permissions
                .iter()
                .map(|p| format!("{}:{p}", a.name))
                .collect::<Vec<_>>()
        })
        .collect())
}

/// One checkbox of a ceiling.
struct ScopeBox {
    value: String,
    checked: bool,
}

fn boxes(all: Vec<String>, ticked: &[String]) -> Vec<ScopeBox> {
    let mut out: Vec<ScopeBox> = all
        .into_iter()
        .map(|value| ScopeBox {
            checked: ticked.contains(&value),
            value,
        })
        .collect();
    // A ticked scope the catalog no longer lists stays visible (and refused by the operation).
    for t in ticked {
        if !out.iter().any(|b| b.value == *t) {
            out.push(ScopeBox {
                value: t.clone(),
                checked: true,
            });
        }
    }
    out
}

fn add_to(slot: &mut Option<String>, message: String) {
    match slot {
        Some(existing) => {
            existing.push_str("; ");
            existing.push_str(&message);
        }
        None => *slot = Some(message),
    }
}

// ---------------------------------------------------------------------------------------
// The table

struct Row {
    id: String,
    name: String,
    email: String,
    enabled: bool,
    enrolled: bool,
    superadmin: bool,
    memberships: String,
    last_sign_in: String,
}

#[derive(Template)]
#[template(path = "console/administrators.html")]
struct ListPage<'a> {
    css: &'a str,
    nav: Nav,
    notice: Option<&'static str>,
    can_add: bool,
    rows: Vec<Row>,
}

/// `?done=`: what the last change did.
#[derive(Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
}

/// `GET /console/administrators`.
pub async fn list(
    state: web::Data<AppState>,
    acting: Acting,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, ConsoleError> {
    gate(&acting)?;
    let people =
        ops::people::administrators(&Ops::of(&state), &acting.ctx, acting.project.as_deref())
            .await?;
    let rows = people
        .into_iter()
        .map(|a| Row {
            memberships: a
                .memberships
                .iter()
                .map(|m| format!("{}: {}", m.project, role_name(m.role)))
                .collect::<Vec<_>>()
                .join(", "),
            last_sign_in: a.last_sign_in_at.map_or_else(|| "Never".to_owned(), when),
            id: a.id,
            name: a.display_name,
            email: a.email,
            enabled: a.enabled,
            enrolled: a.enrolled,
            superadmin: a.superadmin,
        })
        .collect();
    let notice = (query.done == "deleted").then_some("Administrator deleted.");
    Ok(render(
        StatusCode::OK,
        &ListPage {
            css: css(),
            nav: acting.nav(Section::Administrators),
            notice,
            can_add: acting.admin.superadmin,
            rows,
        },
    ))
}

// ---------------------------------------------------------------------------------------
// One person

struct MembershipRow {
    project: String,
    role: &'static str,
    ceiling: String,
    /// Whether the viewer may change or remove it.
    changeable: bool,
}

#[derive(Template)]
#[template(path = "console/administrator.html")]
struct DetailPage<'a> {
    css: &'a str,
    nav: Nav,
    notice: Option<&'static str>,
    person: Administrator,
    created: String,
    last_sign_in: String,
    memberships: Vec<MembershipRow>,
    /// Whether to offer "Add membership".
    can_add_membership: bool,
    /// Whether to offer Disable/Enable, a new enrollment link and Delete (superadmins, not
    /// about themselves).
    manages_person: bool,
    is_self: bool,
}

/// `GET /console/administrators/{id}`.
pub async fn detail(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, ConsoleError> {
    gate(&acting)?;
    let person = ops::people::administrator(&Ops::of(&state), &acting.ctx, &path).await?;
    let is_self = person.id == acting.admin.id;
    // Owners may not change their own memberships (the operation refuses it too).
    let may_change = |p: &str| acting.owns(p) && (acting.admin.superadmin || !is_self);
    let memberships = person
        .memberships
        .iter()
        .map(|m| MembershipRow {
            project: m.project.clone(),
            role: role_name(m.role),
            ceiling: ceiling(&m.scopes),
            changeable: may_change(&m.project),
        })
        .collect();
    let can_add_membership = acting
        .projects
        .iter()
        .any(|p| may_change(p) && person.membership(p).is_none());
    let notice = match query.done.as_str() {
        "added" => Some("Administrator added."),
        "membership" => Some("Membership saved."),
        "removed" => Some("Membership removed."),
        "disabled" => {
            Some("Administrator disabled: their sessions ended and their clients are disabled.")
        }
        "enabled" => {
            Some("Administrator enabled. Their clients stay disabled until enabled again.")
        }
        _ => None,
    };
    Ok(render(
        StatusCode::OK,
        &DetailPage {
            css: css(),
            nav: acting.nav(Section::Administrators),
            notice,
            created: when(person.created_at),
            last_sign_in: person
                .last_sign_in_at
                .map_or_else(|| "Never".to_owned(), when),
            memberships,
            can_add_membership,
            manages_person: acting.admin.superadmin && !is_self,
            is_self,
            person,
        },
    ))
}

/// `POST /console/administrators/{id}/enabled` (`enabled=true|false`): Enable or Disable.
pub async fn set_enabled(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Fields(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    gate(&acting)?;
    let enabled = match form.one("enabled").as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(ConsoleError::BadForm),
    };
    if *path == acting.admin.id {
        return Err(ConsoleError::Refused(
            "You cannot disable or enable yourself; ask another superadmin.".into(),
        ));
    }
    let change = AdministratorChange {
        enabled: Some(enabled),
        ..AdministratorChange::default()
    };
    ops::people::update_administrator(&Ops::of(&state), &acting.ctx, &path, change).await?;
    let done = if enabled { "enabled" } else { "disabled" };
    Ok(see_other(&format!(
        "/console/administrators/{}?done={done}",
        path.as_str()
    ))
    .finish())
}

#[derive(Template)]
#[template(path = "console/administrator_delete.html")]
struct DeletePage<'a> {
    css: &'a str,
    nav: Nav,
    person: Administrator,
}

/// `GET /console/administrators/{id}/delete`: the confirmation naming the person.
pub async fn confirm_delete(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    gate(&acting)?;
    let person = ops::people::administrator(&Ops::of(&state), &acting.ctx, &path).await?;
    if !acting.admin.superadmin {
        return Err(ConsoleError::Refused(
            "Only superadmins delete administrators.".into(),
        ));
    }
    Ok(render(
        StatusCode::OK,
        &DeletePage {
            css: css(),
            nav: acting.nav(Section::Administrators),
            person,
        },
    ))
}

/// `POST /console/administrators/{id}/delete`.
pub async fn delete(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    gate(&acting)?;
    ops::people::delete_administrator(&Ops::of(&state), &acting.ctx, &path).await?;
    Ok(see_other("/console/administrators?done=deleted").finish())
}

// ---------------------------------------------------------------------------------------
// Enrollment links, shown once

#[derive(Template)]
#[template(path = "console/administrator_created.html")]
struct LinkPage<'a> {
    css: &'a str,
    nav: Nav,
    title: &'static str,
    person: Administrator,
    url: &'a str,
}

/// The page showing an enrollment link, once: never cached, never in a URL.
fn link_page(
    acting: &Acting,
    title: &'static str,
    person: Administrator,
    url: &str,
) -> HttpResponse {
    let mut res = render(
        StatusCode::OK,
        &LinkPage {
            css: css(),
            nav: acting.nav(Section::Administrators),
            title,
            person,
            url,
        },
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// `POST /console/administrators/{id}/enrollment`: a new enrollment link for someone who has
/// not enrolled (older unused ones stop working).
pub async fn reissue(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    gate(&acting)?;
    let ops = Ops::of(&state);
    let person = ops::people::administrator(&ops, &acting.ctx, &path).await?;
    if person.enrolled {
        return Err(ConsoleError::Refused(
            "They have enrolled already: they sign in with their password.".into(),
        ));
    }
    let url = ops::people::reissue_enrollment(&ops, &acting.ctx, &path).await?;
    // The operation does not record it: the console does (never the link itself).
    if let Err(e) = crate::store::audit::record(
        &state.db,
        "administrator.enrollment_reissued",
        &acting.ctx.actor,
        Some(&person.id),
        serde_json::json!({}),
    )
    .await
    {
        tracing::warn!(error = %e, "recording a console audit event failed");
    }
    Ok(link_page(&acting, "New enrollment link", person, &url))
}

// ---------------------------------------------------------------------------------------
// Add administrator

#[derive(Default)]
struct NewErrors {
    form: Option<String>,
    email: Option<String>,
    name: Option<String>,
    membership: Option<String>,
}

#[derive(Template)]
#[template(path = "console/administrator_new.html")]
struct NewPage<'a> {
    css: &'a str,
    nav: Nav,
    errors: NewErrors,
    email: String,
    name: String,
    superadmin: bool,
    projects: Vec<String>,
    /// The project of the first membership; empty: none.
    project: String,
    role: &'static str,
    limited: bool,
    scopes: Vec<ScopeBox>,
}

#[derive(Default)]
struct NewEntered {
    email: String,
    name: String,
    superadmin: bool,
    project: String,
    role: Option<ProjectRole>,
    limited: bool,
    scopes: Vec<String>,
}

async fn new_form(
    state: &AppState,
    acting: &Acting,
    entered: NewEntered,
    status: StatusCode,
    errors: NewErrors,
) -> Result<HttpResponse, ConsoleError> {
    if !acting.admin.superadmin {
        return Err(ConsoleError::Refused(
            "Only superadmins add administrators.".into(),
        ));
    }
    let project = if acting.projects.contains(&entered.project) {
        entered.project
    } else {
        String::new()
    };
    let scopes = if project.is_empty() {
        Vec::new()
    } else {
        boxes(grantable(state, acting, &project).await?, &entered.scopes)
    };
    Ok(render(
        status,
        &NewPage {
            css: css(),
            nav: acting.nav(Section::Administrators),
            errors,
            email: entered.email,
            name: entered.name,
            superadmin: entered.superadmin,
            projects: acting.projects.clone(),
            project,
            role: role_name(entered.role.unwrap_or(ProjectRole::Viewer)),
            limited: entered.limited,
            scopes,
        },
    ))
}

/// `?project=`: the project whose scopes the form shows.
#[derive(Deserialize)]
pub struct ProjectQuery {
    #[serde(default)]
    project: String,
}

/// `GET /console/administrators/new`.
pub async fn new(
    state: web::Data<AppState>,
    acting: Acting,
    query: web::Query<ProjectQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let project = if query.project.is_empty() {
        acting.project.clone().unwrap_or_default()
    } else {
        query.project.clone()
    };
    let entered = NewEntered {
        project,
        ..NewEntered::default()
    };
    new_form(
        &state,
        &acting,
        entered,
        StatusCode::OK,
        NewErrors::default(),
    )
    .await
}

/// `POST /console/administrators`: adds the person and shows their enrollment link once.
pub async fn create(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Fields(form.into_inner());
    // Nothing is read or changed for a form without this session's token.
    acting.check_csrf(&form.one("csrf"))?;
    let role_text = form.one("role");
    let entered = NewEntered {
        email: form.one("email").trim().to_owned(),
        name: form.one("name"),
        superadmin: form.one("superadmin") == "on",
        project: form.one("project"),
        role: parse_role(&role_text),
        limited: form.one("ceiling") == "limited",
        scopes: form.all("scope"),
    };
    let mut errors = NewErrors::default();
    if !entered.project.is_empty() && entered.role.is_none() {
        errors.membership = Some("choose a role: viewer, admin or owner".into());
    }
    if errors.membership.is_some() {
        return new_form(
            &state,
            &acting,
            entered,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    }
    let memberships = match entered.role {
        Some(role) if !entered.project.is_empty() => vec![Membership {
            project: entered.project.clone(),
            role,
            scopes: entered.limited.then(|| entered.scopes.clone()),
        }],
        _ => Vec::new(),
    };
    let new = NewAdministrator {
        email: entered.email.clone(),
        display_name: entered.name.clone(),
        superadmin: entered.superadmin,
        memberships,
    };
    let ops = Ops::of(&state);
    let failure = match ops::people::create_administrator(&ops, &acting.ctx, new).await {
        Ok((person, url)) => return Ok(link_page(&acting, "Administrator added", person, &url)),
        Err(e) => e,
    };
    let status = match failure {
        OpsError::Invalid(list) | OpsError::Store(StoreError::Validation(list)) => {
            for (field, message) in list {
                add_new_error(&mut errors, field, message);
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        OpsError::Store(
            StoreError::Invalid { field, message } | StoreError::Conflict { field, message },
        ) => {
            add_new_error(&mut errors, field, message);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        OpsError::Forbidden(message) | OpsError::Conflict(message) => {
            errors.form = Some(message);
            StatusCode::FORBIDDEN
        }
        other => return Err(other.into()),
    };
    new_form(&state, &acting, entered, status, errors).await
}

fn add_new_error(errors: &mut NewErrors, field: &str, message: String) {
    let slot = match field {
        "email" => &mut errors.email,
        "display_name" => &mut errors.name,
        _ => &mut errors.membership,
    };
    add_to(slot, message);
}

// ---------------------------------------------------------------------------------------
// Memberships: add, change, remove (sensitive: a recent second factor)

/// The membership form's path, the page re-authentication returns to.
fn membership_path(id: &str, project: Option<&str>) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    match project.filter(|p| !p.is_empty()) {
        Some(p) => {
            let p: String = url::form_urlencoded::byte_serialize(p.as_bytes()).collect();
            format!("/console/administrators/{id}/membership?project={p}")
        }
        None => format!("/console/administrators/{id}/membership"),
    }
}

fn removal_path(id: &str, project: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let p: String = url::form_urlencoded::byte_serialize(project.as_bytes()).collect();
    format!("/console/administrators/{id}/membership/remove?project={p}")
}

#[derive(Default)]
struct MembershipErrors {
    form: Option<String>,
    role: Option<String>,
    scopes: Option<String>,
}

#[derive(Template)]
#[template(path = "console/membership.html")]
struct MembershipPage<'a> {
    css: &'a str,
    nav: Nav,
    person: Administrator,
    /// Adding a membership (a project to choose) rather than changing one.
    adding: bool,
    /// The projects a membership may be added in (when adding).
    choices: Vec<String>,
    project: String,
    role: &'static str,
    limited: bool,
    scopes: Vec<ScopeBox>,
    errors: MembershipErrors,
}

struct MembershipEntered {
    project: Option<String>,
    role: Option<ProjectRole>,
    limited: Option<bool>,
    scopes: Vec<String>,
}

async fn membership_form(
    state: &AppState,
    acting: &Acting,
    person: Administrator,
    entered: MembershipEntered,
    status: StatusCode,
    errors: MembershipErrors,
) -> Result<HttpResponse, ConsoleError> {
    let existing = entered
        .project
        .as_deref()
        .and_then(|p| person.membership(p))
        .cloned();
    let choices: Vec<String> = acting
        .projects
        .iter()
        .filter(|p| acting.owns(p) && person.membership(p).is_none())
        .cloned()
        .collect();
    let (adding, project) = match &existing {
        Some(m) => (false, m.project.clone()),
        None => {
            let p = entered
                .project
                .clone()
                .filter(|p| choices.contains(p))
                .or_else(|| choices.first().cloned())
                .ok_or_else(|| {
                    ConsoleError::Refused(
                        "There is no project of yours they are not a member of.".into(),
                    )
                })?;
            (true, p)
        }
    };
    let role = entered
        .role
        .or(existing.as_ref().map(|m| m.role))
        .unwrap_or(ProjectRole::Viewer);
    let limited = entered
        .limited
        .unwrap_or_else(|| existing.as_ref().is_some_and(|m| m.scopes.is_some()));
    let ticked = if entered.limited.is_some() {
        entered.scopes
    } else {
        existing
            .as_ref()
            .and_then(|m| m.scopes.clone())
            .unwrap_or_default()
    };
    let scopes = boxes(grantable(state, acting, &project).await?, &ticked);
    Ok(render(
        status,
        &MembershipPage {
            css: css(),
            nav: acting.nav(Section::Administrators),
            person,
            adding,
            choices,
            project,
            role: role_name(role),
            limited,
            scopes,
            errors,
        },
    ))
}

/// `GET /console/administrators/{id}/membership?project=`: change the membership in
/// `project`, or add one (in `project`, or the first project of the viewer's they lack).
pub async fn membership(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    query: web::Query<ProjectQuery>,
) -> Result<HttpResponse, ConsoleError> {
    gate(&acting)?;
    acting.require_recent_second_factor(&state, &membership_path(&path, Some(&query.project)))?;
    let person = ops::people::administrator(&Ops::of(&state), &acting.ctx, &path).await?;
    let entered = MembershipEntered {
        project: Some(query.project.clone()).filter(|p| !p.is_empty()),
        role: None,
        limited: None,
        scopes: Vec::new(),
    };
    membership_form(
        &state,
        &acting,
        person,
        entered,
        StatusCode::OK,
        MembershipErrors::default(),
    )
    .await
}

/// `POST /console/administrators/{id}/membership`: adds or changes the membership in
/// `project` (role and ceiling).
pub async fn save_membership(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Fields(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    gate(&acting)?;
    let project = form.one("project");
    acting.require_recent_second_factor(&state, &membership_path(&path, Some(&project)))?;
    let ops = Ops::of(&state);
    let person = ops::people::administrator(&ops, &acting.ctx, &path).await?;
    let entered = MembershipEntered {
        project: Some(project.clone()),
        role: parse_role(&form.one("role")),
        limited: Some(form.one("ceiling") == "limited"),
        scopes: form.all("scope"),
    };
    let mut errors = MembershipErrors::default();
    let Some(role) = entered.role else {
        errors.role = Some("choose viewer, admin or owner".into());
        return membership_form(
            &state,
            &acting,
            person,
            entered,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        )
        .await;
    };
    // The memberships the viewer sees, with this one added or replaced; the operation keeps
    // those in projects the viewer does not reach.
    let mut wanted: Vec<Membership> = person
        .memberships
        .iter()
        .filter(|m| m.project != project)
        .cloned()
        .collect();
    wanted.push(Membership {
        project: project.clone(),
        role,
        scopes: (entered.limited == Some(true)).then(|| entered.scopes.clone()),
    });
    let change = AdministratorChange {
        memberships: Some(wanted),
        ..AdministratorChange::default()
    };
    let failure =
        match ops::people::update_administrator(&ops, &acting.ctx, &person.id, change).await {
            Ok(_) => {
                return Ok(see_other(&format!(
                    "/console/administrators/{}?done=membership",
                    person.id
                ))
                .finish());
            }
            Err(e) => e,
        };
    let status = match failure {
        OpsError::Invalid(list) | OpsError::Store(StoreError::Validation(list)) => {
            for (_, message) in list {
                add_to(&mut errors.scopes, message);
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        OpsError::Store(StoreError::Invalid { message, .. }) => {
            add_to(&mut errors.scopes, message);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        OpsError::Forbidden(message) | OpsError::Conflict(message) => {
            errors.form = Some(message);
            StatusCode::FORBIDDEN
        }
        other => return Err(other.into()),
    };
    membership_form(&state, &acting, person, entered, status, errors).await
}

#[derive(Template)]
#[template(path = "console/membership_remove.html")]
struct RemovePage<'a> {
    css: &'a str,
    nav: Nav,
    person: Administrator,
    project: String,
    error: Option<String>,
}

/// `GET /console/administrators/{id}/membership/remove?project=`: the confirmation.
pub async fn confirm_remove(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    query: web::Query<ProjectQuery>,
) -> Result<HttpResponse, ConsoleError> {
    gate(&acting)?;
    acting.require_recent_second_factor(&state, &removal_path(&path, &query.project))?;
    let person = ops::people::administrator(&Ops::of(&state), &acting.ctx, &path).await?;
    if person.membership(&query.project).is_none() {
        return Err(ConsoleError::NotFound);
    }
    Ok(render(
        StatusCode::OK,
        &RemovePage {
            css: css(),
            nav: acting.nav(Section::Administrators),
            person,
            project: query.project.clone(),
            error: None,
        },
    ))
}

/// `POST /console/administrators/{id}/membership/remove?project=`.
pub async fn remove(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<String>,
    query: web::Query<ProjectQuery>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    gate(&acting)?;
    let project = query.project.clone();
    acting.require_recent_second_factor(&state, &removal_path(&path, &project))?;
    let ops = Ops::of(&state);
    let person = ops::people::administrator(&ops, &acting.ctx, &path).await?;
    if person.membership(&project).is_none() {
        return Err(ConsoleError::NotFound);
    }
    let wanted: Vec<Membership> = person
        .memberships
        .iter()
        .filter(|m| m.project != project)
        .cloned()
        .collect();
    let change = AdministratorChange {
        memberships: Some(wanted),
        ..AdministratorChange::default()
    };
    match ops::people::update_administrator(&ops, &acting.ctx, &person.id, change).await {
        Ok(_) => Ok(see_other(&format!(
            "/console/administrators/{}?done=removed",
            person.id
        ))
        .finish()),
        Err(OpsError::Forbidden(message) | OpsError::Conflict(message)) => Ok(render(
            StatusCode::FORBIDDEN,
            &RemovePage {
                css: css(),
                nav: acting.nav(Section::Administrators),
                person,
                project,
                error: Some(message),
            },
        )),
        Err(e) => Err(e.into()),
    }
}
