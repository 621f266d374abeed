//! Client authentication, one step shared by the token, introspection and revocation
//! endpoints (SPEC §4, §9): the request's [`ClientCredential`] goes to the authenticator of the
//! method the client is registered with; any mismatch, like any failure, is the same
//! `invalid_client`.

mod assertion;
pub mod certificate;
pub mod jwks_uri;
mod secret;

use std::sync::Arc;

pub use certificate::PeerCertificate;
pub use jwks_uri::JwksCache;

use super::TokenError;
use super::brute_force::Lockout;
use super::request::ClientCredential;
use crate::state::AppState;
use crate::store::TokenClient;
use crate::store::client_auth::ClientAuthentication;

/// What the connection and the request say beside the credential.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthContext<'a> {
    /// Where the request came from (the peer, or the client behind trusted proxies).
    pub source: Option<std::net::IpAddr>,
    /// The client certificate of the TLS connection (or from a trusted proxy's header).
    pub certificate: Option<&'a PeerCertificate>,
}

/// How a client proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatedBy {
    /// A shared secret, by its id.
    Secret(String),
    /// A signed client assertion.
    Assertion,
    /// A TLS client certificate, by its SHA-256 thumbprint (base64url, `x5t#S256`).
    Certificate(String),
}

/// A client that proved who it is and whose source address is allowed.
pub struct AuthenticatedClient {
    /// The client, as the token path knows it.
    pub client: Arc<TokenClient>,
    /// How.
    pub by: AuthenticatedBy,
}

impl AuthenticatedClient {
    /// The secret that matched, if a secret did.
    pub fn secret_id(&self) -> Option<&str> {
        match &self.by {
            AuthenticatedBy::Secret(id) => Some(id),
            _ => None,
        }
    }
}

/// Authenticates the client of a request by the method it is registered with.
pub async fn authenticate(
    state: &AppState,
    credential: &ClientCredential,
    ctx: AuthContext<'_>,
) -> Result<AuthenticatedClient, TokenError> {
    if let Some(wait) = state.failures.source_locked(ctx.source) {
        return Err(retry(wait));
    }
    match credential {
        ClientCredential::Secret {
            client_id, secret, ..
        } => {
            secret::authenticate(
                state,
                client_id,
                secret.as_bytes(),
                ctx.source,
                credential.challenge(),
            )
            .await
        }
        // Boxed, as the secret's uncached path: these futures are large, and a secret client's
        // request future would otherwise carry (and copy) them.
        ClientCredential::Assertion {
            client_id,
            assertion,
        } => {
            Box::pin(assertion::authenticate(
                state,
                client_id.as_deref(),
                assertion,
                ctx,
            ))
            .await
        }
        ClientCredential::ClientId(client_id) => {
            Box::pin(certificate::authenticate(state, client_id, ctx)).await
        }
    }
}

/// The client a credential names, for the authenticators other than the secret's (which keeps
/// its own path through the credential cache). A client registered with another method is
/// `None`, as an unknown one is.
async fn registered_with(
    state: &AppState,
    client_id: &str,
    method: impl Fn(&ClientAuthentication) -> bool,
) -> Result<Option<Arc<TokenClient>>, TokenError> {
    let client = state.clients.get(client_id).await.map_err(unavailable)?;
    Ok(client.filter(|c| c.enabled && method(&c.authentication)))
}

fn retry(wait: std::time::Duration) -> TokenError {
    TokenError::TooManyFailures(wait.as_secs().max(1))
}

/// A store failure while authenticating.
fn unavailable(e: crate::store::StoreError) -> TokenError {
    if e.is_unavailable() {
        // Not the client's fault: it may retry, here or at another replica.
        TokenError::TemporarilyUnavailable
    } else {
        tracing::error!(error = %e, "loading client failed");
        TokenError::ServerError
    }
}

/// Whether `client_id` or the source is locked out (before any costly or consuming check).
async fn locked_out(
    state: &AppState,
    client_id: &str,
    source: Option<std::net::IpAddr>,
) -> Option<TokenError> {
    if let Some(wait) = state.failures.client_locked(client_id) {
        return Some(retry(wait));
    }
    super::brute_force::shared_lockout(state, client_id, source)
        .await
        .map(retry)
}

/// Whether this replica knows `client_id` to be locked out, without reading the database:
/// for the key and certificate methods, which no one can guess their way through, so every
/// successful request need not pay the shared counters' reads (failures still count for every
/// replica, and a lockout another replica started is learned at this one's next secret miss).
fn locked_out_here(state: &AppState, client_id: &str) -> Option<TokenError> {
    state.failures.client_locked(client_id).map(retry)
}

/// A failed authentication as `client_id`: logged (the id only), counted towards lockouts,
/// and answered with the one `invalid_client`.
async fn refuse(
    state: &AppState,
    client_id: &str,
    source: Option<std::net::IpAddr>,
    challenge: bool,
) -> TokenError {
    let shown = crate::secret::loggable_id(client_id);
    tracing::info!(client_id = shown, "client authentication failed");
    state
        .usage
        .authentication_failed(client_id, chrono::Utc::now());
    for lockout in super::brute_force::count_failure(state, client_id, source).await {
        audit_lockout(state, client_id, lockout).await;
    }
    TokenError::InvalidClient { challenge }
}

/// One audit event per lockout: written at once, or, while the database is away, buffered
/// with the usage counters and written once it returns.
async fn audit_lockout(state: &AppState, client_id: &str, lockout: Lockout) {
    let (kind, details) = match &lockout {
        Lockout::Client(_) => ("client.locked_out", serde_json::json!({})),
        Lockout::Source(ip) => (
            "source.locked_out",
            serde_json::json!({"source": ip.to_string()}),
        ),
    };
    tracing::warn!(
        client_id = crate::secret::loggable_id(client_id),
        lockout = kind,
        "too many failed authentications: locked out"
    );
    let now = chrono::Utc::now();
    if state.db_health.is_up() {
        let actor = crate::store::audit::Actor::System;
        match crate::store::audit::record(&state.db, kind, &actor, Some(client_id), details.clone())
            .await
        {
            Ok(()) => return,
            Err(e) => tracing::warn!(error = %e, "recording a lockout failed; buffering it"),
        }
    }
    state.usage.system_event(kind, client_id, details, now);
}

/// The client proved who it is: the source address decides.
fn accept(
    state: &AppState,
    client: Arc<TokenClient>,
    by: AuthenticatedBy,
    source: Option<std::net::IpAddr>,
) -> Result<AuthenticatedClient, TokenError> {
    if !client.allows_source(source) {
        tracing::info!(client_id = %client.client_id, ?source, "source address not allowed");
        state
            .usage
            .source_refused(&client.client_id, chrono::Utc::now());
        return Err(TokenError::UnauthorizedClient(
            "this client may not request tokens from this address".into(),
        ));
    }
    Ok(AuthenticatedClient { client, by })
}
