//! `client_secret_basic` / `client_secret_post`: cached verifications first, argon2id off the
//! reactor otherwise.

use std::sync::Arc;

use super::{AuthenticatedBy, AuthenticatedClient, accept, locked_out, refuse, unavailable};
use crate::oauth::TokenError;
use crate::secret::{CredentialTag, VerifyError};
use crate::state::AppState;
use crate::store::client_auth::ClientAuthentication;
use crate::store::{StoredSecret, TokenClient};

/// Checks `secret` for `client_id` from `source`. Unknown, disabled and wrong all give the
/// same `invalid_client`; `challenge` says whether Basic was used (RFC 6749 §5.2).
pub(super) async fn authenticate(
    state: &AppState,
    client_id: &str,
    secret: &[u8],
    source: Option<std::net::IpAddr>,
    challenge: bool,
) -> Result<AuthenticatedClient, TokenError> {
    let client = state.clients.get(client_id).await.map_err(unavailable)?;
    let live = live_secrets(client.as_deref());
    // A pair verified recently is recognised by its HMAC tag, without argon2.
    let tag = state.credential_key.tag(client_id, secret);
    let ttl = state.settings.verified_credential_ttl;
    let cached = client
        .as_ref()
        .filter(|c| c.enabled)
        .and_then(|_| live.iter().find(|s| s.verified.matches(&tag, ttl)));
    if let (Some(c), Some(s)) = (&client, cached) {
        state.metrics.credential_cache(true);
        return accept(
            state,
            c.clone(),
            AuthenticatedBy::Secret(s.secret_id.clone()),
            source,
        );
    }
    state.metrics.credential_cache(false);
    // Boxed: the argon2 path's future is several kilobytes, and every request's future is
    // moved whole a few times on its way to the runtime; the cached path must not carry it.
    Box::pin(verify_uncached(
        state, client, client_id, secret, tag, source, challenge,
    ))
    .await
}

/// The secrets of `client` that count now. A client registered with another method has none
/// (it may keep old ones from before it changed): it gets the decoy, like an unknown client.
fn live_secrets(client: Option<&TokenClient>) -> Vec<&StoredSecret> {
    match client {
        Some(c) if matches!(c.authentication, ClientAuthentication::Secret) => {
            c.live_secrets(chrono::Utc::now().timestamp()).collect()
        }
        _ => Vec::new(),
    }
}

/// A pair not verified recently: argon2id, unless the client or the source is locked out.
async fn verify_uncached(
    state: &AppState,
    client: Option<Arc<TokenClient>>,
    client_id: &str,
    secret: &[u8],
    tag: CredentialTag,
    source: Option<std::net::IpAddr>,
    challenge: bool,
) -> Result<AuthenticatedClient, TokenError> {
    let live = live_secrets(client.as_deref());
    let ttl = state.settings.verified_credential_ttl;
    // Before any argon2 work: a client id or source under attack answers nothing but 429,
    // whichever replica counted its failures.
    if let Some(locked) = locked_out(state, client_id, source).await {
        return Err(locked);
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
        (Some(c), Some(secret_id)) if c.enabled => {
            accept(state, c, AuthenticatedBy::Secret(secret_id), source)
        }
        _ => Err(refuse(state, client_id, source, challenge).await),
    }
}
