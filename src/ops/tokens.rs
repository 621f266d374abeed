//! Revoking one access token as an administrator.

use super::{Context, Ops, OpsError, Permission};
use crate::oauth::revoke::{Revocation, RevokeError, revocable_token, revoke_verified};

/// Revokes `token` until it expires. A delegated admin may revoke only tokens of itself and
/// its subtree (`403` otherwise: the token names its client, so nothing is hidden).
pub async fn revoke(ops: &Ops<'_>, ctx: &Context, token: &str) -> Result<Revocation, OpsError> {
    ctx.require(Permission::RevokeTokens)?;
    let Some(state) = ops.server else {
        return Err(OpsError::Conflict(
            "revoking one token needs the running server's keys".into(),
        ));
    };
    let Some(verified) = revocable_token(state, token).await else {
        return Ok(Revocation::NotAToken);
    };
    match ctx
        .client_target(ops.db, Permission::RevokeTokens, &verified.client_id)
        .await
    {
        Ok(_) => {}
        Err(OpsError::NotFound(_)) => {
            return Err(OpsError::Forbidden(
                "you may revoke only tokens of clients you own".into(),
            ));
        }
        Err(e) => return Err(e),
    }
    match revoke_verified(state, &verified, &ctx.actor).await {
        Ok(r) => Ok(r),
        Err(RevokeError::Store(e)) => Err(e.into()),
        Err(RevokeError::NotIssuedToCaller) => Err(OpsError::Forbidden(
            "the token was not issued to this client".into(),
        )),
    }
}
