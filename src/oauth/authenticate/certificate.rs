//! `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2, SPEC §9): the client
//! certificate of the TLS connection, or of a trusted proxy's `Client-Cert` header.

use super::{AuthContext, AuthenticatedClient, refuse, registered_with};
use crate::oauth::TokenError;
use crate::state::AppState;
use crate::store::client_auth::ClientAuthentication;

/// A client certificate, DER.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// The certificate, DER-encoded.
    pub der: Vec<u8>,
}

/// Authenticates `client_id` by the connection's certificate. Not yet built: refused.
pub(super) async fn authenticate(
    state: &AppState,
    client_id: &str,
    ctx: AuthContext<'_>,
) -> Result<AuthenticatedClient, TokenError> {
    let _client = registered_with(state, client_id, |a| {
        matches!(
            a,
            ClientAuthentication::TlsClientAuth(_)
                | ClientAuthentication::SelfSignedTlsClientAuth(_)
        )
    })
    .await?;
    // Without a certificate this is a request with no credentials: HTTP Basic is the way.
    Err(refuse(state, client_id, ctx.source, ctx.certificate.is_none()).await)
}

/// The client certificate of a request: from the TLS connection, or from
/// `server.client_cert_header` when the peer is a trusted proxy. Not yet built: none.
pub fn of_request(_state: &AppState, _req: &actix_web::HttpRequest) -> Option<PeerCertificate> {
    None
}
