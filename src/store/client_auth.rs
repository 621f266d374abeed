//! How a client authenticates at the token, introspection and revocation endpoints (SPEC §9):
//! the method, its settings as administrators give them, and the checked form the token path
//! uses.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A client's `token_endpoint_auth_method` (RFC 7591 names).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// A shared secret, by HTTP Basic or in the body (`client_secret_post` is accepted too).
    #[default]
    #[serde(alias = "client_secret_post")]
    ClientSecretBasic,
    /// A JWT signed by one of the client's keys (RFC 7523 §2.2).
    PrivateKeyJwt,
    /// A certificate from the configured CA with a registered subject (RFC 8705 §2.1).
    TlsClientAuth,
    /// A self-signed certificate registered in the client's `jwks` (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl TokenEndpointAuthMethod {
    /// Every method, in the order discovery lists them.
    pub const ALL: [TokenEndpointAuthMethod; 4] = [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::PrivateKeyJwt,
        TokenEndpointAuthMethod::TlsClientAuth,
        TokenEndpointAuthMethod::SelfSignedTlsClientAuth,
    ];

    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenEndpointAuthMethod::TlsClientAuth => "tls_client_auth",
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Whether clients of this method hold secrets.
    pub fn uses_secret(self) -> bool {
        self == TokenEndpointAuthMethod::ClientSecretBasic
    }
}

impl std::str::FromStr for TokenEndpointAuthMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            // The two secret placements are one method here: both are accepted.
            "client_secret_basic" | "client_secret_post" => {
                Ok(TokenEndpointAuthMethod::ClientSecretBasic)
            }
            other => Self::ALL
                .into_iter()
                .find(|m| m.as_str() == other)
                .ok_or_else(|| {
                    format!(
                        "{other:?} is not one of client_secret_basic, private_key_jwt, \
                         tls_client_auth, self_signed_tls_client_auth"
                    )
                }),
        }
    }
}

/// The algorithm a client signs its assertions with (`token_endpoint_auth_signing_alg`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum AssertionAlg {
    /// ECDSA P-256 with SHA-256.
    #[default]
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
}

impl AssertionAlg {
    /// Every algorithm, as discovery lists them.
    pub const ALL: [AssertionAlg; 5] = [
        AssertionAlg::ES256,
        AssertionAlg::ES384,
        AssertionAlg::EdDSA,
        AssertionAlg::PS256,
        AssertionAlg::RS256,
    ];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionAlg::ES256 => "ES256",
            AssertionAlg::ES384 => "ES384",
            AssertionAlg::EdDSA => "EdDSA",
            AssertionAlg::PS256 => "PS256",
            AssertionAlg::RS256 => "RS256",
        }
    }

    /// The JWK key type its keys have.
    pub fn key_type(self) -> &'static str {
        match self {
            AssertionAlg::ES256 | AssertionAlg::ES384 => "EC",
            AssertionAlg::EdDSA => "OKP",
            AssertionAlg::PS256 | AssertionAlg::RS256 => "RSA",
        }
    }
}

impl std::str::FromStr for AssertionAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of ES256, ES384, EdDSA, PS256, RS256"))
    }
}

/// The settings of a client's method as the admin API, the CLI and the console give them, and
/// as stored (JSON in `clients.auth_settings`). Which ones apply depends on the method.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthSettings {
    /// A public JWK set (`{"keys": […]}`): the client's assertion keys (`private_key_jwt`) or
    /// certificates in `x5c` (`self_signed_tls_client_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its JWK set (`https`), instead of `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The one algorithm its assertions may use (default `ES256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<AssertionAlg>,
    /// `tls_client_auth`: the certificate's subject distinguished name (RFC 4514).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth`: a DNS name among the certificate's subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// `tls_client_auth`: a URI among the certificate's subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// `tls_client_auth`: an IP address among the certificate's subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// `tls_client_auth`: an email address among the certificate's subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
}

/// What a client's authentication is made of: the method, its settings, and whether its
/// tokens must be DPoP-bound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthFields {
    /// The method.
    pub method: TokenEndpointAuthMethod,
    /// Its settings.
    pub settings: AuthSettings,
    /// Token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
}

/// The value a `tls_client_auth` client's certificate must carry, exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSubject {
    /// The subject distinguished name (RFC 4514 string form).
    Dn(String),
    /// A DNS subject alternative name.
    SanDns(String),
    /// A URI subject alternative name.
    SanUri(String),
    /// An IP address subject alternative name.
    SanIp(std::net::IpAddr),
    /// An email (rfc822Name) subject alternative name.
    SanEmail(String),
}

/// A client's public JWK set, checked: public keys only, of known types.
#[derive(Debug)]
pub struct PublicJwkSet {
    /// The keys, in the set's order.
    pub keys: Vec<josekit::jwk::Jwk>,
    /// Assertion verifiers of these keys, prepared by the token path on first use and kept as
    /// long as the set is (verifier set-up costs more than a verification).
    pub verifiers: std::sync::OnceLock<Arc<KeyVerifiers>>,
}

/// A set's keys as verifiers for one algorithm, in the set's order: `None` for a key that
/// cannot verify it (another key type or curve, `use: enc`, another `alg`).
#[derive(Debug)]
pub struct KeyVerifiers {
    /// The algorithm they verify.
    pub alg: AssertionAlg,
    /// Each key's `kid` and verifier.
    pub keys: Vec<(Option<String>, Option<KeyVerifier>)>,
}

/// One key's verifier.
pub type KeyVerifier = Box<dyn josekit::jws::JwsVerifier>;

/// Where a `private_key_jwt` client's keys are.
#[derive(Debug, Clone)]
pub enum ClientKeys {
    /// Registered inline.
    Inline(Arc<PublicJwkSet>),
    /// Published by the client at this URL (fetched and cached by the token path).
    Uri(url::Url),
}

/// A client's authentication, checked, as the token path uses it.
#[derive(Debug, Clone, Default)]
pub enum ClientAuthentication {
    /// A shared secret.
    #[default]
    Secret,
    /// A signed assertion.
    PrivateKeyJwt {
        /// Its keys.
        keys: ClientKeys,
        /// The one algorithm allowed.
        alg: AssertionAlg,
    },
    /// A CA-issued certificate with this subject.
    TlsClientAuth(CertificateSubject),
    /// A self-signed certificate among the `x5c` of these keys.
    SelfSignedTlsClientAuth(Arc<PublicJwkSet>),
}

/// JWK members that only private (or symmetric) keys have (RFC 7518 §6).
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl PublicJwkSet {
    /// Checks a JWK set: an object with a non-empty `keys` array of public EC, OKP or RSA
    /// keys (no private member anywhere), at most 20 of them.
    pub fn parse(value: &serde_json::Value) -> Result<Self, String> {
        let keys = value
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or("must be a JWK set: an object with a \"keys\" array")?;
        if keys.is_empty() || keys.len() > 20 {
            return Err("must hold 1 to 20 keys".into());
        }
        let mut out = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let map = key
                .as_object()
                .ok_or_else(|| format!("key {i} is not a JSON object"))?;
            if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| map.contains_key(**m)) {
                return Err(format!(
                    "key {i} has the private member {member:?}: register public keys only"
                ));
            }
            let jwk = josekit::jwk::Jwk::from_map(map.clone())
                .map_err(|_| format!("key {i} is not a valid JWK"))?;
            if !matches!(jwk.key_type(), "EC" | "OKP" | "RSA") {
                return Err(format!(
                    "key {i} has kty {:?}; expected EC, OKP or RSA",
                    jwk.key_type()
                ));
            }
            out.push(jwk);
        }
        Ok(PublicJwkSet {
            keys: out,
            verifiers: Default::default(),
        })
    }
}

impl ClientAuthentication {
    /// Checks a method's settings, naming each bad field; `allow_http_jwks_uri` admits
    /// `http` JWK set URLs (tests on loopback).
    pub fn check(
        fields: &AuthFields,
        allow_http_jwks_uri: bool,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let s = &fields.settings;
        let mut errors: Vec<(&'static str, String)> = Vec::new();
        let tls_fields = [
            ("tls_client_auth_subject_dn", &s.tls_client_auth_subject_dn),
            ("tls_client_auth_san_dns", &s.tls_client_auth_san_dns),
            ("tls_client_auth_san_uri", &s.tls_client_auth_san_uri),
            ("tls_client_auth_san_ip", &s.tls_client_auth_san_ip),
            ("tls_client_auth_san_email", &s.tls_client_auth_san_email),
        ];
        let given_tls: Vec<(&'static str, &String)> = tls_fields
            .iter()
            .filter_map(|(name, v)| v.as_ref().map(|v| (*name, v)))
            .collect();
        let method = fields.method;
        let not_for = |field: &'static str| {
            (
                field,
                format!(
                    "does not apply to token_endpoint_auth_method {}",
                    method.as_str()
                ),
            )
        };
        if method != TokenEndpointAuthMethod::TlsClientAuth {
            errors.extend(given_tls.iter().map(|(name, _)| not_for(name)));
        }
        if method != TokenEndpointAuthMethod::PrivateKeyJwt {
            if s.jwks_uri.is_some() {
                errors.push(not_for("jwks_uri"));
            }
            if s.token_endpoint_auth_signing_alg.is_some() {
                errors.push(not_for("token_endpoint_auth_signing_alg"));
            }
        }
        if matches!(
            method,
            TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::TlsClientAuth
        ) && s.jwks.is_some()
        {
            errors.push(not_for("jwks"));
        }
        let jwks = match &s.jwks {
            Some(v) => match PublicJwkSet::parse(v) {
                Ok(set) => Some(Arc::new(set)),
                Err(e) => {
                    errors.push(("jwks", e));
                    None
                }
            },
            None => None,
        };
        let checked = match method {
            TokenEndpointAuthMethod::ClientSecretBasic => Some(ClientAuthentication::Secret),
            TokenEndpointAuthMethod::PrivateKeyJwt => {
                let alg = s.token_endpoint_auth_signing_alg.unwrap_or_default();
                let keys = match (&jwks, &s.jwks_uri) {
                    (Some(_), Some(_)) => {
                        errors.push(("jwks_uri", "give jwks or jwks_uri, not both".into()));
                        None
                    }
                    (Some(set), None) => {
                        if let Some(i) =
                            set.keys.iter().position(|k| k.key_type() != alg.key_type())
                        {
                            errors.push((
                                "jwks",
                                format!(
                                    "key {i} is not a {} key, as {} needs",
                                    alg.key_type(),
                                    alg.as_str()
                                ),
                            ));
                        }
                        Some(ClientKeys::Inline(set.clone()))
                    }
                    (None, Some(uri)) => match check_jwks_uri(uri, allow_http_jwks_uri) {
                        Ok(url) => Some(ClientKeys::Uri(url)),
                        Err(e) => {
                            errors.push(("jwks_uri", e));
                            None
                        }
                    },
                    (None, None) if s.jwks.is_some() => None,
                    (None, None) => {
                        errors.push(("jwks", "private_key_jwt needs jwks or jwks_uri".into()));
                        None
                    }
                };
                keys.map(|keys| ClientAuthentication::PrivateKeyJwt { keys, alg })
            }
            TokenEndpointAuthMethod::TlsClientAuth => match given_tls.as_slice() {
                [(name, value)] => match certificate_subject(name, value) {
                    Ok(subject) => Some(ClientAuthentication::TlsClientAuth(subject)),
                    Err(e) => {
                        errors.push((name, e));
                        None
                    }
                },
                [] => {
                    errors.push((
                        "tls_client_auth_subject_dn",
                        "tls_client_auth needs exactly one of tls_client_auth_subject_dn, \
                         _san_dns, _san_uri, _san_ip, _san_email"
                            .into(),
                    ));
                    None
                }
                [_, (name, _), ..] => {
                    errors.push((name, "give exactly one tls_client_auth_* value".into()));
                    None
                }
            },
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth => match &jwks {
                Some(set) => {
                    if let Some(i) = set
                        .keys
                        .iter()
                        .position(|k| k.x509_certificate_chain().is_none_or(|c| c.is_empty()))
                    {
                        errors.push(("jwks", format!("key {i} has no certificate in x5c")));
                    }
                    Some(ClientAuthentication::SelfSignedTlsClientAuth(set.clone()))
                }
                None if s.jwks.is_some() => None,
                None => {
                    errors.push((
                        "jwks",
                        "self_signed_tls_client_auth needs jwks with the certificates in x5c"
                            .into(),
                    ));
                    None
                }
            },
        };
        match checked {
            Some(c) if errors.is_empty() => Ok(c),
            _ => Err(errors),
        }
    }

    /// The method's name.
    pub fn method(&self) -> TokenEndpointAuthMethod {
        match self {
            ClientAuthentication::Secret => TokenEndpointAuthMethod::ClientSecretBasic,
            ClientAuthentication::PrivateKeyJwt { .. } => TokenEndpointAuthMethod::PrivateKeyJwt,
            ClientAuthentication::TlsClientAuth(_) => TokenEndpointAuthMethod::TlsClientAuth,
            ClientAuthentication::SelfSignedTlsClientAuth(_) => {
                TokenEndpointAuthMethod::SelfSignedTlsClientAuth
            }
        }
    }
}

fn check_jwks_uri(uri: &str, allow_http: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(uri).map_err(|_| format!("{uri:?} is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(
                "must be an https URL (http only with token.allow_http_jwks_uri = true)".into(),
            );
        }
        _ => return Err("must be an https URL".into()),
    }
    if url.host().is_none() || url.fragment().is_some() || !url.username().is_empty() {
        return Err("must be an https URL with a host, no user and no fragment".into());
    }
    Ok(url)
}

fn certificate_subject(field: &str, value: &str) -> Result<CertificateSubject, String> {
    let value = value.trim();
    if value.is_empty() || value.len() > 1024 {
        return Err("must be 1 to 1024 characters".into());
    }
    Ok(match field {
        "tls_client_auth_subject_dn" => {
            // Refused here rather than never matching at the token endpoint.
            crate::oauth::authenticate::certificate::CanonicalDn::parse(value)?;
            CertificateSubject::Dn(value.to_owned())
        }
        "tls_client_auth_san_dns" => CertificateSubject::SanDns(value.to_owned()),
        "tls_client_auth_san_uri" => {
            url::Url::parse(value).map_err(|_| format!("{value:?} is not an absolute URI"))?;
            CertificateSubject::SanUri(value.to_owned())
        }
        "tls_client_auth_san_ip" => CertificateSubject::SanIp(
            value
                .parse()
                .map_err(|_| format!("{value:?} is not an IPv4 or IPv6 address"))?,
        ),
        _ => {
            if !value.contains('@') {
                return Err(format!("{value:?} is not an email address"));
            }
            CertificateSubject::SanEmail(value.to_owned())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(method: TokenEndpointAuthMethod, settings: AuthSettings) -> AuthFields {
        AuthFields {
            method,
            settings,
            dpop_bound_access_tokens: false,
        }
    }

    const EC_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn private_key_jwt_needs_public_keys_of_its_algorithm() {
        let key: serde_json::Value = serde_json::from_str(EC_KEY).unwrap();
        let ok = fields(
            TokenEndpointAuthMethod::PrivateKeyJwt,
            AuthSettings {
                jwks: Some(serde_json::json!({"keys": [key.clone()]})),
                ..Default::default()
            },
        );
        assert!(matches!(
            ClientAuthentication::check(&ok, false),
            Ok(ClientAuthentication::PrivateKeyJwt {
                alg: AssertionAlg::ES256,
                ..
            })
        ));
        let mut private = key.clone();
        private["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI".into();
        let bad = fields(
            TokenEndpointAuthMethod::PrivateKeyJwt,
            AuthSettings {
                jwks: Some(serde_json::json!({"keys": [private]})),
                ..Default::default()
            },
        );
        let errors = ClientAuthentication::check(&bad, false).unwrap_err();
        assert_eq!(errors[0].0, "jwks");
        assert!(errors[0].1.contains("private member"), "{errors:?}");
        let rsa_alg = fields(
            TokenEndpointAuthMethod::PrivateKeyJwt,
            AuthSettings {
                jwks: Some(serde_json::json!({"keys": [key]})),
                token_endpoint_auth_signing_alg: Some(AssertionAlg::RS256),
                ..Default::default()
            },
        );
        assert_eq!(
            ClientAuthentication::check(&rsa_alg, false).unwrap_err()[0].0,
            "jwks"
        );
        let http = fields(
            TokenEndpointAuthMethod::PrivateKeyJwt,
            AuthSettings {
                jwks_uri: Some("http://127.0.0.1:9/jwks".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            ClientAuthentication::check(&http, false).unwrap_err()[0].0,
            "jwks_uri"
        );
        assert!(ClientAuthentication::check(&http, true).is_ok());
    }

    #[test]
    fn tls_client_auth_takes_exactly_one_subject() {
        let none = fields(
            TokenEndpointAuthMethod::TlsClientAuth,
            AuthSettings::default(),
        );
        assert!(ClientAuthentication::check(&none, false).is_err());
        let two = fields(
            TokenEndpointAuthMethod::TlsClientAuth,
            AuthSettings {
                tls_client_auth_subject_dn: Some("CN=a".into()),
                tls_client_auth_san_dns: Some("a.example".into()),
                ..Default::default()
            },
        );
        assert!(ClientAuthentication::check(&two, false).is_err());
        let ip = fields(
            TokenEndpointAuthMethod::TlsClientAuth,
            AuthSettings {
                tls_client_auth_san_ip: Some("10.0.0.1".into()),
                ..Default::default()
            },
        );
        assert!(matches!(
            ClientAuthentication::check(&ip, false),
            Ok(ClientAuthentication::TlsClientAuth(
                CertificateSubject::SanIp(_)
            ))
        ));
        let stray = fields(
            TokenEndpointAuthMethod::ClientSecretBasic,
            AuthSettings {
                tls_client_auth_subject_dn: Some("CN=a".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            ClientAuthentication::check(&stray, false).unwrap_err()[0].0,
            "tls_client_auth_subject_dn"
        );
    }
}
