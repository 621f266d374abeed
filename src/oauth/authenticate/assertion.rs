//! `private_key_jwt` (RFC 7523 §2.2, SPEC §9): a JWT signed by one of the client's keys.

use super::{AuthContext, AuthenticatedClient, refuse};
use crate::oauth::TokenError;
use crate::state::AppState;

/// Verifies a client assertion. Not yet built: every assertion is refused.
pub(super) async fn authenticate(
    state: &AppState,
    client_id: Option<&str>,
    _assertion: &str,
    ctx: AuthContext<'_>,
) -> Result<AuthenticatedClient, TokenError> {
    Err(refuse(state, client_id.unwrap_or_default(), ctx.source, false).await)
}
