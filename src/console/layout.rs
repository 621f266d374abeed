//! What every signed-in page shares: the acting administrator as they are now (loaded per
//! request, so a changed role or a disable takes effect at once), the project switcher and the
//! navigation header.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{ConsoleError, SignedIn, cookie, removal, see_other};
use crate::ops::{self, Actor, Context, Ops};
use crate::signin::sessions::Session;
use crate::state::AppState;
use crate::store::administrators::{Administrator, ProjectRole};
use crate::store::{self, StoreError};

/// The cookie holding the project chosen in the switcher (not a secret: a preference).
const PROJECT_COOKIE: &str = "tessera_project";

/// The console's sections, for the navigation's `aria-current`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Clients,
    Apis,
    Roles,
    Administrators,
    Projects,
    Keys,
    Audit,
    Account,
}

impl Section {
    /// Every section, in the navigation's order.
    pub const ALL: [Section; 8] = [
        Section::Clients,
        Section::Apis,
        Section::Roles,
        Section::Administrators,
        Section::Projects,
        Section::Keys,
        Section::Audit,
        Section::Account,
    ];

    /// The section a console path belongs to (Clients for anything else).
    pub fn of_path(path: &str) -> Section {
        let first = path
            .trim_start_matches("/console/")
            .split(['/', '?'])
            .next()
            .unwrap_or("");
        Section::ALL
            .into_iter()
            .find(|s| s.key() == first)
            .unwrap_or(Section::Clients)
    }

    /// Its path under `/console/`.
    pub fn key(self) -> &'static str {
        match self {
            Section::Clients => "clients",
            Section::Apis => "apis",
            Section::Roles => "roles",
            Section::Administrators => "administrators",
            Section::Projects => "projects",
            Section::Keys => "keys",
            Section::Audit => "audit",
            Section::Account => "account",
        }
    }
}

/// A signed-in administrator acting through the console: the session, the person as they
/// are now, the domain context they act in, the projects they see and the one they chose.
pub struct Acting {
    pub signed_in: SignedIn,
    pub admin: Administrator,
    pub ctx: Context,
    /// Every project the person sees, by name.
    pub projects: Vec<String>,
    /// The project chosen in the switcher; `None`: all of them.
    pub project: Option<String>,
}

impl actix_web::FromRequest for Acting {
    type Error = ConsoleError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let signed_in = SignedIn::from_request(&req, payload);
        Box::pin(async move {
            let signed_in = signed_in.await?;
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or(ConsoleError::Unavailable)?;
            let chosen = req.cookie(PROJECT_COOKIE).map(|c| c.value().to_owned());
            Acting::load(state, signed_in, chosen).await
        })
    }
}

impl Acting {
    async fn load(
        state: &AppState,
        signed_in: SignedIn,
        chosen: Option<String>,
    ) -> Result<Self, ConsoleError> {
        let id = signed_in.0.person.id.clone();
        let admin = match store::administrators::get(&state.db, &id).await {
            Ok(a) if a.enabled => a,
            Ok(_) | Err(StoreError::NotFound(_)) => return Err(ConsoleError::SignInRequired),
            Err(e) => return Err(e.into()),
        };
        let ctx = Context::administrator(admin.clone(), Actor::Administrator(id));
        let projects: Vec<String> = if admin.superadmin {
            ops::people::projects(&Ops::of(state), &ctx)
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect()
        } else {
            let mut mine: Vec<String> = admin
                .memberships
                .iter()
                .map(|m| m.project.clone())
                .collect();
            mine.sort();
            mine
        };
        let project = chosen.filter(|c| projects.contains(c));
        Ok(Acting {
            signed_in,
            admin,
            ctx,
            projects,
            project,
        })
    }

    pub fn session(&self) -> &Session {
        &self.signed_in.0
    }

    pub fn check_csrf(&self, presented: &str) -> Result<(), ConsoleError> {
        self.signed_in.check_csrf(presented)
    }

    /// Sensitive changes need a second factor within `console.reauth_minutes`; otherwise the
    /// answer sends the person to re-authenticate and then to `then` (the change's
    /// confirmation page), and nothing changes.
    pub fn require_recent_second_factor(
        &self,
        state: &AppState,
        then: &str,
    ) -> Result<(), ConsoleError> {
        self.signed_in
            .check_recent_second_factor(state)
            .map_err(|_| ConsoleError::Reauthenticate(super::reauth::location(then)))
    }

    /// Whether the person may create and change clients, APIs and roles in `project`.
    pub fn manages(&self, project: &str) -> bool {
        self.admin.manages(project)
    }

    /// Whether they manage anything in the projects this page shows (the chosen one, or any).
    pub fn manages_shown(&self) -> bool {
        match &self.project {
            Some(p) => self.manages(p),
            None => self.projects.iter().any(|p| self.manages(p)),
        }
    }

    /// Whether they may change memberships in `project` (its owners, superadmins).
    pub fn owns(&self, project: &str) -> bool {
        self.admin.superadmin
            || self
                .admin
                .membership(project)
                .is_some_and(|m| m.role == ProjectRole::Owner)
    }

    /// The header of the page, in `section`.
    pub fn nav(&self, section: Section) -> Nav {
        let s = self.session();
        Nav {
            display_name: s.person.display_name.clone(),
            email: s.person.email.clone(),
            csrf: s.csrf_token.clone(),
            section,
            can_create: self.manages_shown(),
            sees_people: self.admin.superadmin || self.projects.iter().any(|p| self.owns(p)),
            projects: self.projects.clone(),
            project: self.project.clone(),
            htmx: super::htmx_js(),
            script: super::console_js(),
        }
    }
}

/// The header of every signed-in page: who, where to go, the project switcher, Sign out.
pub struct Nav {
    pub display_name: String,
    pub email: String,
    pub csrf: String,
    pub section: Section,
    /// Whether to offer Create client (and other manager actions): the operation still
    /// decides; this only hides what would be refused.
    pub can_create: bool,
    /// Whether to show Administrators (owners and superadmins).
    pub sees_people: bool,
    pub projects: Vec<String>,
    pub project: Option<String>,
    /// Paths of the scripts every signed-in page loads.
    pub htmx: &'static str,
    pub script: &'static str,
}

impl Nav {
    /// `aria-current` for the link to the section `key`.
    pub fn current(&self, key: &str) -> &'static str {
        if self.section.key() == key {
            " aria-current=\"page\""
        } else {
            ""
        }
    }

    /// Where the switcher returns: this section's list.
    pub fn back(&self) -> String {
        format!("/console/{}", self.section.key())
    }

    /// Whether `name` is the chosen project.
    pub fn chosen(&self, name: &str) -> bool {
        self.project.as_deref() == Some(name)
    }
}

/// The switcher's form.
#[derive(Deserialize)]
pub struct SwitchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    back: String,
}

/// `POST /console/project`: chooses the project the pages show ("" for all), then returns to
/// the page it came from (a console path only: never an open redirect).
pub async fn switch(
    state: web::Data<AppState>,
    acting: Acting,
    form: web::Form<SwitchForm>,
) -> Result<HttpResponse, ConsoleError> {
    acting.check_csrf(&form.csrf)?;
    // Back to a section's list only (never an open redirect): a page's own parameters may
    // not fit another project.
    let back = Section::ALL
        .into_iter()
        .map(|s| format!("/console/{}", s.key()))
        .find(|p| *p == form.back)
        .unwrap_or_else(|| "/console/clients".to_owned());
    let mut res = see_other(&back);
    if form.project.is_empty() {
        res.cookie(removal(&state, PROJECT_COOKIE));
    } else if acting.projects.contains(&form.project) {
        res.cookie(cookie(&state, PROJECT_COOKIE, form.project.clone()));
    } else {
        return Err(ConsoleError::NotFound);
    }
    Ok(res.finish())
}

/// Formats a time as the console shows it.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
