//! The Projects pages (SPEC §7, §8): the projects the person sees, with their role in each;
//! for superadmins Create project, a description to change, and Delete project behind a
//! confirmation page (a project still holding clients needs "also delete its clients", the
//! command line's `--force`). Handlers call `ops::people`, which decides.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::fields::{FieldErrors, Posted};
use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, render, see_other};
use crate::ops::{self, Ops, OpsError};
use crate::state::AppState;
use crate::store::clients::{ClientQuery, ClientSort};
use crate::store::projects::{DEFAULT, Project};

const FIELDS: &[&str] = &["name", "display_name", "description"];

struct Row {
    name: String,
    display_name: String,
    description: String,
    role: String,
    created: String,
}

/// The person's role in `project`, in words.
fn role_in(acting: &Acting, project: &str) -> String {
    match acting.admin.membership(project) {
        Some(m) => format!("{:?}", m.role).to_lowercase(),
        None if acting.admin.superadmin => "superadmin".to_owned(),
        None => String::new(),
    }
}

#[derive(Template)]
#[template(path = "console/projects.html")]
struct ProjectsPage<'a> {
    css: &'a str,
    nav: Nav,
    notice: Option<String>,
    superadmin: bool,
    rows: Vec<Row>,
}

/// `GET /console/projects`.
pub async fn list(
    state: web::Data<AppState>,
    acting: Acting,
) -> Result<HttpResponse, ConsoleError> {
    let (status, notice, projects) =
        match ops::people::projects(&Ops::of(&state), &acting.ctx).await {
            Ok(p) => (StatusCode::OK, None, p),
            Err(OpsError::Forbidden(message)) => (StatusCode::FORBIDDEN, Some(message), Vec::new()),
            Err(e) => return Err(e.into()),
        };
    let rows = projects
        .into_iter()
        .map(|p| Row {
            role: role_in(&acting, &p.name),
            created: when(p.created_at),
            name: p.name,
            display_name: p.display_name,
            description: p.description,
        })
        .collect();
    Ok(render(
        status,
        &ProjectsPage {
            css: css(),
            nav: acting.nav(Section::Projects),
            notice,
            superadmin: acting.admin.superadmin,
            rows,
        },
    ))
}

/// What the Create project form held.
#[derive(Default)]
struct Entered {
    name: String,
    display_name: String,
    description: String,
}

#[derive(Template)]
#[template(path = "console/projects_new.html")]
struct NewPage<'a> {
    css: &'a str,
    nav: Nav,
    errors: FieldErrors,
    entered: Entered,
}

fn new_page(
    acting: &Acting,
    entered: Entered,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, ConsoleError> {
    if !acting.admin.superadmin {
        return Err(ConsoleError::Refused(
            "Only superadmins may create projects.".to_owned(),
        ));
    }
    Ok(render(
        status,
        &NewPage {
            css: css(),
            nav: acting.nav(Section::Projects),
            errors,
            entered,
        },
    ))
}

/// `GET /console/projects/_new` (`_` is in no project name, so the path never hides a
/// project's page).
pub async fn new(acting: Acting) -> Result<HttpResponse, ConsoleError> {
    new_page(
        &acting,
        Entered::default(),
        StatusCode::OK,
        FieldErrors::default(),
    )
}

/// `POST /console/projects`: makes a project, then shows it.
pub async fn create(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let entered = Entered {
        name: form.one("name").trim().to_owned(),
        display_name: form.one("display_name"),
        description: form.one("description"),
    };
    match ops::people::create_project(
        &Ops::of(&state),
        &acting.ctx,
        &entered.name,
        &entered.display_name,
        &entered.description,
    )
    .await
    {
        Ok(p) => Ok(see_other(&format!("/console/projects/{}", p.name)).finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, FIELDS)?;
            if status == StatusCode::FORBIDDEN {
                // Not a superadmin: no form to show again.
                return Err(ConsoleError::Refused(errors.form.unwrap_or_default()));
            }
            new_page(&acting, entered, status, errors)
        }
    }
}

#[derive(Template)]
#[template(path = "console/projects_show.html")]
struct ShowPage<'a> {
    css: &'a str,
    nav: Nav,
    project: Project,
    created: String,
    role: String,
    /// Superadmins change and delete projects.
    can_change: bool,
    can_delete: bool,
    errors: FieldErrors,
    display_name: String,
    description: String,
}

fn show_page(
    acting: &Acting,
    project: Project,
    status: StatusCode,
    errors: FieldErrors,
    entered: Option<(String, String)>,
) -> HttpResponse {
    let (display_name, description) =
        entered.unwrap_or_else(|| (project.display_name.clone(), project.description.clone()));
    render(
        status,
        &ShowPage {
            css: css(),
            nav: acting.nav(Section::Projects),
            created: when(project.created_at),
            role: role_in(acting, &project.name),
            can_change: acting.admin.superadmin,
            can_delete: acting.admin.superadmin && project.name != DEFAULT,
            project,
            errors,
            display_name,
            description,
        },
    )
}

/// `GET /console/projects/{name}`.
pub async fn show(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let project = ops::people::project(&Ops::of(&state), &acting.ctx, &name).await?;
    Ok(show_page(
        &acting,
        project,
        StatusCode::OK,
        FieldErrors::default(),
        None,
    ))
}

/// `POST /console/projects/{name}`: Save changes (display name, description).
pub async fn update(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let ops = Ops::of(&state);
    let (display_name, description) = (form.one("display_name"), form.one("description"));
    match ops::people::update_project(
        &ops,
        &acting.ctx,
        &name,
        Some(display_name.clone()),
        Some(description.clone()),
    )
    .await
    {
        Ok(p) => Ok(see_other(&format!("/console/projects/{}", p.name)).finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, FIELDS)?;
            let project = ops::people::project(&ops, &acting.ctx, &name).await?;
            Ok(show_page(
                &acting,
                project,
                status,
                errors,
                Some((display_name, description)),
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "console/projects_delete.html")]
struct DeletePage<'a> {
    css: &'a str,
    nav: Nav,
    name: String,
    display_name: String,
    clients: u64,
    error: Option<String>,
}

/// The confirmation: the project, and how many clients it still holds.
async fn delete_page(
    state: &AppState,
    acting: &Acting,
    name: &str,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, ConsoleError> {
    if !acting.admin.superadmin || name == DEFAULT {
        return Err(ConsoleError::Refused(
            "Only superadmins may delete projects, and never the default one.".to_owned(),
        ));
    }
    let ops = Ops::of(state);
    let project = ops::people::project(&ops, &acting.ctx, name).await?;
    let count = ClientQuery {
        text: None,
        enabled: None,
        sort: ClientSort::Name,
        descending: false,
        offset: 0,
        limit: 1,
    };
    let (_, clients) = ops::clients::search(&ops, &acting.ctx, Some(name), &count).await?;
    if clients > 0 {
        // Its clients go with it: deleting clients is a sensitive change.
        acting.require_recent_second_factor(state, &format!("/console/projects/{name}/delete"))?;
    }
    Ok(render(
        status,
        &DeletePage {
            css: css(),
            nav: acting.nav(Section::Projects),
            name: project.name,
            display_name: project.display_name,
            clients,
            error,
        },
    ))
}

/// `GET /console/projects/{name}/delete`.
pub async fn delete_confirm(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    delete_page(&state, &acting, &name, StatusCode::OK, None).await
}

/// `POST /console/projects/{name}/delete`: Delete project; with "force" ticked, its clients
/// are disabled and deleted first (deleting clients: a sensitive change, SPEC §7).
pub async fn delete(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let force = form.ticked("force");
    // Permission before re-authentication: a fresh code would not make it allowed.
    if !acting.admin.superadmin {
        return Err(ConsoleError::Refused(
            "Only superadmins may delete projects.".to_owned(),
        ));
    }
    if force {
        acting.require_recent_second_factor(&state, &format!("/console/projects/{name}/delete"))?;
    }
    match ops::people::delete_project(&Ops::of(&state), &acting.ctx, &name, force).await {
        Ok(()) => Ok(see_other("/console/projects").finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, &[])?;
            delete_page(&state, &acting, &name, status, errors.form).await
        }
    }
}
