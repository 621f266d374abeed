//! The client-credentials grant run through oxide-auth's flow, with our registrar and issuer.
//!
//! The client authenticates first, by the method it is registered with (secret, assertion or
//! certificate; [`super::authenticate`]); oxide-auth then drives the grant's steps (check the
//! client, bind, negotiate scope, consent, issue) with the authenticated client. It never sees
//! the client's secret: its `check` confirms that the client it names is the one that
//! authenticated. Where its answers differ from RFC 6749 §5.2 and our SPEC (error codes and
//! statuses, `token_type` casing, `expires_in` computed from a clock), we keep the precise
//! outcome in a per-request [`Slot`] and build the HTTP response ourselves from it.

use std::borrow::Cow;
use std::cell::{RefCell, RefMut};
use std::sync::{Arc, LazyLock};

use oxide_auth::endpoint::{
    ClientCredentialsFlow, Endpoint, NormalizedParameter, OAuthError, OwnerConsent, OwnerSolicitor,
    QueryParameter, Scopes, Solicitation, Template, WebRequest, WebResponse,
};
use oxide_auth::primitives::authorizer::Authorizer;
use oxide_auth::primitives::grant::Grant as OxideGrant;
use oxide_auth::primitives::issuer::{IssuedToken, Issuer, RefreshedToken, TokenType};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, PreGrant, RegisteredUrl, Registrar, RegistrarError,
};
use oxide_auth::primitives::scope::Scope;

use super::TokenError;
use super::authenticate::{AuthContext, AuthenticatedBy, AuthenticatedClient, authenticate};
use super::grant::{Confirmation, Grant, IssuedAccessToken, negotiate, sign_access_token};
use super::request::TokenRequest;
use crate::state::AppState;
use crate::store::TokenClient;

/// oxide-auth insists on a redirect URI even for client credentials; this one is never used.
static NO_REDIRECT: LazyLock<RegisteredUrl> = LazyLock::new(|| {
    RegisteredUrl::Semantic(url::Url::parse("urn:ietf:wg:oauth:2.0:oob").expect("static URL"))
});

/// The scope oxide-auth carries: empty, and so free to copy (see `ClientRegistrar::negotiate`).
static NO_SCOPE: LazyLock<Scope> = LazyLock::new(|| "".parse().expect("static scope"));

/// What oxide-auth is given as the client's passphrase: the client authenticated before the
/// flow, so this only marks the request as one with credentials (oxide-auth insists).
const AUTHENTICATED: &str = "authenticated-before-the-flow";

/// What one request has learned so far: oxide-auth calls the registrar three times and the
/// issuer once, each with only a client id, so the authenticated client travels here.
#[derive(Default)]
struct Slot {
    client: Option<Arc<TokenClient>>,
    secret_id: Option<String>,
    confirmation: Option<Confirmation>,
    grant: Option<Grant>,
    issued: Option<IssuedAccessToken>,
    failure: Option<TokenError>,
}

/// The flow runs synchronously on the request's task: a `RefCell` is enough, and no step
/// holds it while calling another.
struct SlotRef<'a>(&'a RefCell<Slot>);

impl SlotRef<'_> {
    fn lock(&self) -> RefMut<'_, Slot> {
        self.0.borrow_mut()
    }

    fn fail(&self, error: TokenError) {
        self.lock().failure.get_or_insert(error);
    }
}

/// Issues a token for a parsed request, or says precisely why not.
pub async fn issue_token(
    state: &AppState,
    request: TokenRequest,
) -> Result<IssuedAccessToken, TokenError> {
    let ctx = AuthContext {
        source: request.source,
        certificate: request.certificate.as_ref(),
    };
    let authenticated = authenticate(state, &request.credentials, ctx).await?;
    let confirmation = confirmation(
        &authenticated,
        request.certificate.as_ref(),
        request.dpop_jkt.as_deref(),
    )?;
    let AuthenticatedClient { client, by } = authenticated;
    let client_id = client.client_id.clone();
    let slot = RefCell::new(Slot {
        client: Some(client),
        secret_id: match by {
            AuthenticatedBy::Secret(id) => Some(id),
            _ => None,
        },
        confirmation,
        ..Slot::default()
    });
    let endpoint = TokenEndpoint {
        registrar: ClientRegistrar {
            slot: SlotRef(&slot),
            requested: request.scope.as_deref(),
            resources: &request.resources,
        },
        issuer: JwtIssuer {
            state,
            slot: SlotRef(&slot),
        },
        consent: AutoConsent,
    };
    let mut flow = ClientCredentialsFlow::prepare(endpoint).map_err(|_| TokenError::ServerError)?;
    // The client id reaches oxide-auth as a body parameter, with the marker as passphrase.
    flow.allow_credentials_in_body(true);
    // Every step is in memory (the client authenticated above; the signature is a few tens of
    // microseconds), so oxide-auth's synchronous flow runs it: no boxed future a step.
    let outcome = flow.execute(FlowRequest::new(client_id));
    let mut slot = slot.into_inner();
    match (outcome, slot.issued.take(), slot.failure.take()) {
        (Ok(_), Some(issued), None) => Ok(issued),
        (_, _, Some(failure)) => Err(failure),
        (_, _, None) => {
            tracing::error!("oxide-auth flow ended without a token or a reason");
            Err(TokenError::ServerError)
        }
    }
}

/// What the token is bound to (RFC 7800 `cnf`): the DPoP proof's key, and the certificate the
/// client authenticated with. A client that must use DPoP and sent no proof is refused here.
fn confirmation(
    authenticated: &AuthenticatedClient,
    certificate: Option<&super::authenticate::PeerCertificate>,
    dpop_jkt: Option<&str>,
) -> Result<Option<Confirmation>, TokenError> {
    if authenticated.client.dpop_bound && dpop_jkt.is_none() {
        return Err(TokenError::InvalidDpopProof(
            "this client must send a DPoP proof".into(),
        ));
    }
    // SPEC §9, RFC 8705 §3: a token issued over mutual TLS is bound to the certificate, however
    // the client authenticated (the handshake, or the trusted proxy, vouched for possession).
    let x5t_s256 = match &authenticated.by {
        AuthenticatedBy::Certificate(thumbprint) => Some(thumbprint.clone()),
        _ => certificate.map(super::authenticate::PeerCertificate::thumbprint),
    };
    Ok(
        (dpop_jkt.is_some() || x5t_s256.is_some()).then(|| Confirmation {
            jkt: dpop_jkt.map(str::to_owned),
            x5t_s256,
        }),
    )
}

struct ClientRegistrar<'a> {
    slot: SlotRef<'a>,
    /// The requested scope, validated by our parser (RFC 6749 §3.3). It reaches `negotiate`
    /// from here rather than through oxide-auth, which would parse it into a hash set and
    /// clone that twice on the way.
    requested: Option<&'a str>,
    resources: &'a [String],
}

impl Registrar for ClientRegistrar<'_> {
    fn bound_redirect<'b>(&self, bound: ClientUrl<'b>) -> Result<BoundClient<'b>, RegistrarError> {
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Borrowed(&NO_REDIRECT),
        })
    }

    fn negotiate(&self, bound: BoundClient, _: Option<Scope>) -> Result<PreGrant, RegistrarError> {
        let client = self.slot.lock().client.clone();
        let Some(client) = client else {
            self.slot.fail(TokenError::ServerError);
            return Err(RegistrarError::PrimitiveError);
        };
        let requested = self.requested.map(|s| s.split(' '));
        let grant = match negotiate(&client, requested, self.resources) {
            Ok(grant) => grant,
            Err(e) => {
                self.slot.fail(e);
                return Err(RegistrarError::Unspecified);
            }
        };
        self.slot.lock().grant = Some(grant);
        // The granted scope stays in the slot, where the issuer signs it into the token and
        // the response is built from it. oxide-auth would only copy its own copy (a hash set
        // of strings) four times and write it into a response body we do not send.
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: NO_REDIRECT.clone(),
            scope: NO_SCOPE.clone(),
        })
    }

    fn check(&self, client_id: &str, _: Option<&[u8]>) -> Result<(), RegistrarError> {
        // The client authenticated before the flow; the flow must be about that client.
        let slot = self.slot.lock();
        match &slot.client {
            Some(c) if c.client_id == client_id => Ok(()),
            _ => {
                drop(slot);
                self.slot.fail(TokenError::ServerError);
                Err(RegistrarError::PrimitiveError)
            }
        }
    }
}

struct JwtIssuer<'a> {
    state: &'a AppState,
    slot: SlotRef<'a>,
}

impl Issuer for JwtIssuer<'_> {
    fn issue(&mut self, oxide_grant: OxideGrant) -> Result<IssuedToken, ()> {
        // The flow issues once a request: what the slot holds is moved out, not copied.
        let (client, grant, secret_id, confirmation) = {
            let mut slot = self.slot.lock();
            match (slot.client.clone(), slot.grant.take()) {
                (Some(c), Some(g)) => (c, g, slot.secret_id.take(), slot.confirmation.take()),
                _ => {
                    drop(slot);
                    self.slot.fail(TokenError::ServerError);
                    return Err(());
                }
            }
        };
        // Clamped at every issue: a lifetime stored under a higher `token.max_ttl_seconds`
        // must not outlive the current bound (revocations are sized by it).
        let settings = &self.state.settings;
        let ttl = client
            .token_ttl_seconds
            .unwrap_or(settings.token_ttl.as_secs() as u32)
            .min(u32::try_from(settings.token_max_ttl.as_secs()).unwrap_or(u32::MAX));
        let now = chrono::Utc::now();
        let ring = self.state.keys.load();
        let issued = match sign_access_token(
            &ring,
            &self.state.issuer,
            &client.client_id,
            grant,
            confirmation.as_ref(),
            ttl,
            now,
        ) {
            Ok(issued) => issued,
            Err(e) => {
                self.slot.fail(e);
                return Err(());
            }
        };
        self.state
            .usage
            .token_issued(&client.client_id, secret_id.as_deref(), now);
        // oxide-auth only turns this into a JSON body that `FlowResponse` drops (the response
        // is built from the slot): an empty token spares a copy and escaping ~500 bytes.
        let token = IssuedToken {
            token: String::new(),
            refresh: None,
            until: oxide_grant.until,
            token_type: TokenType::Bearer,
        };
        self.slot.lock().issued = Some(issued);
        Ok(token)
    }

    fn refresh(&mut self, _: &str, _: OxideGrant) -> Result<RefreshedToken, ()> {
        Err(())
    }

    fn recover_token<'a>(&'a self, _: &'a str) -> Result<Option<OxideGrant>, ()> {
        Ok(None)
    }

    fn recover_refresh<'a>(&'a self, _: &'a str) -> Result<Option<OxideGrant>, ()> {
        Ok(None)
    }
}

/// Machine clients act for themselves: the owner is the client.
struct AutoConsent;

impl OwnerSolicitor<FlowRequest> for AutoConsent {
    fn check_consent(
        &mut self,
        _: &mut FlowRequest,
        solicitation: Solicitation<'_>,
    ) -> OwnerConsent<FlowResponse> {
        OwnerConsent::Authorized(solicitation.pre_grant().client_id.clone())
    }
}

struct TokenEndpoint<'a> {
    registrar: ClientRegistrar<'a>,
    issuer: JwtIssuer<'a>,
    consent: AutoConsent,
}

/// The flow's failures carry no detail we use: the slot holds the reason.
struct FlowFailure;

impl Endpoint<FlowRequest> for TokenEndpoint<'_> {
    type Error = FlowFailure;

    fn registrar(&self) -> Option<&dyn Registrar> {
        Some(&self.registrar)
    }

    fn authorizer_mut(&mut self) -> Option<&mut dyn Authorizer> {
        None
    }

    fn issuer_mut(&mut self) -> Option<&mut dyn Issuer> {
        Some(&mut self.issuer)
    }

    fn owner_solicitor(&mut self) -> Option<&mut dyn OwnerSolicitor<FlowRequest>> {
        Some(&mut self.consent)
    }

    fn scopes(&mut self) -> Option<&mut dyn Scopes<FlowRequest>> {
        None
    }

    fn response(&mut self, _: &mut FlowRequest, _: Template) -> Result<FlowResponse, FlowFailure> {
        Ok(FlowResponse)
    }

    fn error(&mut self, _: OAuthError) -> FlowFailure {
        FlowFailure
    }

    fn web_error(&mut self, _: FlowFailure) -> FlowFailure {
        FlowFailure
    }
}

/// The request as oxide-auth sees it: body parameters only.
struct FlowRequest {
    body: FlowParameters,
}

/// A list rather than oxide-auth's `NormalizedParameter` (a hash map of owned strings): three
/// fixed parameters are found by comparing names, with no hashing and no map to allocate.
/// oxide-auth's own `QueryParameter` for a `Vec` of pairs answers `None` for a repeated name,
/// and its synchronous flow borrows the body rather than copying it.
type FlowParameters = Vec<(&'static str, Cow<'static, str>)>;

impl FlowRequest {
    fn new(client_id: String) -> Self {
        // Names and fixed values borrowed: only the client id is owned. The scope goes to the
        // registrar directly (`ClientRegistrar::requested`).
        FlowRequest {
            body: vec![
                ("grant_type", Cow::Borrowed("client_credentials")),
                ("client_id", Cow::Owned(client_id)),
                ("client_secret", Cow::Borrowed(AUTHENTICATED)),
            ],
        }
    }
}

impl WebRequest for FlowRequest {
    type Error = FlowFailure;
    type Response = FlowResponse;

    fn query(&mut self) -> Result<Cow<'_, dyn QueryParameter + 'static>, FlowFailure> {
        Ok(Cow::Owned(NormalizedParameter::new()))
    }

    fn urlbody(&mut self) -> Result<Cow<'_, dyn QueryParameter + 'static>, FlowFailure> {
        Ok(Cow::Borrowed(&self.body))
    }

    fn authheader(&mut self) -> Result<Option<Cow<'_, str>>, FlowFailure> {
        Ok(None)
    }
}

/// oxide-auth's response is discarded; ours is built from the slot.
struct FlowResponse;

impl WebResponse for FlowResponse {
    type Error = FlowFailure;

    fn ok(&mut self) -> Result<(), FlowFailure> {
        Ok(())
    }

    fn redirect(&mut self, _: url::Url) -> Result<(), FlowFailure> {
        Err(FlowFailure)
    }

    fn client_error(&mut self) -> Result<(), FlowFailure> {
        Ok(())
    }

    fn unauthorized(&mut self, _: &str) -> Result<(), FlowFailure> {
        Ok(())
    }

    fn body_text(&mut self, _: &str) -> Result<(), FlowFailure> {
        Ok(())
    }

    fn body_json(&mut self, _: &str) -> Result<(), FlowFailure> {
        Ok(())
    }
}
