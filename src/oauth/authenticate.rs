//! Client authentication by secret, shared by the token, introspection and revocation
//! endpoints: cached verifications first, argon2id off the reactor otherwise.

use std::sync::Arc;

use super::TokenError;
use super::brute_force::Lockout;
use crate::secret::VerifyError;
use crate::state::AppState;
use crate::store::{StoredSecret, TokenClient};

/// A client whose secret matched and whose source address is allowed.
pub struct AuthenticatedClient {
    /// The client, as the token path knows it.
    pub client: Arc<TokenClient>,
    /// The secret that matched.
    pub secret_id: String,
}

/// Checks `secret` for `client_id` from `source`. Unknown, disabled and wrong all give the
/// same `invalid_client`; `challenge` says whether Basic was used (RFC 6749 §5.2).
pub async fn authenticate_client(
    state: &AppState,
    client_id: &str,
    secret: &[u8],
    source: Option<std::net::IpAddr>,
    challenge: bool,
) -> Result<AuthenticatedClient, TokenError> {
    let retry = |wait: std::time::Duration| TokenError::TooManyFailures(wait.as_secs().max(1));
    if let Some(wait) = state.failures.source_locked(source) {
        return Err(retry(wait));
    }
    let client = state.clients.get(client_id).await.map_err(|e| {
        if e.is_unavailable() {
            // Not the client's fault: it may retry, here or at another replica.
            TokenError::TemporarilyUnavailable
        } else {
            tracing::error!(error = %e, "loading client failed");
            TokenError::ServerError
        }
    })?;
    let now = chrono::Utc::now().timestamp();
    let live: Vec<&StoredSecret> = match &client {
        Some(c) => c.live_secrets(now).collect(),
        None => Vec::new(),
    };
    // A pair verified recently is recognised by its HMAC tag, without argon2.
    let tag = state.credential_key.tag(client_id, secret);
    let ttl = state.settings.verified_credential_ttl;
    let cached = client
        .as_ref()
        .filter(|c| c.enabled)
        .and_then(|_| live.iter().find(|s| s.verified.matches(&tag, ttl)));
    if let (Some(c), Some(s)) = (&client, cached) {
        state.metrics.credential_cache(true);
        return accept(state, c.clone(), s.secret_id.clone(), source);
    }
    state.metrics.credential_cache(false);
    // Before any argon2 work: a client id or source under attack answers nothing but 429,
    // whichever replica counted its failures.
    if let Some(wait) = state.failures.client_locked(client_id) {
        return Err(retry(wait));
    }
    if let Some(wait) = super::brute_force::shared_lockout(state, client_id, source).await {
        return Err(retry(wait));
    }
    // A secret names the one hash to check (its secret id); secrets of the older form are
    // checked against the client's older secrets. Unknown clients, unknown secret ids and
    // clients without such a secret are checked against a decoy hash, so neither the time
    // taken nor the work done reveals which ids exist or how many secrets a client has.
    let carried = crate::secret::carried_secret_id(secret);
    let candidates: Vec<&StoredSecret> = live
        .iter()
        .copied()
        .filter(|s| match carried {
            Some(id) => s.id_in_secret && s.secret_id == id,
            None => !s.id_in_secret,
        })
        .collect();
    let hashes: Vec<_> = if candidates.is_empty() {
        vec![state.decoy_hash.clone()]
    } else {
        candidates.iter().map(|s| s.hash.clone()).collect()
    };
    let ids: Vec<String> = candidates.iter().map(|s| s.secret_id.clone()).collect();
    let pool = &state.argon2;
    let verified = state
        .verifications
        .run(tag, || async move {
            let started = std::time::Instant::now();
            let found = pool.verify(hashes, secret).await;
            state.metrics.argon2(started.elapsed());
            Ok(found?.and_then(|i| ids.get(i).cloned()))
        })
        .await;
    let matched = match verified {
        Ok(Some(secret_id)) => live.iter().find(|s| s.secret_id == secret_id).map(|s| {
            if !ttl.is_zero() {
                s.verified.remember(tag);
            }
            secret_id
        }),
        Ok(None) => None,
        Err(VerifyError::Busy) => return Err(TokenError::TemporarilyUnavailable),
        Err(VerifyError::Closed) => return Err(TokenError::ServerError),
    };
    match (client, matched) {
        (Some(c), Some(secret_id)) if c.enabled => accept(state, c, secret_id, source),
        _ => {
            let shown = crate::secret::loggable_id(client_id);
            tracing::info!(client_id = shown, "client authentication failed");
            state
                .usage
                .authentication_failed(client_id, chrono::Utc::now());
            for lockout in super::brute_force::count_failure(state, client_id, source).await {
                audit_lockout(state, client_id, lockout).await;
            }
            Err(TokenError::InvalidClient { challenge })
        }
    }
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

/// The secret is right: the source address decides.
fn accept(
    state: &AppState,
    client: Arc<TokenClient>,
    secret_id: String,
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
    Ok(AuthenticatedClient { client, secret_id })
}
