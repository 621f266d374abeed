//! Mutual TLS client authentication (RFC 8705, SPEC §9) against the real binary over real
//! HTTPS: `tls_client_auth` by subject DN and by each kind of SAN, `self_signed_tls_client_auth`,
//! certificate-bound tokens (`cnf.x5t#S256`) through the token, introspection and revocation
//! endpoints, every refusal, the `Client-Cert` header of trusted proxies only, and
//! openid-client's `TlsClientAuth`. Every certificate is made here, with rcgen.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Server, Tessera, jwt_parts};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ORDERS: &str = "https://api.example.com/orders";

/// A key and the certificate made for it.
struct Cert {
    cert: Certificate,
    key: KeyPair,
}

impl Cert {
    fn der(&self) -> &[u8] {
        self.cert.der()
    }

    /// What `cnf.x5t#S256` must be: base64url(SHA-256(DER)), computed here.
    fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.der()))
    }

    /// A JWK set whose one key is this certificate's, with the certificate in `x5c`.
    fn jwks(&self) -> Value {
        // ECDSA P-256: the uncompressed point 04 || x || y.
        let point = self.key.public_key_raw();
        json!({"keys": [{
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            "x5c": [STANDARD.encode(self.der())],
        }]})
    }

    /// RFC 9440 `Client-Cert`: the DER as a Structured Field byte sequence.
    fn header(&self) -> String {
        format!(":{}:", STANDARD.encode(self.der()))
    }
}

/// A certificate authority made for one test.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).unwrap().pem();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A client certificate with subject `O=org, CN=cn` (RFC 4514: `CN=cn,O=org`) and `sans`.
    fn client(&self, cn: &str, org: &str, sans: Vec<SanType>) -> Cert {
        self.issue(client_params(cn, org, sans))
    }

    fn issue(&self, params: CertificateParams) -> Cert {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Cert { cert, key }
    }
}

fn client_params(cn: &str, org: &str, sans: Vec<SanType>) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    // rcgen starts with a CN of its own: start empty, so the DER order is O, then CN.
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, org);
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

fn self_signed(cn: &str) -> Cert {
    let key = KeyPair::generate().unwrap();
    let cert = client_params(cn, "Example", vec![])
        .self_signed(&key)
        .unwrap();
    Cert { cert, key }
}

fn ia5(s: &str) -> rcgen::string::Ia5String {
    s.try_into().unwrap()
}

/// An installation serving HTTPS with a server certificate for 127.0.0.1 and `client_ca_file`
/// set to the client CA, an `orders` API, and the files the clients need.
struct Https {
    t: Tessera,
    server: Server,
    ca: Ca,
    ca_file: PathBuf,
}

impl Https {
    fn start() -> Https {
        let mut t = Tessera::new();
        let ca = Ca::new("Tessera test CA");
        let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = ca.issue(server_params);
        let write = |name: &str, text: &str| {
            let path = t.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let cert_file = write("server.pem", &server_cert.cert.pem());
        let key_file = write("server-key.pem", &server_cert.key.serialize_pem());
        let ca_file = write("client-ca.pem", &ca.pem);
        t.set("TESSERA__SERVER__TLS__CERT_FILE", &cert_file)
            .set("TESSERA__SERVER__TLS__KEY_FILE", &key_file)
            .set("TESSERA__SERVER__TLS__CLIENT_CA_FILE", &ca_file);
        t.create_api("orders", ORDERS, "read,write");
        let server = t.serve();
        assert!(
            server.url.starts_with("https://127.0.0.1:"),
            "{}",
            server.url
        );
        Https {
            t,
            server,
            ca,
            ca_file: ca_file.into(),
        }
    }

    /// An HTTPS client that trusts the test CA and presents `identity`, if any.
    fn client(&self, identity: Option<&Cert>) -> reqwest::Client {
        https_client(&self.ca.pem, identity)
    }
}

fn https_client(ca_pem: &str, identity: Option<&Cert>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(30));
    if let Some(c) = identity {
        let pem = format!("{}{}", c.key.serialize_pem(), c.cert.pem());
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// Registers a client with `auth` (CLI options after `--auth-method`); returns its id.
fn register(t: &Tessera, auth: &[&str]) -> String {
    let mut args = vec![
        "clients",
        "create",
        "--name",
        "mtls-client",
        "--scopes",
        "orders:read",
        "--auth-method",
    ];
    args.extend_from_slice(auth);
    let created = t.cli_json(&args);
    assert!(
        created.get("client_secret").is_none_or(Value::is_null),
        "a certificate client gets no secret: {created}"
    );
    created["client_id"].as_str().unwrap().to_owned()
}

fn register_self_signed(t: &Tessera, cert: &Cert) -> String {
    let jwks = t
        .path()
        .join(format!("jwks-{}.json", &cert.thumbprint()[..8]));
    std::fs::write(&jwks, cert.jwks().to_string()).unwrap();
    register(
        t,
        &[
            "self_signed_tls_client_auth",
            "--jwks",
            jwks.to_str().unwrap(),
        ],
    )
}

/// `POST path` with `form` (plus `client_id`) through `client`: status, headers, JSON body.
async fn post(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    client_id: &str,
    form: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut all = vec![("client_id", client_id)];
    all.extend_from_slice(form);
    let resp = client
        .post(server.url(path))
        .form(&all)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e:?}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"))
    };
    (status, headers, body)
}

async fn token(client: &reqwest::Client, server: &Server, client_id: &str) -> (u16, Value) {
    let (status, headers, body) = post(
        client,
        server,
        "/oauth2/token",
        client_id,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read"),
        ],
    )
    .await;
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, body)
}

/// A successful token request; returns the token after checking its `cnf` against `cert`.
async fn bound_token(
    client: &reqwest::Client,
    server: &Server,
    client_id: &str,
    cert: &Cert,
    what: &str,
) -> String {
    let (status, body) = token(client, server, client_id).await;
    assert_eq!(status, 200, "{what}: {body}");
    assert_eq!(body["token_type"], "Bearer", "{what}");
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    let claims = verify(client, server, &access_token).await;
    assert_eq!(claims["sub"], client_id, "{what}");
    assert_eq!(
        claims["cnf"],
        json!({"x5t#S256": cert.thumbprint()}),
        "{what}: the token is bound to the certificate"
    );
    access_token
}

/// Verifies `token` against the server's JWKS (with `jsonwebtoken`, over the same HTTPS
/// client); returns its claims.
async fn verify(client: &reqwest::Client, server: &Server, token: &str) -> Value {
    let meta: Value = client
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], server.url, "the issuer is the https URL");
    let jwks: jsonwebtoken::jwk::JwkSet = client
        .get(meta["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[ORDERS]);
    validation.set_issuer(&[meta["issuer"].as_str().unwrap()]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("token verifies against the JWKS")
        .claims
}

fn assert_invalid_client(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}");
}

#[actix_web::test]
async fn tls_client_auth_by_subject_dn_gets_a_certificate_bound_token() {
    let h = Https::start();
    let cert = h.ca.client("billing", "Example", vec![]);
    let id = register(
        &h.t,
        &[
            "tls_client_auth",
            "--tls-subject-dn",
            "CN=billing,O=Example",
        ],
    );
    let client = h.client(Some(&cert));
    let token = bound_token(&client, &h.server, &id, &cert, "subject DN").await;

    // Introspection and revocation accept the same certificate as the caller's credential.
    let (status, _, answer) = post(
        &client,
        &h.server,
        "/oauth2/introspect",
        &id,
        &[("token", &token)],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["active"], true);
    assert_eq!(answer["cnf"], json!({"x5t#S256": cert.thumbprint()}));
    let (status, _, answer) = post(
        &client,
        &h.server,
        "/oauth2/revoke",
        &id,
        &[("token", &token)],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, _, answer) = post(
            &client,
            &h.server,
            "/oauth2/introspect",
            &id,
            &[("token", &token)],
        )
        .await;
        if answer == json!({"active": false}) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still active: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn tls_client_auth_by_each_kind_of_san_gets_a_certificate_bound_token() {
    let h = Https::start();
    let cases = [
        (
            "--tls-san-dns",
            "billing.clients.example.com",
            SanType::DnsName(ia5("Billing.Clients.Example.com")),
        ),
        (
            "--tls-san-uri",
            "spiffe://example.com/billing",
            SanType::URI(ia5("spiffe://example.com/billing")),
        ),
        (
            "--tls-san-ip",
            "10.1.2.3",
            SanType::IpAddress("10.1.2.3".parse().unwrap()),
        ),
        (
            "--tls-san-email",
            "billing@example.com",
            SanType::Rfc822Name(ia5("billing@EXAMPLE.com")),
        ),
    ];
    for (option, value, san) in cases {
        // Another SAN of another type first: only the registered type counts.
        let noise = SanType::DnsName(ia5("noise.example.com"));
        let cert = h.ca.client("billing", "Example", vec![noise, san]);
        let id = register(&h.t, &["tls_client_auth", option, value]);
        bound_token(&h.client(Some(&cert)), &h.server, &id, &cert, option).await;
    }
}

#[actix_web::test]
async fn tls_client_auth_chains_through_the_intermediates_the_client_sends() {
    let h = Https::start();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "Issuing CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let intermediate_pem = params.signed_by(&key, &h.ca.issuer).unwrap().pem();
    let intermediate = Ca {
        issuer: Issuer::new(params, key),
        pem: intermediate_pem.clone(),
    };
    let cert = intermediate.client("deep", "Example", vec![]);
    let id = register(
        &h.t,
        &["tls_client_auth", "--tls-subject-dn", "CN=deep,O=Example"],
    );
    let chain = format!(
        "{}{}{}",
        cert.key.serialize_pem(),
        cert.cert.pem(),
        intermediate_pem
    );
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(h.ca.pem.as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(chain.as_bytes()).unwrap())
        .build()
        .unwrap();
    bound_token(&client, &h.server, &id, &cert, "through an intermediate").await;
    // Without the intermediate the chain is broken.
    let (status, body) = token(&h.client(Some(&cert)), &h.server, &id).await;
    assert_invalid_client(status, &body, "the intermediate left out");
}

#[actix_web::test]
async fn self_signed_tls_client_auth_with_the_certificate_in_x5c_gets_a_bound_token() {
    let h = Https::start();
    let cert = self_signed("worker");
    let id = register_self_signed(&h.t, &cert);
    let client = h.client(Some(&cert));
    let token = bound_token(&client, &h.server, &id, &cert, "self-signed").await;
    let (status, _, answer) = post(
        &client,
        &h.server,
        "/oauth2/introspect",
        &id,
        &[("token", &token)],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cnf"], json!({"x5t#S256": cert.thumbprint()}));
}

#[actix_web::test]
async fn certificates_that_do_not_prove_the_client_are_invalid_client() {
    let h = Https::start();
    let dn = "CN=billing,O=Example";
    let ca_client = register(&h.t, &["tls_client_auth", "--tls-subject-dn", dn]);
    let registered = self_signed("worker");
    let self_signed_client = register_self_signed(&h.t, &registered);

    let other_ca = Ca::new("Another CA");
    let mut expired = client_params("billing", "Example", vec![]);
    expired.not_before = rcgen::date_time_ymd(2020, 1, 1);
    expired.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let mut server_only = client_params("billing", "Example", vec![]);
    server_only.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cases = [
        (
            "a certificate from another CA",
            &ca_client,
            other_ca.client("billing", "Example", vec![]),
        ),
        (
            "the right CA, another subject",
            &ca_client,
            h.ca.client("billing", "Other", vec![]),
        ),
        (
            "a self-signed certificate with the right subject",
            &ca_client,
            self_signed("billing"),
        ),
        ("an expired certificate", &ca_client, h.ca.issue(expired)),
        (
            "a certificate not meant for clients",
            &ca_client,
            h.ca.issue(server_only),
        ),
        (
            "a self-signed certificate not in x5c",
            &self_signed_client,
            self_signed("worker"),
        ),
        (
            "a CA-issued certificate for a self-signed client",
            &self_signed_client,
            h.ca.client("worker", "Example", vec![]),
        ),
    ];
    for (what, id, cert) in &cases {
        let (status, body) = token(&h.client(Some(cert)), &h.server, id).await;
        assert_invalid_client(status, &body, what);
    }
    // The certificate of one client does not prove another.
    let (status, body) = token(&h.client(Some(&registered)), &h.server, &ca_client).await;
    assert_invalid_client(status, &body, "another client's certificate");

    for id in [&ca_client, &self_signed_client] {
        let (status, body) = token(&h.client(None), &h.server, id).await;
        assert_invalid_client(status, &body, "no certificate");
    }
    // Introspection refuses them the same way.
    let (status, _, body) = post(
        &h.client(None),
        &h.server,
        "/oauth2/introspect",
        &ca_client,
        &[("token", "x")],
    )
    .await;
    assert_invalid_client(status, &body, "introspection without a certificate");
}

#[actix_web::test]
async fn secret_clients_keep_working_over_https_bound_to_a_certificate_they_present() {
    let h = Https::start();
    let (id, secret) = h.t.create_client("secret-client", "orders:read");
    // The secret decides who the client is; a certificate on the connection (any: the TLS
    // handshake proved its key is here) binds the token to it (SPEC §9, RFC 8705 §3).
    let stray = h.ca.client("stray", "Example", vec![]);
    for identity in [None, Some(&stray)] {
        let resp = h
            .client(identity)
            .post(h.server.url("/oauth2/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
        match identity {
            None => assert!(claims.get("cnf").is_none(), "{claims}"),
            Some(cert) => assert_eq!(
                claims["cnf"],
                json!({"x5t#S256": cert.thumbprint()}),
                "{claims}"
            ),
        }
    }
}

#[actix_web::test]
async fn discovery_over_https_lists_the_certificate_methods() {
    let h = Https::start();
    let meta: Value = h
        .client(None)
        .get(h.server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["issuer"], h.server.url);
    assert!(
        meta["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let methods = meta["token_endpoint_auth_methods_supported"].to_string();
    for method in ["tls_client_auth", "self_signed_tls_client_auth"] {
        assert!(methods.contains(&format!("\"{method}\"")), "{methods}");
    }
    assert_eq!(meta["tls_client_certificate_bound_access_tokens"], true);
}

/// Plain HTTP behind a TLS-terminating proxy: `server.client_cert_header`, and
/// `trusted_proxies` as given.
fn behind_proxy(trusted: &str) -> (Tessera, Ca) {
    let mut t = Tessera::new();
    let ca = Ca::new("Proxy test CA");
    let ca_file = t.path().join("client-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    t.set("TESSERA__SERVER__CLIENT_CERT_HEADER", "Client-Cert")
        .set("TESSERA__SERVER__TRUSTED_PROXIES", trusted)
        .set(
            "TESSERA__SERVER__TLS__CLIENT_CA_FILE",
            ca_file.to_str().unwrap(),
        );
    t.create_api("orders", ORDERS, "read,write");
    (t, ca)
}

async fn token_with_header(server: &Server, client_id: &str, cert: &Cert) -> (u16, Value) {
    let resp = common::http()
        .post(server.url("/oauth2/token"))
        .header("Client-Cert", cert.header())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[actix_web::test]
async fn client_cert_header_from_an_untrusted_address_is_ignored() {
    // The test talks from 127.0.0.1, which is not among the trusted proxies.
    let (t, ca) = behind_proxy("10.0.0.0/8");
    let server = t.serve();
    let cert = ca.client("billing", "Example", vec![]);
    let id = register(
        &t,
        &[
            "tls_client_auth",
            "--tls-subject-dn",
            "CN=billing,O=Example",
        ],
    );
    let (status, body) = token_with_header(&server, &id, &cert).await;
    assert_invalid_client(status, &body, "Client-Cert from an untrusted peer");
    let own = self_signed("worker");
    let id = register_self_signed(&t, &own);
    let (status, body) = token_with_header(&server, &id, &own).await;
    assert_invalid_client(
        status,
        &body,
        "Client-Cert from an untrusted peer (self-signed)",
    );
}

#[actix_web::test]
async fn client_cert_header_from_a_trusted_proxy_authenticates() {
    let (t, ca) = behind_proxy("127.0.0.1/32");
    let server = t.serve();
    let cert = ca.client("billing", "Example", vec![]);
    let id = register(
        &t,
        &[
            "tls_client_auth",
            "--tls-subject-dn",
            "CN=billing,O=Example",
        ],
    );
    let (status, body) = token_with_header(&server, &id, &cert).await;
    assert_eq!(status, 200, "{body}");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"], json!({"x5t#S256": cert.thumbprint()}));

    let own = self_signed("worker");
    let id = register_self_signed(&t, &own);
    let (status, body) = token_with_header(&server, &id, &own).await;
    assert_eq!(status, 200, "{body}");

    // The proxy's header is checked like a handshake's certificate.
    let stranger = Ca::new("Another CA").client("billing", "Example", vec![]);
    let id = register(
        &t,
        &[
            "tls_client_auth",
            "--tls-subject-dn",
            "CN=billing,O=Example",
        ],
    );
    let (status, body) = token_with_header(&server, &id, &stranger).await;
    assert_invalid_client(status, &body, "a proxied certificate from another CA");
}

#[actix_web::test]
async fn openid_client_tls_client_auth_obtains_a_certificate_bound_token() {
    let h = Https::start();
    let cert = h.ca.client("node-client", "Example", vec![]);
    let id = register(
        &h.t,
        &[
            "tls_client_auth",
            "--tls-subject-dn",
            "CN=node-client,O=Example",
        ],
    );
    let cert_file = h.t.path().join("node-client.pem");
    let key_file = h.t.path().join("node-client-key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key.serialize_pem()).unwrap();
    let issuer = h.server.url.clone();
    let ca_file = h.ca_file.clone();
    let out = tokio::task::spawn_blocking(move || {
        common::clients::node(
            "mtls.mjs",
            &[
                &issuer,
                &id,
                cert_file.to_str().unwrap(),
                key_file.to_str().unwrap(),
                ca_file.to_str().unwrap(),
                "orders:read",
            ],
        )
    })
    .await
    .unwrap();
    let token = out["access_token"].as_str().unwrap();
    let claims = verify(&h.client(None), &h.server, token).await;
    assert_eq!(claims["cnf"], json!({"x5t#S256": cert.thumbprint()}));
}

#[actix_web::test]
async fn an_unusable_certificate_file_stops_start_up_naming_it() {
    let mut t = Tessera::new();
    let junk = t.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let key = t.path().join("key.pem");
    std::fs::write(&key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    t.set("TESSERA__SERVER__TLS__CERT_FILE", junk.to_str().unwrap())
        .set("TESSERA__SERVER__TLS__KEY_FILE", key.to_str().unwrap());
    let log = match t.try_serve() {
        Ok(_) => panic!("served with no certificate"),
        Err(log) => log,
    };
    assert!(log.contains("server.tls.cert_file"), "{log}");
}

#[tokio::test]
async fn the_admin_api_takes_a_certificate_bound_token_only_with_its_certificate() {
    let h = Https::start();
    let cert = h.ca.client("ops-bot", "Example", vec![]);
    let created = h.t.cli_json(&[
        "clients",
        "create",
        "--name",
        "ops-bot",
        "--scopes",
        "admin:read",
        "--auth-method",
        "tls_client_auth",
        "--tls-subject-dn",
        "CN=ops-bot,O=Example",
    ]);
    let id = created["client_id"].as_str().unwrap();
    let with_cert = h.client(Some(&cert));
    let (status, _, body) = post(
        &with_cert,
        &h.server,
        "/oauth2/token",
        id,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let list = |client: reqwest::Client| {
        let url = h.server.url("/admin/v1/clients");
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(list(with_cert.clone()).await, 200, "with its certificate");
    assert_eq!(list(h.client(None)).await, 401, "a copy of the token alone");
    let other = h.ca.client("someone-else", "Example", vec![]);
    assert_eq!(
        list(h.client(Some(&other))).await,
        401,
        "with another certificate"
    );
}
