//! The optional HTTPS listener (SPEC §9, RFC 8705): the server's certificate, a client
//! certificate asked for but never required, and the CA that `tls_client_auth` certificates
//! must chain to.
//!
//! The TLS layer only checks that the client holds the key of the certificate it sends (the
//! handshake signature): self-signed certificates are legitimate for
//! `self_signed_tls_client_auth`, and a client registered with a secret may connect without
//! any. Whether a certificate chains to `server.tls.client_ca_file` is decided per client by
//! the token path ([`ClientCa::verifies`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};

use crate::config::TlsSettings;
use crate::oauth::authenticate::PeerCertificate;

/// Why the HTTPS listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing, unreadable or holds nothing of the kind wanted.
    #[error("{key} = {path}: {what}: {source}")]
    Pem {
        /// The configuration key.
        key: &'static str,
        /// Its value.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
        /// Why it failed.
        source: rustls::pki_types::pem::Error,
    },
    /// A CA certificate that cannot be a trust anchor.
    #[error(
        "server.tls.client_ca_file = {path}: certificate {index} is not usable as a CA: {source}"
    )]
    Anchor {
        /// The file.
        path: PathBuf,
        /// The certificate's position in the file (from 0).
        index: usize,
        /// Why.
        source: webpki::Error,
    },
    /// rustls refused the certificate and key.
    #[error("server.tls.cert_file / key_file: {0}")]
    Config(#[from] rustls::Error),
}

/// The CAs that `tls_client_auth` certificates must chain to (`server.tls.client_ca_file`).
#[derive(Debug)]
pub struct ClientCa {
    roots: RootCertStore,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCa {
    /// Reads the PEM certificates of `path`.
    pub fn load(path: &Path) -> Result<Self, TlsError> {
        let key = "server.tls.client_ca_file";
        let certs = read_certificates(key, path)?;
        let mut roots = RootCertStore::empty();
        for (index, cert) in certs.into_iter().enumerate() {
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|source| TlsError::Anchor {
                    path: path.to_owned(),
                    index,
                    source,
                })?
                .to_owned();
            roots.roots.push(anchor);
        }
        Ok(ClientCa {
            roots,
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        })
    }

    /// Whether `certificate` (with the intermediates the client sent) chains to one of the CAs,
    /// is valid at `now` and may be used for client authentication (RFC 5280 path validation
    /// by rustls-webpki; no revocation check).
    pub fn verifies(&self, certificate: &PeerCertificate, now: UnixTime) -> bool {
        let end_entity = CertificateDer::from(certificate.der.as_slice());
        let Ok(cert) = webpki::EndEntityCert::try_from(&end_entity) else {
            return false;
        };
        let intermediates: Vec<CertificateDer<'_>> = certificate
            .intermediates
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        cert.verify_for_usage(
            self.algorithms.all,
            &self.roots.roots,
            &intermediates,
            now,
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .is_ok()
    }

    /// The CAs' subjects, offered to clients as hints for which certificate to send.
    fn subjects(&self) -> Vec<DistinguishedName> {
        self.roots.subjects()
    }
}

/// The server's TLS configuration: its certificate chain and key from `settings`, TLS 1.2 and
/// 1.3 with rustls' safe defaults (ring), HTTP/1.1, and a client certificate requested.
pub fn server_config(
    settings: &TlsSettings,
    client_ca: Option<&ClientCa>,
) -> Result<rustls::ServerConfig, TlsError> {
    let chain = read_certificates("server.tls.cert_file", &settings.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&settings.key_file).map_err(|source| TlsError::Pem {
        key: "server.tls.key_file",
        path: settings.key_file.clone(),
        what: "a PEM private key (PKCS#8, PKCS#1 or SEC1)",
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = AnyClientCertificate {
        hints: client_ca.map(ClientCa::subjects).unwrap_or_default(),
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// For `HttpServer::on_connect`: puts the client certificate of a TLS connection (if it sent
/// one) in the connection's extensions, where the token path finds it
/// (`HttpRequest::conn_data`).
pub fn remember_peer_certificate(
    connection: &dyn std::any::Any,
    extensions: &mut actix_web::dev::Extensions,
) {
    type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
    let Some(tls) = connection.downcast_ref::<Tls>() else {
        return;
    };
    let (_, session) = tls.get_ref();
    if let Some([end_entity, intermediates @ ..]) = session.peer_certificates() {
        extensions.insert(PeerCertificate {
            der: end_entity.to_vec(),
            intermediates: intermediates.iter().map(|c| c.to_vec()).collect(),
        });
    }
}

fn read_certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let failed = |source| TlsError::Pem {
        key,
        path: path.to_owned(),
        what: "PEM certificates",
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(failed)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    if certs.is_empty() {
        return Err(failed(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// Accepts any client certificate whose handshake signature is valid, and a connection
/// without one. Chains are checked later, per client, and only for `tls_client_auth`
/// (rustls' `WebPkiClientVerifier` would refuse the self-signed certificates of
/// `self_signed_tls_client_auth`).
#[derive(Debug)]
struct AnyClientCertificate {
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Not a trust decision: only that it parses as a certificate, so the signature checks
        // below and the token path have something to work on.
        webpki::EndEntityCert::try_from(end_entity).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
