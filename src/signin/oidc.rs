//! Sign-in through an upstream OpenID Connect provider (`console.oidc.*`), with the
//! `openidconnect` crate: discovery, authorization code with PKCE (S256), `state` and `nonce`,
//! and the ID token's signature, issuer, audience, expiry and nonce verified. The verified
//! `email` must belong to an existing, enabled administrator: nobody is created on the fly.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::config::OidcSettings;

/// How long a sign-in at the provider may take.
pub const FLOW_SECONDS: i64 = 600;

/// Why an upstream sign-in failed; the console shows one message for all.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Discovery or the token request failed (the provider is down or misconfigured).
    #[error("the OpenID provider could not be used: {0}")]
    Provider(String),
    /// The answer did not match the flow begun here (state, expiry), or the ID token did not
    /// verify.
    #[error("the sign-in answer did not verify")]
    Rejected,
    /// No email, or one the provider has not verified.
    #[error("the provider did not vouch for an email address")]
    NoVerifiedEmail,
}

/// What the browser carries between the redirect and the callback, sealed (never readable
/// or forgeable by it).
#[derive(Serialize, Deserialize)]
pub struct Flow {
    state: String,
    verifier: String,
    nonce: String,
    /// Unix seconds after which the callback is refused.
    expires: i64,
}

fn http() -> Result<openidconnect::reqwest::Client, OidcError> {
    openidconnect::reqwest::ClientBuilder::new()
        // Following redirects would let the provider's answers point anywhere (SSRF).
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| OidcError::Provider(e.to_string()))
}

async fn discover(
    settings: &OidcSettings,
    http: &openidconnect::reqwest::Client,
) -> Result<CoreProviderMetadata, OidcError> {
    let issuer =
        IssuerUrl::new(settings.issuer.clone()).map_err(|e| OidcError::Provider(e.to_string()))?;
    CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| OidcError::Provider(e.to_string()))
}

/// The client as discovery configures it (authorization endpoint set; token and UserInfo
/// endpoints as the provider says).
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovers the provider and configures this client of it.
async fn client(
    settings: &OidcSettings,
    redirect_uri: &str,
    http: &openidconnect::reqwest::Client,
) -> Result<Client, OidcError> {
    let metadata = discover(settings, http).await?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| OidcError::Provider(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.client_id.clone()),
        Some(ClientSecret::new(settings.client_secret.to_string())),
    )
    .set_redirect_uri(redirect))
}

/// Begins a sign-in: the provider URL to send the browser to, and the flow to seal.
pub async fn begin(
    settings: &OidcSettings,
    redirect_uri: &str,
) -> Result<(String, Flow), OidcError> {
    let http = http()?;
    let client = client(settings, redirect_uri, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok((
        url.to_string(),
        Flow {
            state: state.secret().clone(),
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            expires: chrono::Utc::now().timestamp() + FLOW_SECONDS,
        },
    ))
}

/// Finishes a sign-in: checks `state` against the flow, exchanges `code` (with the PKCE
/// verifier), verifies the ID token (nonce included) and returns its verified email,
/// lower-cased.
pub async fn finish(
    settings: &OidcSettings,
    redirect_uri: &str,
    flow: Flow,
    code: &str,
    state: &str,
) -> Result<String, OidcError> {
    let state_matches: bool = flow.state.as_bytes().ct_eq(state.as_bytes()).into();
    if !state_matches || chrono::Utc::now().timestamp() > flow.expires || code.is_empty() {
        return Err(OidcError::Rejected);
    }
    let http = http()?;
    let client = client(settings, redirect_uri, &http).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| OidcError::Provider(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
        .request_async(&http)
        .await
        .map_err(|_| OidcError::Rejected)?;
    let id_token = tokens.id_token().ok_or(OidcError::Rejected)?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(flow.nonce))
        .map_err(|_| OidcError::Rejected)?;
    if let (Some(email), Some(true)) = (claims.email(), claims.email_verified()) {
        return Ok(super::normalize_email(email.as_str()));
    }
    // Claims asked for by scope may come from the UserInfo endpoint only (OpenID Connect
    // Core §5.4); its `sub` must be the ID token's.
    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .map_err(|_| OidcError::NoVerifiedEmail)?
        .request_async(&http)
        .await
        .map_err(|_| OidcError::Rejected)?;
    match (info.email(), info.email_verified()) {
        (Some(email), Some(true)) => Ok(super::normalize_email(email.as_str())),
        _ => Err(OidcError::NoVerifiedEmail),
    }
}
