//! Domain operations: every rule about who may change what lives here, once. The admin API,
//! the command line and (later) the console call these with a [`Context`] saying who acts;
//! operations know nothing of HTTP.
//!
//! Each operation names the [`Permission`] it needs and, for an object, checks that the actor
//! may see it ([`Context::client_target`]): a delegated admin (an admin client that is not a
//! root client) acts only within its subtree, the clients it owns transitively (SPEC §5).

pub mod catalog;
pub mod clients;
pub mod keys;
pub mod people;
pub mod tokens;

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::config::Settings;
use crate::state::AppState;
use crate::store::administrators::{Administrator, Ceiling, ProjectRole};
pub use crate::store::audit::Actor;
use crate::store::projects::DEFAULT;
use crate::store::{StoreError, TokenClient};

/// Errors of the domain operations; the admin API maps them to problems in one place.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The actor's current scopes lack the admin scope the operation needs.
    #[error("the access token lacks scope {0}")]
    InsufficientScope(&'static str),
    /// The actor may not do this, whatever it names.
    #[error("{0}")]
    Forbidden(String),
    /// Unknown, or invisible to this actor (the same answer for both).
    #[error("{0} not found")]
    NotFound(String),
    /// Bad input, one message a field.
    #[error("{}", .0.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<(&'static str, String)>),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// The storage layer failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an operation needs. Every operation names one; none is inferred from an HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read clients and their secrets' metadata (`admin:read`; a delegated admin: its subtree).
    ReadClients,
    /// Create, change, delete clients and their secrets (`admin:write`; subtree).
    WriteClients,
    /// Read APIs, roles and the public parts of signing keys (`admin:read`).
    ReadCatalog,
    /// Create, change, delete a project's APIs and roles (`admin:write`, root clients of the
    /// project or of `default`; project admins and owners).
    ManageCatalog,
    /// Rotate signing keys (root clients of `default`, superadmins).
    ManageKeys,
    /// Revoke access tokens (`admin:write`; a delegated admin: tokens of its subtree).
    RevokeTokens,
    /// Read the audit trail (`admin:read`; a delegated admin: events about its subtree).
    ReadAudit,
    /// Read projects and administrators (`admin:read`; within the actor's projects).
    ReadPeople,
    /// Create, change, delete projects and administrators (root clients of `default`,
    /// superadmins).
    ManagePeople,
    /// Change the memberships of a project (its owners; root clients of `default`,
    /// superadmins).
    ManageMembers,
}

impl Permission {
    fn write(self) -> bool {
        matches!(
            self,
            Permission::WriteClients
                | Permission::ManageCatalog
                | Permission::ManageKeys
                | Permission::RevokeTokens
                | Permission::ManagePeople
                | Permission::ManageMembers
        )
    }

    /// The least project role that has it; `None`: not for project roles (superadmins only).
    fn least_role(self) -> Option<ProjectRole> {
        match self {
            Permission::ReadClients
            | Permission::ReadCatalog
            | Permission::ReadAudit
            | Permission::ReadPeople => Some(ProjectRole::Viewer),
            Permission::WriteClients | Permission::ManageCatalog | Permission::RevokeTokens => {
                Some(ProjectRole::Admin)
            }
            Permission::ManageMembers => Some(ProjectRole::Owner),
            Permission::ManageKeys | Permission::ManagePeople => None,
        }
    }
}

/// What the actor may reach.
#[derive(Debug, Clone)]
enum Authority {
    /// The command line and the server itself: everything.
    Operator,
    /// A client through the admin API, with the admin scopes it holds now (its token's scopes
    /// that its current, owner-capped grants still include).
    Client {
        client_id: String,
        root: bool,
        read: bool,
        write: bool,
        /// Its current effective scopes (owner-capped).
        held: Vec<String>,
        /// Its project: a client administers only its own, except root clients of `default`.
        project: String,
    },
    /// A person, as they are now (enabled, memberships, ceilings).
    Administrator(Box<Administrator>),
}

/// Who acts, and what they may reach.
#[derive(Debug, Clone)]
pub struct Context {
    /// Recorded in the audit trail.
    pub actor: Actor,
    authority: Authority,
}

/// How the actor relates to a client it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Root clients, administrators and the command line reach every client of their projects.
    Any,
    /// A client in the actor's subtree.
    Subtree,
    /// The acting client itself.
    Itself,
}

/// Who may grant what: the owner rule of §5 and the ceiling of §7.
#[derive(Debug, Clone)]
pub enum Granter<'a> {
    /// Operators and root clients: anything the project may use.
    Anything,
    /// A delegated admin client: only scopes it holds now.
    Holds(&'a [String]),
    /// An administrator: within their ceiling in the project.
    Person(Ceiling),
}

impl Context {
    /// The command line, acting directly on the database.
    pub fn cli() -> Self {
        Context {
            actor: Actor::Cli,
            authority: Authority::Operator,
        }
    }

    /// The server itself (scheduled work).
    pub fn system() -> Self {
        Context {
            actor: Actor::System,
            authority: Authority::Operator,
        }
    }

    /// A client calling the admin API: `token_scopes` are its token's, `current` is what the
    /// server knows of it now (effective state and owner-capped scopes). A scope counts only
    /// while both hold it, so taking a scope away takes effect at once.
    pub fn client(current: &TokenClient, token_scopes: &[String]) -> Self {
        let holds = |scope: &str| {
            token_scopes.iter().any(|s| s == scope)
                && current.scopes.iter().any(|s| s.scope == scope)
        };
        Context {
            actor: Actor::Client(current.client_id.clone()),
            authority: Authority::Client {
                client_id: current.client_id.clone(),
                root: current.root,
                read: holds("admin:read"),
                write: holds("admin:write"),
                held: current.scopes.iter().map(|s| s.scope.clone()).collect(),
                project: current.project.clone(),
            },
        }
    }

    /// An administrator, as loaded now; `actor` says through what they act (the console:
    /// themselves; the command line acting for them: the CLI).
    pub fn administrator(admin: Administrator, actor: Actor) -> Self {
        Context {
            actor,
            authority: Authority::Administrator(Box::new(admin)),
        }
    }

    /// The acting administrator, if a person acts.
    pub fn person(&self) -> Option<&Administrator> {
        match &self.authority {
            Authority::Administrator(a) => Some(a),
            _ => None,
        }
    }

    /// The acting client, when a delegated admin acts: its subtree bounds what it reaches.
    pub(crate) fn delegated(&self) -> Option<&str> {
        match &self.authority {
            Authority::Client {
                client_id,
                root: false,
                ..
            } => Some(client_id),
            _ => None,
        }
    }

    /// The projects the actor reaches; `None` for every project (the command line, the
    /// server, root clients of `default`, superadmins).
    pub fn projects(&self) -> Option<Vec<String>> {
        match &self.authority {
            Authority::Operator => None,
            Authority::Client {
                root: true,
                project,
                ..
            } if project == DEFAULT => None,
            Authority::Client { project, .. } => Some(vec![project.clone()]),
            Authority::Administrator(a) if a.superadmin => None,
            Authority::Administrator(a) => {
                Some(a.memberships.iter().map(|m| m.project.clone()).collect())
            }
        }
    }

    /// The project a new object goes into when the request names none.
    pub fn home_project(&self) -> String {
        match &self.authority {
            Authority::Client { project, .. } => project.clone(),
            Authority::Administrator(a) if !a.superadmin && a.memberships.len() == 1 => {
                a.memberships[0].project.clone()
            }
            _ => DEFAULT.to_owned(),
        }
    }

    /// Whether the actor reaches `project` at all.
    pub fn sees_project(&self, project: &str) -> bool {
        self.projects()
            .is_none_or(|ps| ps.iter().any(|p| p == project))
    }

    /// Checks the permission an operation needs, whatever the project: the admin scope for
    /// clients, and for the global permissions who may hold them at all.
    pub fn require(&self, permission: Permission) -> Result<(), OpsError> {
        match &self.authority {
            Authority::Operator => Ok(()),
            Authority::Client {
                root,
                read,
                write,
                project,
                ..
            } => {
                if permission.write() && !write {
                    return Err(OpsError::InsufficientScope("admin:write"));
                }
                if !permission.write() && !read {
                    return Err(OpsError::InsufficientScope("admin:read"));
                }
                let everywhere = *root && project == DEFAULT;
                match permission {
                    Permission::ManageCatalog if !root => Err(OpsError::Forbidden(
                        "only root clients may create, change or delete APIs and roles".into(),
                    )),
                    Permission::ManageKeys if !everywhere => Err(OpsError::Forbidden(
                        "only root clients of the default project may rotate signing keys".into(),
                    )),
                    Permission::ManagePeople | Permission::ManageMembers if !everywhere => {
                        Err(OpsError::Forbidden(
                            "only root clients of the default project may manage projects and administrators".into(),
                        ))
                    }
                    _ => Ok(()),
                }
            }
            Authority::Administrator(a) => {
                if !a.enabled {
                    return Err(OpsError::Forbidden("this administrator is disabled".into()));
                }
                if a.superadmin {
                    return Ok(());
                }
                match permission.least_role() {
                    None => Err(OpsError::Forbidden("only superadmins may do this".into())),
                    Some(least) if a.memberships.iter().any(|m| m.role >= least) => Ok(()),
                    Some(_) => Err(OpsError::Forbidden(format!(
                        "your role in your projects does not allow this ({permission:?})"
                    ))),
                }
            }
        }
    }

    /// Checks `permission` in `project`: `NotFound` if the actor does not reach the project at
    /// all (another team's project is invisible), `Forbidden` if its role there is too weak.
    pub fn require_in(&self, permission: Permission, project: &str) -> Result<(), OpsError> {
        self.require(permission)?;
        if !self.sees_project(project) {
            return Err(OpsError::NotFound(format!("project {project}")));
        }
        if let Authority::Administrator(a) = &self.authority
            && !a.superadmin
        {
            let least = permission.least_role().unwrap_or(ProjectRole::Owner);
            let role = a.membership(project).map(|m| m.role);
            if role.is_none_or(|r| r < least) {
                return Err(OpsError::Forbidden(format!(
                    "your role in project {project:?} does not allow this"
                )));
            }
        }
        Ok(())
    }

    /// Checks `permission`, then that the actor may reach `client_id`: for a delegated admin
    /// itself or its subtree; for others any client of their projects. Anything else is
    /// `NotFound` (another client is invisible, whether it exists or not).
    pub async fn client_target(
        &self,
        db: &impl ConnectionTrait,
        permission: Permission,
        client_id: &str,
    ) -> Result<Target, OpsError> {
        self.require(permission)?;
        if self.projects().is_some() {
            let project = match crate::store::clients::project_of(db, client_id).await? {
                Some(p) if self.sees_project(&p) => p,
                _ => return Err(OpsError::NotFound(format!("client {client_id}"))),
            };
            self.require_in(permission, &project)?;
        }
        // A person changes (or takes a secret of) a client only if it holds nothing beyond
        // what they may grant: otherwise resetting its secret would hand them its rights. Root
        // clients are for the command line and other root clients.
        if let Authority::Administrator(a) = &self.authority
            && !a.superadmin
            && permission.write()
        {
            let client = match crate::store::clients::get(db, client_id).await {
                Err(StoreError::NotFound(what)) => return Err(OpsError::NotFound(what)),
                other => other?,
            };
            if client.owner.is_none() && client.owner_administrator.is_none() {
                return Err(OpsError::Forbidden(
                    "root clients are managed from the command line or by root clients".into(),
                ));
            }
            let ceiling = a.ceiling(&client.project);
            let mut held = client.scopes.clone();
            let keys: Vec<String> = client
                .roles
                .iter()
                .map(|r| crate::store::roles::key(&client.project, r))
                .collect();
            held.extend(crate::store::roles::scopes_of_roles(db, &keys).await?);
            let mut beyond: Vec<String> = held.into_iter().filter(|s| !ceiling.allows(s)).collect();
            beyond.sort();
            beyond.dedup();
            if !beyond.is_empty() {
                return Err(OpsError::Forbidden(format!(
                    "this client holds scopes beyond what you may grant in project {:?}: {}",
                    client.project,
                    beyond.join(" ")
                )));
            }
        }
        let Some(me) = self.delegated() else {
            return Ok(Target::Any);
        };
        if client_id == me {
            return Ok(Target::Itself);
        }
        let chain = match crate::store::clients::owner_chain(db, client_id).await {
            Err(StoreError::NotFound(what)) => return Err(OpsError::NotFound(what)),
            other => other?,
        };
        if chain.iter().any(|owner| owner.client_id == me) {
            Ok(Target::Subtree)
        } else {
            Err(OpsError::NotFound(format!("client {client_id}")))
        }
    }

    /// The clients a list may show: `None` for all of the reachable projects, or the
    /// delegated admin's subtree.
    pub async fn visible_clients(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<Option<Vec<String>>, OpsError> {
        match self.delegated() {
            None => Ok(None),
            Some(me) => Ok(Some(
                crate::store::clients::owned_transitively(db, me).await?,
            )),
        }
    }

    /// The acting client's id, when a client acts.
    pub fn client_id(&self) -> Option<&str> {
        self.actor.client_id()
    }

    /// What the actor may grant in `project`.
    pub fn granter(&self, project: &str) -> Granter<'_> {
        match &self.authority {
            Authority::Operator | Authority::Client { root: true, .. } => Granter::Anything,
            Authority::Client { held, .. } => Granter::Holds(held),
            Authority::Administrator(a) => Granter::Person(a.ceiling(project)),
        }
    }
}

/// What operations work with: the database, the settings, and, inside the server, the
/// caches to refresh after a change (other processes learn through the change log).
pub struct Ops<'a> {
    /// The database.
    pub db: &'a DatabaseConnection,
    /// Validated configuration.
    pub settings: &'a Settings,
    /// The serving process's state, when an operation runs inside it.
    pub server: Option<&'a AppState>,
}

impl<'a> Ops<'a> {
    /// Operations inside the server.
    pub fn of(state: &'a AppState) -> Self {
        Ops {
            db: &state.db,
            settings: &state.settings,
            server: Some(state),
        }
    }

    /// Operations from the command line, straight on the database.
    pub fn offline(db: &'a DatabaseConnection, settings: &'a Settings) -> Self {
        Ops {
            db,
            settings,
            server: None,
        }
    }

    /// Drops changed clients from this process's cache at once.
    async fn invalidate<S: AsRef<str>>(&self, client_ids: impl IntoIterator<Item = S>) {
        if let Some(state) = self.server {
            state.clients.invalidate_many(client_ids).await;
        }
    }

    /// The issuer: the running server's, or the configured one from the command line.
    pub fn issuer(&self) -> String {
        match self.server {
            Some(state) => state.issuer.clone(),
            None => self.settings.issuer_for(self.settings.bind),
        }
    }

    /// Drops every cached client (a change that touches many).
    fn invalidate_all(&self) {
        if let Some(state) = self.server {
            state.clients.invalidate_all();
        }
    }
}
