//! The APIs and Roles pages (SPEC §8): tables of what the person's projects see, Create API
//! and Create role for those who manage a project, a page per API or role to change it, and
//! a confirmation page of its own before a delete. Every handler calls the same domain
//! operations as the admin API (`ops::catalog`), which decide; the pages only hide what they
//! would refuse.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::clients::ApiRow as GridRow;
use super::fields::{FieldErrors, Posted};
use super::layout::{Acting, Nav, Section, when};
use super::{ConsoleError, css, render, see_other};
use crate::ops::{self, Ops, OpsError};
use crate::state::AppState;
use crate::store::apis::ADMIN_API;
use crate::store::{Api, NewApi, roles::Role};

/// The fields of the API forms, for errors shown beside them.
const API_FIELDS: &[&str] = &["name", "audience", "permissions", "project", "shared"];

/// The fields of the role forms.
const ROLE_FIELDS: &[&str] = &["name", "description", "scopes", "project"];

/// `?project=` on Create forms: which of the person's projects to show.
#[derive(Deserialize)]
pub struct ProjectQuery {
    project: Option<String>,
}

/// The projects where the person may change the catalog, or a refusal.
fn managed(acting: &Acting, what: &str) -> Result<Vec<String>, ConsoleError> {
    let projects: Vec<String> = acting
        .projects
        .iter()
        .filter(|p| acting.manages(p))
        .cloned()
        .collect();
    if projects.is_empty() {
        Err(ConsoleError::Refused(format!(
            "You may not create {what} in any project."
        )))
    } else {
        Ok(projects)
    }
}

/// The project a Create form shows: the one asked for, else the switcher's, else the first.
fn chosen(acting: &Acting, projects: &[String], asked: Option<String>) -> String {
    asked
        .or_else(|| acting.project.clone())
        .filter(|p| projects.contains(p))
        .unwrap_or_else(|| projects[0].clone())
}

// ----- APIs -----

struct ApiRow {
    name: String,
    audience: String,
    project: String,
    shared: bool,
    read: bool,
    write: bool,
    created: String,
}

impl From<Api> for ApiRow {
    fn from(a: Api) -> Self {
        ApiRow {
            read: a.offers("read"),
            write: a.offers("write"),
            name: a.name,
            audience: a.audience,
            project: a.project,
            shared: a.shared,
            created: when(a.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/apis.html")]
struct ApisPage<'a> {
    css: &'a str,
    nav: Nav,
    notice: Option<String>,
    rows: Vec<ApiRow>,
}

/// `GET /console/apis`: the APIs the person's projects (or the chosen one) see.
pub async fn apis(
    state: web::Data<AppState>,
    acting: Acting,
) -> Result<HttpResponse, ConsoleError> {
    let (status, notice, apis) =
        match ops::catalog::apis(&Ops::of(&state), &acting.ctx, acting.project.as_deref()).await {
            Ok(apis) => (StatusCode::OK, None, apis),
            // No role in any project: the page, with the reason, and nothing in it.
            Err(OpsError::Forbidden(message)) => (StatusCode::FORBIDDEN, Some(message), Vec::new()),
            Err(e) => return Err(e.into()),
        };
    Ok(render(
        status,
        &ApisPage {
            css: css(),
            nav: acting.nav(Section::Apis),
            notice,
            rows: apis.into_iter().map(ApiRow::from).collect(),
        },
    ))
}

/// What an API form held, to show it again after a refusal.
struct ApiEntered {
    name: String,
    audience: String,
    project: String,
    read: bool,
    write: bool,
    shared: bool,
}

#[derive(Template)]
#[template(path = "console/apis_new.html")]
struct ApiNewPage<'a> {
    css: &'a str,
    nav: Nav,
    errors: FieldErrors,
    projects: Vec<String>,
    entered: ApiEntered,
}

fn api_new_page(
    acting: &Acting,
    entered: ApiEntered,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, ConsoleError> {
    let projects = managed(acting, "APIs")?;
    Ok(render(
        status,
        &ApiNewPage {
            css: css(),
            nav: acting.nav(Section::Apis),
            errors,
            projects,
            entered,
        },
    ))
}

/// `GET /console/apis/_new`: the Create API form (`_` starts no API name, so the path never
/// hides an API's page).
pub async fn api_new(
    acting: Acting,
    query: web::Query<ProjectQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let projects = managed(&acting, "APIs")?;
    let project = chosen(&acting, &projects, query.into_inner().project);
    let entered = ApiEntered {
        name: String::new(),
        audience: String::new(),
        project,
        read: true,
        write: true,
        shared: false,
    };
    api_new_page(&acting, entered, StatusCode::OK, FieldErrors::default())
}

/// The permissions ticked on a form, in the store's words.
fn permissions(read: bool, write: bool) -> Vec<String> {
    [(read, "read"), (write, "write")]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, p)| p.to_owned())
        .collect()
}

/// `POST /console/apis`: registers an API, then shows it.
pub async fn api_create(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let project = Some(form.one("project"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| acting.ctx.home_project());
    let entered = ApiEntered {
        name: form.one("name").trim().to_owned(),
        audience: form.one("audience").trim().to_owned(),
        project,
        read: form.ticked("read"),
        write: form.ticked("write"),
        shared: form.ticked("shared"),
    };
    let new = NewApi {
        name: entered.name.clone(),
        audience: entered.audience.clone(),
        permissions: permissions(entered.read, entered.write),
        project: entered.project.clone(),
        shared: entered.shared,
    };
    match ops::catalog::create_api(&Ops::of(&state), &acting.ctx, new).await {
        Ok(api) => Ok(see_other(&format!("/console/apis/{}", api.name)).finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, API_FIELDS)?;
            api_new_page(&acting, entered, status, errors)
        }
    }
}

#[derive(Template)]
#[template(path = "console/apis_show.html")]
struct ApiPage<'a> {
    css: &'a str,
    nav: Nav,
    api: ApiRow,
    /// Whether to offer the edit form and Delete API.
    can_change: bool,
    errors: FieldErrors,
    /// The edit form's values (the API's, or what was posted).
    audience: String,
    read: bool,
    write: bool,
    shared: bool,
}

fn api_page(
    acting: &Acting,
    api: Api,
    status: StatusCode,
    errors: FieldErrors,
    entered: Option<(String, bool, bool, bool)>,
) -> HttpResponse {
    let can_change = api.name != ADMIN_API && acting.manages(&api.project);
    let (audience, read, write, shared) = entered.unwrap_or_else(|| {
        (
            api.audience.clone(),
            api.offers("read"),
            api.offers("write"),
            api.shared,
        )
    });
    render(
        status,
        &ApiPage {
            css: css(),
            nav: acting.nav(Section::Apis),
            api: api.into(),
            can_change,
            errors,
            audience,
            read,
            write,
            shared,
        },
    )
}

/// `GET /console/apis/{name}`: one API, and the form to change it.
pub async fn api_show(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let api = ops::catalog::api(&Ops::of(&state), &acting.ctx, &name).await?;
    Ok(api_page(
        &acting,
        api,
        StatusCode::OK,
        FieldErrors::default(),
        None,
    ))
}

/// `POST /console/apis/{name}`: Save changes (audience, permissions, shared).
pub async fn api_update(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let ops = Ops::of(&state);
    let audience = form.one("audience").trim().to_owned();
    let (read, write, shared) = (
        form.ticked("read"),
        form.ticked("write"),
        form.ticked("shared"),
    );
    match ops::catalog::replace_api(
        &ops,
        &acting.ctx,
        &name,
        audience.clone(),
        permissions(read, write),
        Some(shared),
    )
    .await
    {
        Ok(api) => Ok(see_other(&format!("/console/apis/{}", api.name)).finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, API_FIELDS)?;
            let api = ops::catalog::api(&ops, &acting.ctx, &name).await?;
            Ok(api_page(
                &acting,
                api,
                status,
                errors,
                Some((audience, read, write, shared)),
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "console/apis_delete.html")]
struct ApiDeletePage<'a> {
    css: &'a str,
    nav: Nav,
    api: Named,
    error: Option<String>,
}

/// What a confirmation names: an API or a role, and its project.
struct Named {
    name: String,
    project: String,
}

/// `GET /console/apis/{name}/delete`: the confirmation, naming the API.
pub async fn api_delete_confirm(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let api = ops::catalog::api(&Ops::of(&state), &acting.ctx, &name).await?;
    if api.name == ADMIN_API || !acting.manages(&api.project) {
        return Err(ConsoleError::Refused(
            "You may not delete this API.".to_owned(),
        ));
    }
    Ok(render(
        StatusCode::OK,
        &ApiDeletePage {
            css: css(),
            nav: acting.nav(Section::Apis),
            api: Named {
                name: api.name,
                project: api.project,
            },
            error: None,
        },
    ))
}

/// `POST /console/apis/{name}/delete`: Delete API (ticked "force": also its grants).
pub async fn api_delete(
    state: web::Data<AppState>,
    acting: Acting,
    name: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let ops = Ops::of(&state);
    match ops::catalog::delete_api(&ops, &acting.ctx, &name, form.ticked("force")).await {
        Ok(()) => Ok(see_other("/console/apis").finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, &[])?;
            let api = ops::catalog::api(&ops, &acting.ctx, &name).await?;
            Ok(render(
                status,
                &ApiDeletePage {
                    css: css(),
                    nav: acting.nav(Section::Apis),
                    api: Named {
                        name: api.name,
                        project: api.project,
                    },
                    error: errors.form,
                },
            ))
        }
    }
}

// ----- Roles -----

struct RoleRow {
    name: String,
    project: String,
    description: String,
    scopes: Vec<String>,
}

impl From<Role> for RoleRow {
    fn from(r: Role) -> Self {
        RoleRow {
            name: r.name,
            project: r.project,
            description: r.description,
            scopes: r.scopes,
        }
    }
}

#[derive(Template)]
#[template(path = "console/roles.html")]
struct RolesPage<'a> {
    css: &'a str,
    nav: Nav,
    notice: Option<String>,
    rows: Vec<RoleRow>,
}

/// `GET /console/roles`: the roles of the person's projects (or of the chosen one).
pub async fn roles(
    state: web::Data<AppState>,
    acting: Acting,
) -> Result<HttpResponse, ConsoleError> {
    let (status, notice, roles) =
        match ops::catalog::roles(&Ops::of(&state), &acting.ctx, acting.project.as_deref()).await {
            Ok(roles) => (StatusCode::OK, None, roles),
            Err(OpsError::Forbidden(message)) => (StatusCode::FORBIDDEN, Some(message), Vec::new()),
            Err(e) => return Err(e.into()),
        };
    Ok(render(
        status,
        &RolesPage {
            css: css(),
            nav: acting.nav(Section::Roles),
            notice,
            rows: roles.into_iter().map(RoleRow::from).collect(),
        },
    ))
}

/// The scopes grid of `project` with `ticked` checked, and the ticked scopes it has no box
/// for (kept as boxes of their own, so saving never drops them unseen).
pub(super) async fn grid(
    state: &AppState,
    acting: &Acting,
    project: &str,
    ticked: &BTreeSet<String>,
) -> Result<(Vec<GridRow>, Vec<String>), ConsoleError> {
    let apis = ops::catalog::apis(&Ops::of(state), &acting.ctx, Some(project)).await?;
    let mut shown = BTreeSet::new();
    let rows = apis
        .into_iter()
        .filter(|a| a.grantable_in(project))
        .map(|a| {
            let (r, w) = (format!("{}:read", a.name), format!("{}:write", a.name));
            let row = GridRow {
                read: a.offers("read"),
                write: a.offers("write"),
                read_checked: ticked.contains(&r),
                write_checked: ticked.contains(&w),
                name: a.name,
            };
            if row.read {
                shown.insert(r);
            }
            if row.write {
                shown.insert(w);
            }
            row
        })
        .collect();
    let other = ticked.difference(&shown).cloned().collect();
    Ok((rows, other))
}

/// What a role form held.
struct RoleEntered {
    name: String,
    description: String,
    project: String,
    scopes: BTreeSet<String>,
}

#[derive(Template)]
#[template(path = "console/roles_new.html")]
struct RoleNewPage<'a> {
    css: &'a str,
    nav: Nav,
    errors: FieldErrors,
    projects: Vec<String>,
    entered: RoleEntered,
    apis: Vec<GridRow>,
    other: Vec<String>,
}

async fn role_new_page(
    state: &AppState,
    acting: &Acting,
    entered: RoleEntered,
    status: StatusCode,
    errors: FieldErrors,
) -> Result<HttpResponse, ConsoleError> {
    let projects = managed(acting, "roles")?;
    let (apis, other) = if projects.contains(&entered.project) {
        grid(state, acting, &entered.project, &entered.scopes).await?
    } else {
        (Vec::new(), entered.scopes.iter().cloned().collect())
    };
    Ok(render(
        status,
        &RoleNewPage {
            css: css(),
            nav: acting.nav(Section::Roles),
            errors,
            projects,
            entered,
            apis,
            other,
        },
    ))
}

/// `GET /console/roles/new?project=`: the Create role form, with the project's grid.
pub async fn role_new(
    state: web::Data<AppState>,
    acting: Acting,
    query: web::Query<ProjectQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let projects = managed(&acting, "roles")?;
    let entered = RoleEntered {
        name: String::new(),
        description: String::new(),
        project: chosen(&acting, &projects, query.into_inner().project),
        scopes: BTreeSet::new(),
    };
    role_new_page(
        &state,
        &acting,
        entered,
        StatusCode::OK,
        FieldErrors::default(),
    )
    .await
}

/// `POST /console/roles`: makes a role, then shows it.
pub async fn role_create(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let entered = RoleEntered {
        name: form.one("name").trim().to_owned(),
        description: form.one("description"),
        project: Some(form.one("project"))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| acting.ctx.home_project()),
        scopes: form.all("scope").into_iter().collect(),
    };
    let scopes: Vec<String> = entered.scopes.iter().cloned().collect();
    match ops::catalog::create_role(
        &Ops::of(&state),
        &acting.ctx,
        Some(&entered.project),
        &entered.name,
        &entered.description,
        &scopes,
    )
    .await
    {
        Ok(role) => Ok(see_other(&role_path(&role.project, &role.name)).finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, ROLE_FIELDS)?;
            role_new_page(&state, &acting, entered, status, errors).await
        }
    }
}

/// A role's page: roles are named within their project.
fn role_path(project: &str, name: &str) -> String {
    format!("/console/roles/{project}/{name}")
}

#[derive(Template)]
#[template(path = "console/roles_show.html")]
struct RolePage<'a> {
    css: &'a str,
    nav: Nav,
    role: RoleRow,
    created: String,
    can_change: bool,
    errors: FieldErrors,
    description: String,
    apis: Vec<GridRow>,
    other: Vec<String>,
}

async fn role_page(
    state: &AppState,
    acting: &Acting,
    role: Role,
    status: StatusCode,
    errors: FieldErrors,
    entered: Option<(String, BTreeSet<String>)>,
) -> Result<HttpResponse, ConsoleError> {
    let can_change = acting.manages(&role.project);
    let (description, ticked) = entered.unwrap_or_else(|| {
        (
            role.description.clone(),
            role.scopes.iter().cloned().collect(),
        )
    });
    let (apis, other) = if can_change {
        grid(state, acting, &role.project, &ticked).await?
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(render(
        status,
        &RolePage {
            css: css(),
            nav: acting.nav(Section::Roles),
            created: when(role.created_at),
            role: role.into(),
            can_change,
            errors,
            description,
            apis,
            other,
        },
    ))
}

/// `GET /console/roles/{project}/{name}`: one role, and the form to change it.
pub async fn role_show(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (project, name) = path.into_inner();
    let role = ops::catalog::role(&Ops::of(&state), &acting.ctx, Some(&project), &name).await?;
    role_page(
        &state,
        &acting,
        role,
        StatusCode::OK,
        FieldErrors::default(),
        None,
    )
    .await
}

/// `POST /console/roles/{project}/{name}`: Save changes (description, scopes).
pub async fn role_update(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let (project, name) = path.into_inner();
    let ops = Ops::of(&state);
    let description = form.one("description");
    let ticked: BTreeSet<String> = form.all("scope").into_iter().collect();
    let scopes: Vec<String> = ticked.iter().cloned().collect();
    match ops::catalog::replace_role(
        &ops,
        &acting.ctx,
        Some(&project),
        &name,
        &description,
        &scopes,
    )
    .await
    {
        Ok(role) => Ok(see_other(&role_path(&role.project, &role.name)).finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, ROLE_FIELDS)?;
            let role = ops::catalog::role(&ops, &acting.ctx, Some(&project), &name).await?;
            role_page(
                &state,
                &acting,
                role,
                status,
                errors,
                Some((description, ticked)),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "console/roles_delete.html")]
struct RoleDeletePage<'a> {
    css: &'a str,
    nav: Nav,
    role: Named,
    error: Option<String>,
}

/// `GET /console/roles/{project}/{name}/delete`: the confirmation, naming the role.
pub async fn role_delete_confirm(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let (project, name) = path.into_inner();
    let role = ops::catalog::role(&Ops::of(&state), &acting.ctx, Some(&project), &name).await?;
    if !acting.manages(&role.project) {
        return Err(ConsoleError::Refused(
            "You may not delete this role.".to_owned(),
        ));
    }
    Ok(render(
        StatusCode::OK,
        &RoleDeletePage {
            css: css(),
            nav: acting.nav(Section::Roles),
            role: Named {
                name: role.name,
                project: role.project,
            },
            error: None,
        },
    ))
}

/// `POST /console/roles/{project}/{name}/delete`: Delete role (ticked "force": also from the
/// clients holding it).
pub async fn role_delete(
    state: web::Data<AppState>,
    acting: Acting,
    path: web::Path<(String, String)>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let form = Posted(form.into_inner());
    acting.check_csrf(&form.one("csrf"))?;
    let (project, name) = path.into_inner();
    let ops = Ops::of(&state);
    match ops::catalog::delete_role(
        &ops,
        &acting.ctx,
        Some(&project),
        &name,
        form.ticked("force"),
    )
    .await
    {
        Ok(()) => Ok(see_other("/console/roles").finish()),
        Err(e) => {
            let (status, errors) = FieldErrors::of(e, &[])?;
            let role = ops::catalog::role(&ops, &acting.ctx, Some(&project), &name).await?;
            Ok(render(
                status,
                &RoleDeletePage {
                    css: css(),
                    nav: acting.nav(Section::Roles),
                    role: Named {
                        name: role.name,
                        project: role.project,
                    },
                    error: errors.form,
                },
            ))
        }
    }
}
