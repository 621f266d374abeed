//! `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705 §2, SPEC §9): the client
//! certificate of the TLS connection, or of a trusted proxy's `Client-Cert` header (RFC 9440).
//!
//! The TLS layer has checked only that the client holds the certificate's key (`crate::tls`);
//! which certificate proves which client is decided here: a chain to `server.tls.client_ca_file`
//! and the one registered subject, or one of the client's registered self-signed certificates.

use std::net::IpAddr;

use base64::Engine;
use rustls::pki_types::UnixTime;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, Tag, Tagged, asn1::Any};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::registered_with;
use super::{AuthContext, AuthenticatedBy, AuthenticatedClient, accept, locked_out, refuse};
use crate::oauth::TokenError;
use crate::state::AppState;
use crate::store::client_auth::{CertificateSubject, ClientAuthentication, PublicJwkSet};

/// A client certificate, DER, with the intermediates the client sent along.
#[derive(Debug, Clone, Default)]
pub struct PeerCertificate {
    /// The certificate, DER-encoded.
    pub der: Vec<u8>,
    /// The rest of the chain the client sent (TLS only), DER, leaf-most first.
    pub intermediates: Vec<Vec<u8>>,
}

impl PeerCertificate {
    /// `x5t#S256` (RFC 8705 §3.1): base64url of the SHA-256 of the DER certificate.
    pub fn thumbprint(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&self.der))
    }
}

/// Authenticates `client_id` by the request's certificate.
pub(super) async fn authenticate(
    state: &AppState,
    client_id: &str,
    ctx: AuthContext<'_>,
) -> Result<AuthenticatedClient, TokenError> {
    let client = registered_with(state, client_id, |a| {
        matches!(
            a,
            ClientAuthentication::TlsClientAuth(_)
                | ClientAuthentication::SelfSignedTlsClientAuth(_)
        )
    })
    .await?;
    if let (Some(client), Some(certificate)) = (client, ctx.certificate)
        && proves(state, &client.authentication, certificate, UnixTime::now())
    {
        // No lockout check before this: a certificate cannot be guessed, and failures sent
        // by others under this client id must not lock the holder of the key out (as a
        // recently verified secret is not).
        let by = AuthenticatedBy::Certificate(certificate.thumbprint());
        return accept(state, client, by, ctx.source);
    }
    if let Some(locked) = locked_out(state, client_id, ctx.source).await {
        return Err(locked);
    }
    // Without a certificate this is a request with no credentials: HTTP Basic is the way.
    Err(refuse(state, client_id, ctx.source, ctx.certificate.is_none()).await)
}

/// The client certificate of a request: from `server.client_cert_header` when the TCP peer is
/// one of `server.trusted_proxies` (then only from there), otherwise from the TLS connection.
/// A header from any other peer is ignored.
pub fn of_request(state: &AppState, req: &actix_web::HttpRequest) -> Option<PeerCertificate> {
    if let Some(header) = &state.settings.client_cert_header {
        let peer = req.peer_addr().map(|a| a.ip().to_canonical());
        if peer.is_some_and(|ip| is_trusted(state, ip)) {
            return from_header(req.headers().get_all(header.as_str()));
        }
    }
    req.conn_data::<PeerCertificate>().cloned()
}

fn is_trusted(state: &AppState, ip: IpAddr) -> bool {
    state
        .settings
        .trusted_proxies
        .iter()
        .any(|n| n.contains(&ip))
}

/// Certificates larger than this in a header are refused (a proxy's header, but still input).
const MAX_HEADER_CERTIFICATE: usize = 16 * 1024;

/// RFC 9440 §2: one header whose value is a Structured Field byte sequence, `:base64(DER):`.
/// Several headers, or anything else, is no certificate. The format is one base64 string
/// between colons, so it is parsed here rather than with a Structured Fields crate.
fn from_header<'a>(
    mut values: impl Iterator<Item = &'a actix_web::http::header::HeaderValue>,
) -> Option<PeerCertificate> {
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?.trim();
    let encoded = value.strip_prefix(':')?.strip_suffix(':')?;
    if encoded.len() > MAX_HEADER_CERTIFICATE * 4 / 3 + 4 {
        return None;
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    Some(PeerCertificate {
        der,
        intermediates: Vec::new(),
    })
}

/// Whether `certificate` proves the client registered with `authentication`, at `now`.
fn proves(
    state: &AppState,
    authentication: &ClientAuthentication,
    certificate: &PeerCertificate,
    now: UnixTime,
) -> bool {
    let Ok((rest, parsed)) = x509_parser::parse_x509_certificate(&certificate.der) else {
        return false;
    };
    if !rest.is_empty() {
        return false;
    }
    match authentication {
        ClientAuthentication::TlsClientAuth(subject) => {
            // Without a configured CA no certificate chains to anything.
            state
                .client_ca
                .as_ref()
                .is_some_and(|ca| ca.verifies(certificate, now))
                && has_subject(&parsed, subject)
        }
        ClientAuthentication::SelfSignedTlsClientAuth(keys) => {
            is_registered(keys, &certificate.der) && is_current(&parsed, now)
        }
        _ => false,
    }
}

/// Whether `der` is the first certificate of the `x5c` of one of the client's keys.
fn is_registered(keys: &PublicJwkSet, der: &[u8]) -> bool {
    keys.keys.iter().any(|key| {
        key.x509_certificate_chain()
            .is_some_and(|chain| chain.first().is_some_and(|first| first == der))
    })
}

fn is_current(certificate: &X509Certificate<'_>, now: UnixTime) -> bool {
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    x509_parser::time::ASN1Time::from_timestamp(now)
        .is_ok_and(|now| certificate.validity().is_valid_at(now))
}

/// Whether the certificate carries exactly the registered subject: its subject DN, or one
/// subject alternative name of the registered type.
fn has_subject(certificate: &X509Certificate<'_>, subject: &CertificateSubject) -> bool {
    if let CertificateSubject::Dn(expected) = subject {
        let actual = CanonicalDn::from_der(certificate.subject().as_raw());
        return matches!((CanonicalDn::parse(expected), actual), (Ok(e), Some(a)) if e == a);
    }
    // A duplicated or malformed extension is no name at all.
    let Ok(Some(san)) = certificate.subject_alternative_name() else {
        return false;
    };
    san.value
        .general_names
        .iter()
        .any(|name| match (subject, name) {
            // DNS names are case-insensitive (RFC 4343); no wildcard expansion: exact match.
            (CertificateSubject::SanDns(expected), GeneralName::DNSName(n)) => {
                n.eq_ignore_ascii_case(expected)
            }
            (CertificateSubject::SanUri(expected), GeneralName::URI(u)) => u == expected,
            (CertificateSubject::SanIp(expected), GeneralName::IPAddress(bytes)) => {
                ip_of(bytes).is_some_and(|ip| ip.to_canonical() == expected.to_canonical())
            }
            (CertificateSubject::SanEmail(expected), GeneralName::RFC822Name(m)) => {
                email_eq(m, expected)
            }
            _ => false,
        })
}

fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// The local part exactly, the domain without regard to case (RFC 5280 §7.5).
fn email_eq(actual: &str, expected: &str) -> bool {
    match (actual.rsplit_once('@'), expected.rsplit_once('@')) {
        (Some((al, ad)), Some((el, ed))) => al == el && ad.eq_ignore_ascii_case(ed),
        _ => false,
    }
}

/// A distinguished name in a form where equal names are equal: per RDN (in DER order), its
/// attributes sorted, each as its OID and its value with surrounding whitespace removed,
/// inner runs of whitespace made one space, and letters lower-cased (the caseIgnoreMatch of
/// RFC 4517 for the usual string attributes, as Java's canonical X500Principal does). A value
/// that is not a string is compared as its DER, in hex.
#[derive(Debug, PartialEq, Eq)]
pub struct CanonicalDn(Vec<Vec<(String, String)>>);

impl CanonicalDn {
    /// Parses a registered `tls_client_auth_subject_dn`: RFC 4514 (most specific RDN first,
    /// `CN=client,O=Example,C=FR`), with spaces after the `,` and `+` separators tolerated.
    /// The parsing itself, escapes and `#hex` values included, is x509-cert's.
    pub fn parse(dn: &str) -> Result<Self, String> {
        let name: x509_cert::name::Name = without_separator_spaces(dn).parse().map_err(|_| {
            format!("{dn:?} is not an RFC 4514 distinguished name such as CN=client,O=Example,C=FR")
        })?;
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        Ok(Self::of(&name))
    }

    /// The subject of a certificate (its DER `Name`).
    fn from_der(der: &[u8]) -> Option<Self> {
        x509_cert::name::Name::from_der(der)
            .ok()
            .map(|name| Self::of(&name))
    }

    fn of(name: &x509_cert::name::Name) -> Self {
        CanonicalDn(
            name.iter_rdn()
                .map(|rdn| {
                    let mut attributes: Vec<(String, String)> = rdn
                        .iter()
                        .map(|atv| (atv.oid.to_string(), canonical_value(&atv.value)))
                        .collect();
                    attributes.sort();
                    attributes
                })
                .collect(),
        )
    }
}

fn canonical_value(value: &Any) -> String {
    let text = match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
            std::str::from_utf8(value.value()).ok().map(str::to_owned)
        }
        Tag::BmpString => {
            let units = value
                .value()
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    };
    match text {
        Some(text) => text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
        None => {
            let der = x509_cert::der::Encode::to_der(value).unwrap_or_default();
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            format!("#{hex}")
        }
    }
}

/// Drops spaces right after an unescaped `,` or `+`: RFC 4514 has none there, but people
/// write `CN=a, O=b` (RFC 1779 style), and a value's own leading space must be escaped.
fn without_separator_spaces(dn: &str) -> String {
    let mut out = String::with_capacity(dn.len());
    let mut escaped = false;
    let mut after_separator = false;
    for c in dn.trim().chars() {
        if after_separator && c == ' ' {
            continue;
        }
        after_separator = false;
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' || c == '+' {
            after_separator = true;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der_subject(dn: &str) -> Vec<u8> {
        let name: x509_cert::name::Name = dn.parse().unwrap();
        x509_cert::der::Encode::to_der(&name).unwrap()
    }

    #[test]
    fn a_dn_matches_its_canonical_forms_only() {
        let cert = CanonicalDn::from_der(&der_subject("CN=Client One,OU=Payments,O=Example,C=FR"))
            .unwrap();
        for same in [
            "CN=Client One,OU=Payments,O=Example,C=FR",
            "cn=client  one, ou=PAYMENTS, o=example, c=fr",
            "2.5.4.3=Client One,OU=Payments,O=Example,C=FR",
        ] {
            assert_eq!(CanonicalDn::parse(same).unwrap(), cert, "{same}");
        }
        for other in [
            "C=FR,O=Example,OU=Payments,CN=Client One",
            "CN=Client One,OU=Payments,O=Example",
            "CN=Client Two,OU=Payments,O=Example,C=FR",
            "CN=Client One+OU=Payments,O=Example,C=FR",
        ] {
            assert_ne!(CanonicalDn::parse(other).unwrap(), cert, "{other}");
        }
    }

    #[test]
    fn escapes_and_multi_valued_rdns_are_understood() {
        let cert =
            CanonicalDn::from_der(&der_subject(r"CN=Smith\, John+UID=js,O=Example")).unwrap();
        assert_eq!(
            CanonicalDn::parse(r"UID=js + CN=smith\, john, O=Example").unwrap(),
            cert
        );
    }

    #[test]
    fn malformed_dns_are_refused() {
        for bad in ["", "CN", "=x", "NOPE=x", "CN=a,,O=b"] {
            assert!(CanonicalDn::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn client_cert_header_is_one_byte_sequence() {
        use actix_web::http::header::HeaderValue;
        let one = HeaderValue::from_static(":AQID:");
        assert_eq!(from_header([&one].into_iter()).unwrap().der, [1, 2, 3]);
        let bare = HeaderValue::from_static("AQID");
        assert!(from_header([&bare].into_iter()).is_none());
        assert!(from_header([&one, &one].into_iter()).is_none());
        let junk = HeaderValue::from_static(":not base64!:");
        assert!(from_header([&junk].into_iter()).is_none());
    }

    #[test]
    fn emails_compare_domains_without_case() {
        assert!(email_eq("Ops@Example.COM", "Ops@example.com"));
        assert!(!email_eq("ops@example.com", "Ops@example.com"));
    }
}
