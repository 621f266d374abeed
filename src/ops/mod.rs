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
pub mod tokens;

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::config::Settings;
use crate::state::AppState;
pub use crate::store::audit::Actor;
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
    /// Create, change, delete APIs and roles (`admin:write`, root clients only).
    ManageCatalog,
    /// Rotate signing keys (`admin:write`, root clients only).
    ManageKeys,
    /// Revoke access tokens (`admin:write`; a delegated admin: tokens of its subtree).
    RevokeTokens,
    /// Read the audit trail (`admin:read`; a delegated admin: events about its subtree).
    ReadAudit,
}

impl Permission {
    fn write(self) -> bool {
        matches!(
            self,
            Permission::WriteClients
                | Permission::ManageCatalog
                | Permission::ManageKeys
                | Permission::RevokeTokens
        )
    }

    fn root_only(self) -> Option<&'static str> {
        match self {
            Permission::ManageCatalog => {
                Some("only root clients may create, change or delete APIs and roles")
            }
            Permission::ManageKeys => Some("only root clients may rotate signing keys"),
            _ => None,
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
    },
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
    /// Root clients and the command line reach every client.
    Any,
    /// A client in the actor's subtree.
    Subtree,
    /// The acting client itself.
    Itself,
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
            },
        }
    }

    /// The acting client, when a delegated admin acts: its subtree bounds what it reaches.
    fn delegated(&self) -> Option<&str> {
        match &self.authority {
            Authority::Client {
                client_id,
                root: false,
                ..
            } => Some(client_id),
            _ => None,
        }
    }

    /// Checks the permission an operation needs.
    pub fn require(&self, permission: Permission) -> Result<(), OpsError> {
        let Authority::Client {
            root, read, write, ..
        } = &self.authority
        else {
            return Ok(());
        };
        if permission.write() && !write {
            return Err(OpsError::InsufficientScope("admin:write"));
        }
        if !permission.write() && !read {
            return Err(OpsError::InsufficientScope("admin:read"));
        }
        match permission.root_only() {
            Some(why) if !root => Err(OpsError::Forbidden(why.into())),
            _ => Ok(()),
        }
    }

    /// Checks `permission`, then that the actor may reach `client_id`: anything for root
    /// clients and operators; for a delegated admin itself or its subtree, else `NotFound`
    /// (another client is invisible, whether it exists or not).
    pub async fn client_target(
        &self,
        db: &impl ConnectionTrait,
        permission: Permission,
        client_id: &str,
    ) -> Result<Target, OpsError> {
        self.require(permission)?;
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

    /// The clients a list may show: `None` for all, or the delegated admin's subtree.
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

    /// The scopes a delegated admin holds now; `None` for actors that may grant anything
    /// (operators and root clients).
    fn held_scopes(&self) -> Option<&[String]> {
        match &self.authority {
            Authority::Client {
                root: false, held, ..
            } => Some(held),
            _ => None,
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

    /// Drops every cached client (a change that touches many).
    fn invalidate_all(&self) {
        if let Some(state) = self.server {
            state.clients.invalidate_all();
        }
    }
}
