//! Parsing OAuth requests: content type, form body, client authentication; the token request,
//! and the requests about a token (introspection, revocation).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::TokenError;

/// Where a client put its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPlacement {
    /// `client_secret_basic`.
    Basic,
    /// `client_secret_post`.
    Post,
}

/// `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What a client presented to authenticate, URL-decoded; each method's authenticator takes
/// one of these (the TLS certificate, if any, comes with the connection).
pub enum ClientCredential {
    /// A shared secret (`client_secret_basic` or `client_secret_post`).
    Secret {
        /// The client id.
        client_id: String,
        /// The presented secret; wiped on drop.
        secret: Zeroizing<String>,
        /// Where it came from.
        placement: SecretPlacement,
    },
    /// A signed JWT (`private_key_jwt`); `client_id` in the body is optional.
    Assertion {
        /// The `client_id` parameter, if sent.
        client_id: Option<String>,
        /// The compact JWS; wiped on drop.
        assertion: Zeroizing<String>,
    },
    /// A `client_id` alone: a certificate from the TLS connection must authenticate it
    /// (`tls_client_auth`, `self_signed_tls_client_auth`).
    ClientId(String),
}

impl ClientCredential {
    /// The client id it names, if it names one (an assertion may name it only inside).
    pub fn client_id(&self) -> Option<&str> {
        match self {
            ClientCredential::Secret { client_id, .. } | ClientCredential::ClientId(client_id) => {
                Some(client_id)
            }
            ClientCredential::Assertion { client_id, .. } => client_id.as_deref(),
        }
    }

    /// Whether HTTP Basic was used: a failure then answers `WWW-Authenticate: Basic`.
    pub fn challenge(&self) -> bool {
        matches!(
            self,
            ClientCredential::Secret {
                placement: SecretPlacement::Basic,
                ..
            }
        )
    }
}

impl std::fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientCredential::Secret {
                client_id,
                placement,
                ..
            } => f
                .debug_struct("Secret")
                .field("client_id", client_id)
                .field("placement", placement)
                .finish_non_exhaustive(),
            ClientCredential::Assertion { client_id, .. } => f
                .debug_struct("Assertion")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            ClientCredential::ClientId(id) => f.debug_tuple("ClientId").field(id).finish(),
        }
    }
}

/// A syntactically valid client-credentials token request.
#[derive(Debug)]
pub struct TokenRequest {
    /// Who is asking.
    pub credentials: ClientCredential,
    /// Space-separated requested scopes; `None` when omitted or empty.
    pub scope: Option<String>,
    /// RFC 8707 resource indicators, in request order.
    pub resources: Vec<String>,
    /// Where the request came from (peer, or the client behind trusted proxies).
    pub source: Option<std::net::IpAddr>,
    /// The client certificate of the connection, if any.
    pub certificate: Option<super::authenticate::PeerCertificate>,
    /// The RFC 7638 thumbprint of the key of a valid DPoP proof, if one came.
    pub dpop_jkt: Option<String>,
}

/// An introspection (RFC 7662) or revocation (RFC 7009) request.
pub struct TokenReference {
    /// Who is asking.
    pub credentials: ClientCredential,
    /// The token in question; wiped on drop.
    pub token: Zeroizing<String>,
    /// Where the request came from.
    pub source: Option<std::net::IpAddr>,
    /// The client certificate of the connection, if any.
    pub certificate: Option<super::authenticate::PeerCertificate>,
}

impl std::fmt::Debug for TokenReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenReference")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl TokenReference {
    /// Parses the request from its `Content-Type`, its `Authorization` header values and body.
    /// `token_type_hint` is accepted and ignored: there is one kind of token (RFC 7009 §2.1).
    pub fn parse<'h>(
        content_type: Option<&[u8]>,
        authorization: impl Iterator<Item = &'h [u8]>,
        body: &[u8],
    ) -> Result<Self, TokenError> {
        let (form, header) = parse_common(content_type, authorization, body)?;
        let token = form.token.clone();
        let credentials = credentials(header, form)?;
        let token = token.ok_or_else(|| TokenError::invalid_request("token is required"))?;
        Ok(TokenReference {
            credentials,
            token,
            source: None,
            certificate: None,
        })
    }
}

#[derive(Default)]
struct Form {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Zeroizing<String>>,
    client_assertion_type: Option<String>,
    client_assertion: Option<Zeroizing<String>>,
    resources: Vec<String>,
    token: Option<Zeroizing<String>>,
}

/// The content type, the form and at most one `Authorization` header.
fn parse_common<'h>(
    content_type: Option<&[u8]>,
    mut authorization: impl Iterator<Item = &'h [u8]>,
    body: &[u8],
) -> Result<(Form, Option<&'h [u8]>), TokenError> {
    if !is_form_content_type(content_type) {
        return Err(TokenError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let form = parse_form(body)?;
    let header = authorization.next();
    if authorization.next().is_some() {
        return Err(TokenError::invalid_request(
            "more than one Authorization header",
        ));
    }
    Ok((form, header))
}

/// The one client authentication of a request: HTTP Basic, a secret in the body, a client
/// assertion, or a `client_id` alone (for a TLS certificate to authenticate). Two at once is
/// `invalid_request` (RFC 6749 §2.3).
fn credentials(header: Option<&[u8]>, form: Form) -> Result<ClientCredential, TokenError> {
    let assertion = match (form.client_assertion_type.as_deref(), form.client_assertion) {
        (None, None) => None,
        (Some(JWT_BEARER_ASSERTION), Some(assertion)) => Some(assertion),
        (Some(JWT_BEARER_ASSERTION), None) => {
            return Err(TokenError::invalid_request(
                "client_assertion is required with client_assertion_type",
            ));
        }
        (Some(_), _) => {
            return Err(TokenError::invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER_ASSERTION}"
            )));
        }
        (None, Some(_)) => {
            return Err(TokenError::invalid_request(
                "client_assertion_type is required with client_assertion",
            ));
        }
    };
    let one_method = || {
        TokenError::invalid_request(
            "use one client authentication method: HTTP Basic, client_secret in the body, or \
             client_assertion",
        )
    };
    match header {
        Some(value) => {
            let (id, secret) = parse_basic(value)?;
            if form.client_secret.is_some() || assertion.is_some() {
                return Err(one_method());
            }
            // A client_id in the body beside Basic is tolerated (several libraries send it)
            // as long as it names the same client.
            if form
                .client_id
                .as_ref()
                .is_some_and(|body_id| *body_id != id)
            {
                return Err(TokenError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            Ok(ClientCredential::Secret {
                client_id: id,
                secret,
                placement: SecretPlacement::Basic,
            })
        }
        None => match (form.client_id, form.client_secret, assertion) {
            (_, Some(_), Some(_)) => Err(one_method()),
            (Some(client_id), Some(secret), None) => Ok(ClientCredential::Secret {
                client_id,
                secret,
                placement: SecretPlacement::Post,
            }),
            (client_id, None, Some(assertion)) => Ok(ClientCredential::Assertion {
                client_id,
                assertion,
            }),
            (Some(client_id), None, None) => Ok(ClientCredential::ClientId(client_id)),
            // No credentials at all, or a secret without an id.
            _ => Err(TokenError::InvalidClient { challenge: true }),
        },
    }
}

impl TokenRequest {
    /// Parses the request from its `Content-Type`, its `Authorization` header values and body.
    pub fn parse<'h>(
        content_type: Option<&[u8]>,
        authorization: impl Iterator<Item = &'h [u8]>,
        body: &[u8],
    ) -> Result<Self, TokenError> {
        let (mut form, header) = parse_common(content_type, authorization, body)?;
        match form.grant_type.as_deref() {
            None => return Err(TokenError::invalid_request("grant_type is required")),
            Some("client_credentials") => {}
            Some(_) => return Err(TokenError::UnsupportedGrantType),
        }
        if let Some(scope) = &form.scope
            && !scope.split(' ').all(is_scope_token)
        {
            return Err(TokenError::InvalidScope(
                "scope must be space-separated scope tokens".into(),
            ));
        }
        for resource in &form.resources {
            if !is_absolute_uri_without_fragment(resource) {
                return Err(TokenError::InvalidTarget(format!(
                    "resource {resource:?} is not an absolute URI without fragment"
                )));
            }
        }
        let scope = form.scope.take();
        let resources = std::mem::take(&mut form.resources);
        Ok(TokenRequest {
            credentials: credentials(header, form)?,
            scope,
            resources,
            source: None,
            certificate: None,
            dpop_jkt: None,
        })
    }
}

fn is_form_content_type(value: Option<&[u8]>) -> bool {
    let Some(value) = value.and_then(|v| std::str::from_utf8(v).ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// Decodes one `application/x-www-form-urlencoded` component strictly: `+` is a space,
/// `%XX` a byte (two hex digits, nothing else), and the result must be UTF-8. A component
/// without escapes is borrowed; runs between escapes are copied whole.
fn form_decode(raw: &[u8]) -> Option<Cow<'_, str>> {
    let is_escape = |b: &u8| matches!(b, b'+' | b'%');
    let Some(first) = raw.iter().position(is_escape) else {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'+' => {
                out.push(b' ');
                rest = tail;
            }
            b'%' => {
                let [high, low, ..] = *tail else {
                    return None;
                };
                out.push(hex_digit(high)? << 4 | hex_digit(low)?);
                rest = &tail[2..];
            }
            _ => {
                let run = rest.iter().position(is_escape).unwrap_or(rest.len());
                out.extend_from_slice(&rest[..run]);
                rest = &rest[run..];
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// One hex digit's value. (`u8::from_str_radix` would also take a sign: `%+1`.)
fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn parse_form(body: &[u8]) -> Result<Form, TokenError> {
    let mut form = Form::default();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let key = form_decode(raw_key)
            .ok_or_else(|| TokenError::invalid_request("body is not valid form-encoded UTF-8"))?;
        let mut value = Zeroizing::new(
            form_decode(raw_value)
                .ok_or_else(|| TokenError::invalid_request("body is not valid form-encoded UTF-8"))?
                .into_owned(),
        );
        // RFC 6749 §3.1: a parameter without a value is treated as omitted.
        if value.is_empty() {
            continue;
        }
        let slot = match &*key {
            "grant_type" => &mut form.grant_type,
            "scope" => &mut form.scope,
            "client_id" => &mut form.client_id,
            "client_secret" => {
                if form.client_secret.replace(value).is_some() {
                    return Err(repeated("client_secret"));
                }
                continue;
            }
            "client_assertion_type" => &mut form.client_assertion_type,
            "client_assertion" => {
                if form.client_assertion.replace(value).is_some() {
                    return Err(repeated("client_assertion"));
                }
                continue;
            }
            "resource" => {
                form.resources.push(std::mem::take(&mut *value));
                continue;
            }
            "token" => {
                if form.token.replace(value).is_some() {
                    return Err(repeated("token"));
                }
                continue;
            }

            _ => continue,
        };
        // Not a secret: moved out of its zeroizing wrapper rather than copied.
        if slot.replace(std::mem::take(&mut *value)).is_some() {
            return Err(repeated(&key));
        }
    }
    Ok(form)
}

fn repeated(name: &str) -> TokenError {
    TokenError::invalid_request(format!("parameter {name} is repeated"))
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

fn is_absolute_uri_without_fragment(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| u.fragment().is_none())
}

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &[u8]) -> Result<(String, Zeroizing<String>), TokenError> {
    let bad = TokenError::InvalidClient { challenge: true };
    let value = std::str::from_utf8(value).map_err(|_| bad.clone())?;
    let (scheme, data) = value.trim().split_once(' ').ok_or_else(|| bad.clone())?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad);
    }
    let decoded = Zeroizing::new(STANDARD.decode(data.trim()).map_err(|_| bad.clone())?);
    let colon = decoded
        .iter()
        .position(|b| *b == b':')
        .ok_or_else(|| bad.clone())?;
    let id = form_decode(&decoded[..colon])
        .ok_or_else(|| bad.clone())?
        .into_owned();
    let secret = Zeroizing::new(
        form_decode(&decoded[colon + 1..])
            .ok_or_else(|| bad.clone())?
            .into_owned(),
    );
    if id.is_empty() {
        return Err(bad);
    }
    Ok((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&[u8]> = Some(b"application/x-www-form-urlencoded");

    fn parse(auth: &[&str], body: &str) -> Result<TokenRequest, TokenError> {
        TokenRequest::parse(FORM, auth.iter().map(|a| a.as_bytes()), body.as_bytes())
    }

    #[test]
    fn form_components_decode_strictly() {
        let ok = |raw: &str, want: &str| {
            assert_eq!(
                form_decode(raw.as_bytes()).as_deref(),
                Some(want),
                "{raw:?}"
            );
        };
        ok("", "");
        ok("client_credentials", "client_credentials");
        ok("api%3Aread%20api%3Awrite", "api:read api:write");
        ok("a+b++c", "a b  c");
        ok("%41%4a%4A%7e", "AJJ~");
        ok("caf%C3%A9+%E2%82%AC", "café €");
        ok("%25%2B+", "%+ ");
        for bad in [
            "%", "%4", "a%4", "%zz", "%+1", "%-1", "%1 ", "%FF", "%C3", "a%C3+",
        ] {
            assert_eq!(form_decode(bad.as_bytes()), None, "{bad:?} must be refused");
        }
        assert_eq!(form_decode(b"\xff"), None, "raw bytes must be UTF-8 too");
    }

    proptest::proptest! {
        /// Any string, escaped as a form encoder may (each byte kept, `%XX` in either case,
        /// or a space as `+`), decodes back to itself.
        #[test]
        fn form_decode_inverts_any_escaping(
            s in ".*",
            choices in proptest::collection::vec(0u8..4, 0..256),
        ) {
            let mut raw = String::new();
            for (i, &b) in s.as_bytes().iter().enumerate() {
                let choice = choices.get(i).copied().unwrap_or(0);
                match (b, choice) {
                    (b' ', 0) => raw.push('+'),
                    (b'+' | b'%', _) | (_, 1) => raw.push_str(&format!("%{b:02X}")),
                    (_, 2) => raw.push_str(&format!("%{b:02x}")),
                    _ if b.is_ascii() => raw.push(char::from(b)),
                    _ => raw.push_str(&format!("%{b:02X}")),
                }
            }
            let decoded = form_decode(raw.as_bytes());
            proptest::prop_assert_eq!(decoded.as_deref(), Some(s.as_str()));
        }
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20id:tsk%5Fabc+d"));
        let r = parse(&[&header], "grant_type=client_credentials").unwrap();
        let ClientCredential::Secret {
            client_id,
            secret,
            placement,
        } = r.credentials
        else {
            panic!("a secret");
        };
        assert_eq!(client_id, "my id");
        assert_eq!(secret.as_str(), "tsk_abc d");
        assert_eq!(placement, SecretPlacement::Basic);
    }

    #[test]
    fn rejects_what_rfc_6749_rejects() {
        let basic = format!("Basic {}", STANDARD.encode("id:secret"));
        let cases = [
            (
                vec![],
                "grant_type=client_credentials&grant_type=client_credentials",
                "invalid_request",
            ),
            (vec![], "client_id=a&client_secret=b", "invalid_request"),
            (
                vec![],
                "grant_type=password&client_id=a&client_secret=b",
                "unsupported_grant_type",
            ),
            (vec![], "grant_type=client_credentials", "invalid_client"),
            (
                vec![],
                "grant_type=client_credentials&client_secret=b",
                "invalid_client",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_id=a&client_secret=b&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x.y.z",
                "invalid_request",
            ),
            (
                vec![basic.as_str()],
                "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=x.y.z",
                "invalid_request",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_assertion_type=urn%3Aother&client_assertion=x.y.z",
                "invalid_request",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_assertion=x.y.z",
                "invalid_request",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a&client_assertion=b",
                "invalid_request",
            ),
            (
                vec![basic.as_str()],
                "grant_type=client_credentials&client_secret=b",
                "invalid_request",
            ),
            (
                vec![basic.as_str(), basic.as_str()],
                "grant_type=client_credentials",
                "invalid_request",
            ),
            (
                vec!["Bearer abc"],
                "grant_type=client_credentials",
                "invalid_client",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_id=a&client_secret=b&scope=a%22b",
                "invalid_scope",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_id=a&client_secret=b&resource=relative",
                "invalid_target",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_id=%FF&client_secret=b",
                "invalid_request",
            ),
            (
                vec![],
                "grant_type=client_credentials&client_id=a&client_secret=%zz",
                "invalid_request",
            ),
        ];
        for (auth, body, code) in cases {
            let err = parse(&auth, body).expect_err(body);
            assert_eq!(err.code(), code, "{body}");
        }
    }

    #[test]
    fn content_type_must_be_form() {
        let err = TokenRequest::parse(
            Some(b"application/json"),
            std::iter::empty(),
            b"grant_type=client_credentials",
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_request");
        assert!(is_form_content_type(Some(
            b"Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        )));
    }

    #[test]
    fn empty_scope_is_omitted_and_resources_repeat() {
        let r = parse(
            &[],
            "grant_type=client_credentials&client_id=a&client_secret=b&scope=&resource=https%3A%2F%2Fa&resource=https://b",
        )
        .unwrap();
        assert_eq!(r.scope, None);
        assert_eq!(r.resources, ["https://a", "https://b"]);
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy, in which case the
/// rightmost `X-Forwarded-For` hop that is not itself trusted. Anything unparsable in the chain
/// stops the walk at the last address we could vouch for.
pub fn source_address<'h>(
    peer: Option<std::net::IpAddr>,
    forwarded_for: impl Iterator<Item = &'h [u8]>,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut current = peer?.to_canonical();
    if !is_trusted(&current) {
        return Some(current);
    }
    let hops: Vec<&[u8]> = forwarded_for
        .flat_map(|v| v.split(|b| *b == b','))
        .collect();
    for hop in hops.into_iter().rev() {
        let Some(ip) = std::str::from_utf8(hop)
            .ok()
            .and_then(|s| s.trim().parse::<std::net::IpAddr>().ok())
        else {
            return Some(current);
        };
        current = ip.to_canonical();
        if !is_trusted(&current) {
            return Some(current);
        }
    }
    Some(current)
}

#[cfg(test)]
mod source_tests {
    use super::source_address;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec!["10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| Some(s.parse().unwrap());
        let xff = |v: &'static str| std::iter::once(v.as_bytes());
        // Untrusted peer: its header is ignored.
        assert_eq!(
            source_address(ip("203.0.113.9"), xff("10.1.1.1"), &trusted),
            ip("203.0.113.9")
        );
        // Trusted peer: the rightmost untrusted hop.
        assert_eq!(
            source_address(
                ip("10.0.0.2"),
                xff("198.51.100.7, 203.0.113.5, 10.0.0.9"),
                &trusted
            ),
            ip("203.0.113.5")
        );
        // Garbage stops at what we can vouch for.
        assert_eq!(
            source_address(ip("10.0.0.2"), xff("nonsense"), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            source_address(ip("::ffff:10.0.0.2"), xff("192.0.2.1"), &trusted),
            ip("192.0.2.1")
        );
    }
}
