//! Token revocation (RFC 7009): a client revokes its own tokens at `POST /oauth2/revoke`;
//! admins revoke any token through the admin API. Both go through [`revoke_access_token`].

use actix_web::{HttpRequest, HttpResponse, web};

use super::introspect::authenticated_reference;
use super::verify::{UNKNOWN_KEY, VerifiedToken, verify_access_token};
use super::{TokenError, no_store};
use crate::state::AppState;
use crate::store::audit::Actor;
use crate::store::{self, StoreError};

/// What a revocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The token is now revoked everywhere.
    Revoked,
    /// It already was.
    AlreadyRevoked,
    /// Not a valid, unexpired token of this server: there is nothing to revoke.
    NotAToken,
}

/// Why a revocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// The caller may revoke only tokens issued to it.
    #[error("the token was not issued to this client")]
    NotIssuedToCaller,
    /// Storing the revocation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Revokes `token` until it expires. With `only_of`, refuses tokens of other clients.
pub async fn revoke_access_token(
    state: &AppState,
    token: &str,
    only_of: Option<&str>,
    actor: &Actor,
) -> Result<Revocation, RevokeError> {
    let Some(verified) = revocable_token(state, token).await else {
        return Ok(Revocation::NotAToken);
    };
    if only_of.is_some_and(|caller| caller != verified.client_id) {
        return Err(RevokeError::NotIssuedToCaller);
    }
    revoke_verified(state, &verified, actor).await
}

/// `token` verified as one of ours and unexpired (its signature, issuer and expiry); `None`
/// when there is nothing to revoke.
pub async fn revocable_token(state: &AppState, token: &str) -> Option<VerifiedToken> {
    let now = chrono::Utc::now();
    match verify_access_token(&state.keys.load(), &state.issuer, token, now) {
        Ok(v) => Some(v),
        // Perhaps signed by a key another replica added a moment ago: look once more.
        Err(e) if e.0 == UNKNOWN_KEY => {
            if let Err(e) = state.reload_keys().await {
                tracing::warn!(error = %e, "reloading keys failed");
            }
            verify_access_token(&state.keys.load(), &state.issuer, token, now).ok()
        }
        Err(_) => None,
    }
}

/// Revokes a verified token until it expires, on every replica.
pub async fn revoke_verified(
    state: &AppState,
    verified: &VerifiedToken,
    actor: &Actor,
) -> Result<Revocation, RevokeError> {
    if state.revocations.load().has_jti(&verified.jti) {
        return Ok(Revocation::AlreadyRevoked);
    }
    store::revocations::revoke_token(
        &state.db,
        &verified.client_id,
        &verified.jti,
        verified.exp,
        actor,
    )
    .await?;
    // This process sees its own revocation at once; the others through the change log.
    if let Err(e) = state.reload_revocations().await {
        tracing::warn!(error = %e, "reloading revocations failed; the change log will retry");
    }
    Ok(Revocation::Revoked)
}

/// `POST /oauth2/revoke`: 200 for revoked and for unknown tokens alike (RFC 7009 §2.2).
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, TokenError> {
    let (reference, caller) = authenticated_reference(&state, &req, payload).await?;
    let actor = Actor::Client(caller.clone());
    match revoke_access_token(&state, &reference.token, Some(&caller), &actor).await {
        Ok(_) => {
            let mut response = HttpResponse::Ok();
            no_store(&mut response);
            Ok(response.finish())
        }
        Err(RevokeError::NotIssuedToCaller) => Err(TokenError::UnauthorizedClient(
            "the token was not issued to this client".into(),
        )),
        Err(RevokeError::Store(e)) => {
            tracing::error!(error = %e, "storing a revocation failed");
            Err(TokenError::ServerError)
        }
    }
}
