//! Integration tests for `POST /oauth2/token` (SPEC.md §4): the client-credentials grant,
//! client authentication, request validation, scope and resource negotiation, and the
//! access token itself.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

const ORDERS: &str = "https://api.example.com/orders";
const AUDIT: &str = "https://api.example.com/audit";
const FORM: &str = "application/x-www-form-urlencoded";
const REALM: &str = "Basic realm=\"tessera\"";

/// A response reduced to what the tests look at.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, Vec<String>>,
    body: Vec<u8>,
}

impl Reply {
    async fn from_reqwest(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let mut headers: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in resp.headers() {
            headers
                .entry(name.as_str().to_ascii_lowercase())
                .or_default()
                .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
        let body = resp.bytes().await.expect("response body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    fn header_count(&self, name: &str) -> usize {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or(0, Vec::len)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected a JSON body ({e}); status {} body {:?}",
                self.status,
                self.text()
            )
        })
    }

    /// Asserts `Cache-Control: no-store` (RFC 6749 §5.1, SPEC §4: every token response).
    fn assert_no_store(&self, what: &str) {
        let cc = self.header("cache-control").unwrap_or_else(|| {
            panic!(
                "{what}: no Cache-Control header (status {}, body {})",
                self.status,
                self.text()
            )
        });
        assert!(
            cc.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store")),
            "{what}: Cache-Control is {cc:?}, expected no-store"
        );
        self.assert_nosniff(what);
    }

    /// Asserts one `X-Content-Type-Options: nosniff` (every response of the server).
    fn assert_nosniff(&self, what: &str) {
        assert_eq!(
            self.headers.get("x-content-type-options"),
            Some(&vec!["nosniff".to_owned()]),
            "{what}: X-Content-Type-Options (status {})",
            self.status
        );
    }

    /// Asserts an RFC 6749 §5.2 error: status, `error` code, a string `error_description`,
    /// a JSON content type and `Cache-Control: no-store`.
    fn assert_error(&self, what: &str, status: u16, error: &str) {
        assert_eq!(self.status, status, "{what}: status (body {})", self.text());
        let body = self.json();
        assert_eq!(body["error"], error, "{what}: error code in {body}");
        assert!(
            body["error_description"].is_string(),
            "{what}: error_description should be a string in {body}"
        );
        let ct = self.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with("application/json"),
            "{what}: Content-Type is {ct:?}, expected application/json"
        );
        self.assert_no_store(what);
    }
}

/// Sends a hand-made `POST /oauth2/token`.
async fn post_raw(
    s: &common::Server,
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> Reply {
    let mut req = common::http().post(s.url("/oauth2/token"));
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    if let Some(auth) = authorization {
        req = req.header(AUTHORIZATION, auth);
    }
    let resp = req.body(body.into()).send().await.expect("token request");
    Reply::from_reqwest(resp).await
}

async fn token_form(
    s: &common::Server,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Reply {
    Reply::from_reqwest(s.token_request(basic, form).await).await
}

/// `Basic base64(id:secret)` with the parts exactly as given (no encoding).
fn basic_header(id: &str, secret: &str) -> String {
    format!("Basic {}", B64.encode(format!("{id}:{secret}")))
}

/// Percent-encodes every byte of `s` (a valid, if unusual, form-urlencoding).
fn encode_every_byte(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn discovery_issuer(s: &common::Server) -> String {
    let meta: Value = common::http()
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery JSON");
    meta["issuer"].as_str().expect("issuer").to_owned()
}

/// Asserts a 200 token response and returns its JSON.
fn assert_token_ok(what: &str, r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{what}: status (body {})", r.text());
    r.assert_no_store(what);
    let body = r.json();
    assert!(
        body["access_token"].as_str().is_some_and(|t| !t.is_empty()),
        "{what}: access_token missing in {body}"
    );
    assert_eq!(body["token_type"], "Bearer", "{what}: token_type in {body}");
    body
}

/// Writes a raw HTTP/1.1 request to the server and reads the whole response (the request
/// should carry `Connection: close`). Write errors are tolerated: the server may answer and
/// close before it has read everything.
fn raw_exchange(s: &common::Server, head: &str, body_parts: &[&[u8]]) -> Reply {
    let addr = s.url.strip_prefix("http://").expect("http URL");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut ok = stream.write_all(head.as_bytes()).is_ok();
    for part in body_parts {
        if !ok {
            break;
        }
        ok = stream.write_all(part).is_ok();
    }
    let _ = stream.flush();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A reset after the response arrived: keep what was read.
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("reading the raw response: {e}"),
        }
    }
    parse_http_response(&raw)
}

fn parse_http_response(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers: HashMap<String, Vec<String>> = HashMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers
                .entry(k.trim().to_ascii_lowercase())
                .or_default()
                .push(v.trim().to_owned());
        }
    }
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.iter().any(|te| te.eq_ignore_ascii_case("chunked")));
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// One `orders` API (read, write) and a client holding both scopes, plus a running server.
fn orders_setup() -> (common::Tessera, common::Server, String, String) {
    let t = common::Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    let (id, secret) = t.create_client("orders-client", "orders:read orders:write");
    let s = t.serve();
    (t, s, id, secret)
}

/// A final successful request: the server survived whatever the test sent before.
async fn assert_still_serving(s: &common::Server, id: &str, secret: &str) {
    let body = s.token(id, secret, &[]).await;
    assert!(
        body["access_token"].is_string(),
        "server still issues tokens: {body}"
    );
}

#[tokio::test]
async fn basic_auth_success_returns_a_verifiable_rfc9068_token() {
    let (_t, s, id, secret) = orders_setup();

    let before = now();
    let r = token_form(
        &s,
        Some((&id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let after = now();
    let body = assert_token_ok("basic auth", &r);
    let ct = r.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "Content-Type is {ct:?}");
    assert_eq!(body["expires_in"], 900, "expires_in in {body}");
    assert_eq!(
        body["scope"], "orders:read orders:write",
        "no scope requested: every granted scope, sorted"
    );

    let token = body["access_token"].as_str().unwrap();
    let (header, claims) = common::jwt_parts(token);
    assert_eq!(header["typ"], "at+jwt", "JOSE header typ in {header}");
    assert_eq!(header["alg"], "ES256", "default signing alg in {header}");
    assert!(
        header["kid"].as_str().is_some_and(|k| !k.is_empty()),
        "kid in {header}"
    );

    let issuer = discovery_issuer(&s).await;
    assert_eq!(issuer, s.url, "discovery issuer is the server URL");
    assert_eq!(claims["iss"], issuer.as_str(), "iss in {claims}");
    assert_eq!(claims["sub"], id.as_str(), "sub = client id in {claims}");
    assert_eq!(claims["client_id"], id.as_str(), "client_id in {claims}");
    assert_eq!(
        claims["aud"], ORDERS,
        "one API: aud is a single string in {claims}"
    );
    assert_eq!(
        claims["scope"], "orders:read orders:write",
        "scope claim in {claims}"
    );
    let iat = claims["iat"]
        .as_i64()
        .unwrap_or_else(|| panic!("iat must be an integer in {claims}"));
    assert!(
        (before - 5..=after + 5).contains(&iat),
        "iat {iat} should be about now ({before}..{after})"
    );
    assert_eq!(claims["nbf"].as_i64(), Some(iat), "nbf = iat in {claims}");
    assert_eq!(
        claims["exp"].as_i64(),
        Some(iat + 900),
        "exp = iat + 900 in {claims}"
    );
    let jti1 = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .unwrap_or_else(|| panic!("jti must be a non-empty string in {claims}"))
        .to_owned();

    let verified = common::verify_with_jwks(&s, token, ORDERS).await;
    assert_eq!(verified["sub"], id.as_str(), "verified claims");

    // A second token has a different jti.
    let second = s.token(&id, &secret, &[]).await;
    let (_, claims2) = common::jwt_parts(second["access_token"].as_str().unwrap());
    assert_ne!(
        claims2["jti"].as_str(),
        Some(jti1.as_str()),
        "jti must be unique across tokens"
    );
    assert_ne!(
        second["access_token"], body["access_token"],
        "two requests give two tokens"
    );
}

#[tokio::test]
async fn client_secret_post_success() {
    let (_t, s, id, secret) = orders_setup();

    let r = token_form(
        &s,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "orders:read"),
        ],
    )
    .await;
    let body = assert_token_ok("client_secret_post", &r);
    assert_eq!(body["scope"], "orders:read", "requested scope in {body}");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().unwrap();
    let claims = common::verify_with_jwks(&s, token, ORDERS).await;
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert_eq!(claims["scope"], "orders:read");

    // The body is form-decoded: a percent-encoded secret in the body is the same secret.
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        encode_every_byte(&id),
        secret.replace('_', "%5F")
    );
    let r = post_raw(&s, Some(FORM), None, body).await;
    assert_token_ok("client_secret_post with percent-encoded credentials", &r);

    // Basic plus the same client_id in the body is tolerated.
    let r = token_form(
        &s,
        Some((&id, &secret)),
        &[("grant_type", "client_credentials"), ("client_id", &id)],
    )
    .await;
    assert_token_ok("Basic plus the same client_id in the body", &r);

    // `application/x-www-form-urlencoded; charset=UTF-8` is a form too.
    let r = post_raw(
        &s,
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        Some(&basic_header(&id, &secret)),
        "grant_type=client_credentials",
    )
    .await;
    assert_token_ok("form content type with charset parameter", &r);
}

#[tokio::test]
async fn basic_credentials_are_form_urldecoded() {
    let (_t, s, id, secret) = orders_setup();
    assert!(
        secret.contains('_'),
        "secrets carry a tsk_-like prefix with '_': {secret}"
    );

    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64.
    let encoded_secret = secret.replace('_', "%5F");
    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(&id, &encoded_secret)),
        "grant_type=client_credentials",
    )
    .await;
    let body = assert_token_ok("Basic with %5F in the secret", &r);
    let claims = common::verify_with_jwks(&s, body["access_token"].as_str().unwrap(), ORDERS).await;
    assert_eq!(claims["sub"], id.as_str());

    // Every byte of the id and of the secret percent-encoded.
    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(
            &encode_every_byte(&id),
            &encode_every_byte(&secret),
        )),
        "grant_type=client_credentials",
    )
    .await;
    assert_token_ok("Basic with every byte percent-encoded", &r);

    // The raw (unencoded) form keeps working, since the secret is URL-safe.
    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(&id, &secret)),
        "grant_type=client_credentials",
    )
    .await;
    assert_token_ok("Basic with raw credentials", &r);

    // `+` decodes to a space, so it is not a stand-in for `_`.
    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(&id, &secret.replace('_', "+"))),
        "grant_type=client_credentials",
    )
    .await;
    r.assert_error("Basic with '+' in place of '_'", 401, "invalid_client");
    assert_eq!(r.header("www-authenticate"), Some(REALM));
}

#[tokio::test]
async fn unknown_client_and_wrong_secret_are_indistinguishable() {
    let (_t, s, id, secret) = orders_setup();
    let unknown_id = format!("{id}x");
    let wrong_secret = format!("{secret}x");

    // Basic.
    let wrong = token_form(
        &s,
        Some((&id, &wrong_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let unknown = token_form(
        &s,
        Some((&unknown_id, &secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    wrong.assert_error("Basic, wrong secret", 401, "invalid_client");
    unknown.assert_error("Basic, unknown client", 401, "invalid_client");
    assert_eq!(
        wrong.header("www-authenticate"),
        Some(REALM),
        "Basic, wrong secret"
    );
    assert_eq!(
        unknown.header("www-authenticate"),
        Some(REALM),
        "Basic, unknown client"
    );
    assert_eq!(
        wrong.text(),
        unknown.text(),
        "Basic: wrong secret and unknown client must give the same body"
    );

    // client_secret_post.
    let wrong = token_form(
        &s,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &wrong_secret),
        ],
    )
    .await;
    let unknown = token_form(
        &s,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &unknown_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    wrong.assert_error("post, wrong secret", 401, "invalid_client");
    unknown.assert_error("post, unknown client", 401, "invalid_client");
    assert_eq!(
        wrong.header("www-authenticate"),
        None,
        "post, wrong secret: no WWW-Authenticate"
    );
    assert_eq!(
        unknown.header("www-authenticate"),
        None,
        "post, unknown client: no WWW-Authenticate"
    );
    assert_eq!(
        wrong.text(),
        unknown.text(),
        "post: wrong secret and unknown client must give the same body"
    );

    // A correct secret after wrong ones still works, and a wrong one after a correct one
    // (possibly cached) still fails.
    assert_still_serving(&s, &id, &secret).await;
    let again = token_form(
        &s,
        Some((&id, &wrong_secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    again.assert_error("wrong secret after a success", 401, "invalid_client");
}

/// One row of the error table.
struct Case {
    name: &'static str,
    content_type: Option<&'static str>,
    authorization: Option<String>,
    body: Vec<u8>,
    status: u16,
    error: &'static str,
    /// `Some(true)`: `WWW-Authenticate: Basic realm="tessera"` required; `Some(false)`: absent.
    www_authenticate: Option<bool>,
}

#[tokio::test]
async fn request_errors_table() {
    let (_t, s, id, secret) = orders_setup();
    let basic = Some(basic_header(&id, &secret));
    let form = Some(FORM);
    let cc = "grant_type=client_credentials";
    let post_creds = format!("client_id={id}&client_secret={secret}");

    let case = |name: &'static str,
                content_type: Option<&'static str>,
                authorization: &Option<String>,
                body: &[u8],
                status: u16,
                error: &'static str,
                www_authenticate: Option<bool>| Case {
        name,
        content_type,
        authorization: authorization.clone(),
        body: body.to_vec(),
        status,
        error,
        www_authenticate,
    };

    let cases = vec![
        // Client authentication.
        case("no credentials at all", form, &None, cc.as_bytes(), 401, "invalid_client", Some(true)),
        case(
            "client_id without client_secret",
            form,
            &None,
            format!("{cc}&client_id={id}").as_bytes(),
            401,
            "invalid_client",
            Some(true),
        ),
        case(
            "client_id with an empty client_secret (treated as omitted)",
            form,
            &None,
            format!("{cc}&client_id={id}&client_secret=").as_bytes(),
            401,
            "invalid_client",
            Some(true),
        ),
        case(
            "Basic, wrong secret",
            form,
            &Some(basic_header(&id, "tsk_wrong")),
            cc.as_bytes(),
            401,
            "invalid_client",
            Some(true),
        ),
        case(
            "Basic, unknown client",
            form,
            &Some(basic_header("no-such-client", &secret)),
            cc.as_bytes(),
            401,
            "invalid_client",
            Some(true),
        ),
        case(
            "post, wrong secret",
            form,
            &None,
            format!("{cc}&client_id={id}&client_secret=tsk_wrong").as_bytes(),
            401,
            "invalid_client",
            Some(false),
        ),
        case(
            "post, unknown client",
            form,
            &None,
            format!("{cc}&client_id=no-such-client&client_secret={secret}").as_bytes(),
            401,
            "invalid_client",
            Some(false),
        ),
        case(
            "Basic and a body client_secret",
            form,
            &basic,
            format!("{cc}&client_secret={secret}").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "Basic and body client_id + client_secret",
            form,
            &basic,
            format!("{cc}&{post_creds}").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "Basic and a different body client_id",
            form,
            &basic,
            format!("{cc}&client_id={id}x").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        // Grant type.
        case(
            "grant_type=password",
            form,
            &basic,
            b"grant_type=password&username=a&password=b",
            400,
            "unsupported_grant_type",
            None,
        ),
        case(
            "grant_type=authorization_code",
            form,
            &basic,
            b"grant_type=authorization_code&code=abc",
            400,
            "unsupported_grant_type",
            None,
        ),
        case(
            "grant_type=refresh_token (post auth)",
            form,
            &None,
            format!("grant_type=refresh_token&refresh_token=x&{post_creds}").as_bytes(),
            400,
            "unsupported_grant_type",
            None,
        ),
        case("missing grant_type", form, &basic, b"scope=orders%3Aread", 400, "invalid_request", None),
        case("empty body", form, &basic, b"", 400, "invalid_request", None),
        case("empty grant_type (treated as omitted)", form, &basic, b"grant_type=", 400, "invalid_request", None),
        // Repeated parameters.
        case(
            "two grant_type",
            form,
            &basic,
            b"grant_type=client_credentials&grant_type=client_credentials",
            400,
            "invalid_request",
            None,
        ),
        case(
            "two scope",
            form,
            &basic,
            format!("{cc}&scope=orders:read&scope=orders:write").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "two client_id (post auth)",
            form,
            &None,
            format!("{cc}&client_id={id}&{post_creds}").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "two client_secret (post auth)",
            form,
            &None,
            format!("{cc}&{post_creds}&client_secret={secret}").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        // Content type.
        case(
            "application/json",
            Some("application/json"),
            &basic,
            br#"{"grant_type":"client_credentials"}"#,
            400,
            "invalid_request",
            None,
        ),
        case("text/plain", Some("text/plain"), &basic, cc.as_bytes(), 400, "invalid_request", None),
        case("no Content-Type", None, &basic, cc.as_bytes(), 400, "invalid_request", None),
        case(
            "multipart/form-data",
            Some("multipart/form-data; boundary=x"),
            &basic,
            b"--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n",
            400,
            "invalid_request",
            None,
        ),
        // Malformed bodies.
        case(
            "client_id=%FF (not UTF-8 once decoded)",
            form,
            &None,
            format!("{cc}&client_id=%FF{id}&client_secret={secret}").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "scope=%FF with Basic",
            form,
            &basic,
            format!("{cc}&scope=%FF").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "raw byte 0xFF in the body",
            form,
            &basic,
            &[cc.as_bytes(), b"&scope=orders:read\xFF"].concat(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "malformed percent escape %zz",
            form,
            &basic,
            format!("{cc}&scope=orders%zzread").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        case(
            "truncated percent escape at the end",
            form,
            &basic,
            format!("{cc}&scope=orders:read%2").as_bytes(),
            400,
            "invalid_request",
            None,
        ),
        // Scope.
        case(
            "scope on an API that does not exist",
            form,
            &basic,
            format!("{cc}&scope=nope:read").as_bytes(),
            400,
            "invalid_scope",
            None,
        ),
        case(
            "scope with an unknown permission",
            form,
            &basic,
            format!("{cc}&scope=orders:delete").as_bytes(),
            400,
            "invalid_scope",
            None,
        ),
        case(
            "a granted scope plus a nonexistent one",
            form,
            &basic,
            format!("{cc}&scope=orders:read+nope:read").as_bytes(),
            400,
            "invalid_scope",
            None,
        ),
        case(
            "scope containing a double quote",
            form,
            &basic,
            format!("{cc}&scope=orders:read%22").as_bytes(),
            400,
            "invalid_scope",
            None,
        ),
        case(
            "scope containing a backslash",
            form,
            &basic,
            format!("{cc}&scope=orders:read%5C").as_bytes(),
            400,
            "invalid_scope",
            None,
        ),
        // Resource.
        case(
            "unknown resource",
            form,
            &basic,
            format!("{cc}&resource=https%3A%2F%2Fapi.example.com%2Fnope").as_bytes(),
            400,
            "invalid_target",
            None,
        ),
        case(
            "relative resource",
            form,
            &basic,
            format!("{cc}&resource=%2Forders").as_bytes(),
            400,
            "invalid_target",
            None,
        ),
        case(
            "resource that is not a URI",
            form,
            &basic,
            format!("{cc}&resource=orders").as_bytes(),
            400,
            "invalid_target",
            None,
        ),
    ];

    let mut failures = Vec::new();
    for c in &cases {
        let r = post_raw(
            &s,
            c.content_type,
            c.authorization.as_deref(),
            c.body.clone(),
        )
        .await;
        // Collect every failing row before failing, so one run shows them all.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            r.assert_error(c.name, c.status, c.error);
            match c.www_authenticate {
                Some(true) => {
                    assert_eq!(
                        r.header("www-authenticate"),
                        Some(REALM),
                        "{}: WWW-Authenticate",
                        c.name
                    );
                    assert_eq!(
                        r.header_count("www-authenticate"),
                        1,
                        "{}: one WWW-Authenticate",
                        c.name
                    );
                }
                Some(false) => assert_eq!(
                    r.header("www-authenticate"),
                    None,
                    "{}: no WWW-Authenticate after client_secret_post",
                    c.name
                ),
                None => {}
            }
        }));
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!(
                "[{}] request body {:?} -> {} {:?} body {}\n    {msg}",
                c.name,
                String::from_utf8_lossy(&c.body),
                r.status,
                r.headers,
                r.text()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} error cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    assert_still_serving(&s, &id, &secret).await;
}

#[tokio::test]
async fn empty_parameters_are_treated_as_omitted() {
    let (_t, s, id, secret) = orders_setup();

    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(&id, &secret)),
        "grant_type=client_credentials&scope=",
    )
    .await;
    let body = assert_token_ok("scope=", &r);
    assert_eq!(
        body["scope"], "orders:read orders:write",
        "an empty scope means no scope: every granted scope"
    );

    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(&id, &secret)),
        "grant_type=client_credentials&resource=",
    )
    .await;
    let body = assert_token_ok("resource=", &r);
    assert_eq!(
        body["scope"], "orders:read orders:write",
        "resource= is omitted"
    );

    // Unknown parameters are ignored (RFC 6749 §3.2).
    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(&id, &secret)),
        "grant_type=client_credentials&foo=bar&audience=x",
    )
    .await;
    assert_token_ok("unknown parameters", &r);
}

#[tokio::test]
async fn scope_negotiation() {
    let t = common::Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    t.create_api("audit", AUDIT, "read");
    let (id, secret) = t.create_client("orders-reader", "orders:read");
    let (full_id, full_secret) = t.create_client("orders-full", "orders:read orders:write");
    let s = t.serve();

    let cases: &[(&str, &str, &str)] = &[
        // (id is full?, requested scope, expected granted scope)
        ("full", "orders:write", "orders:write"),
        ("full", "orders:read", "orders:read"),
        (
            "full",
            "orders:write orders:read",
            "orders:read orders:write",
        ),
        (
            "full",
            "orders:write orders:read orders:write",
            "orders:read orders:write",
        ),
        ("full", "orders:read orders:read", "orders:read"),
        ("reader", "orders:read", "orders:read"),
    ];
    for (who, requested, expected) in cases {
        let (cid, csecret) = if *who == "full" {
            (&full_id, &full_secret)
        } else {
            (&id, &secret)
        };
        let body = s.token(cid, csecret, &[("scope", requested)]).await;
        assert_eq!(
            body["scope"], *expected,
            "{who} requesting {requested:?}: response scope"
        );
        let (_, claims) = common::jwt_parts(body["access_token"].as_str().unwrap());
        assert_eq!(
            claims["scope"], *expected,
            "{who} requesting {requested:?}: scope claim"
        );
        assert_eq!(claims["aud"], ORDERS, "{who} requesting {requested:?}: aud");
    }

    let reader_default = s.token(&id, &secret, &[]).await;
    assert_eq!(
        reader_default["scope"], "orders:read",
        "no scope: the one granted scope"
    );

    // Not granted, though they exist.
    for requested in ["orders:write", "orders:read orders:write", "audit:read"] {
        let r = token_form(
            &s,
            Some((&id, &secret)),
            &[("grant_type", "client_credentials"), ("scope", requested)],
        )
        .await;
        r.assert_error(
            &format!("reader requesting {requested:?}"),
            400,
            "invalid_scope",
        );
    }
    // Not a scope of any API, or (admin:write) of the built-in admin API, not granted.
    for requested in ["audit:write", "billing:read", "orders", "admin:write"] {
        let r = token_form(
            &s,
            Some((&full_id, &full_secret)),
            &[("grant_type", "client_credentials"), ("scope", requested)],
        )
        .await;
        r.assert_error(
            &format!("full client requesting {requested:?}"),
            400,
            "invalid_scope",
        );
    }
    assert_still_serving(&s, &id, &secret).await;
}

#[tokio::test]
async fn resource_indicators_narrow_scope_and_audience() {
    let t = common::Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    t.create_api("audit", AUDIT, "read");
    let (id, secret) = t.create_client("both", "orders:read orders:write audit:read");
    let (oid, osecret) = t.create_client("orders-only", "orders:read");
    let s = t.serve();

    // No resource: every API, aud an array sorted.
    let body = s.token(&id, &secret, &[]).await;
    assert_eq!(body["scope"], "audit:read orders:read orders:write");
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = common::jwt_parts(token);
    assert_eq!(
        claims["aud"],
        serde_json::json!([AUDIT, ORDERS]),
        "several APIs: aud is a sorted array in {claims}"
    );
    assert_eq!(claims["scope"], "audit:read orders:read orders:write");
    common::verify_with_jwks(&s, token, AUDIT).await;
    common::verify_with_jwks(&s, token, ORDERS).await;

    // resource=orders narrows to orders.
    let body = s.token(&id, &secret, &[("resource", ORDERS)]).await;
    assert_eq!(
        body["scope"], "orders:read orders:write",
        "resource=orders: scope"
    );
    let (_, claims) = common::jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], ORDERS, "resource=orders: aud is a string");
    assert_eq!(claims["scope"], "orders:read orders:write");

    // resource=audit narrows to audit.
    let body = s.token(&id, &secret, &[("resource", AUDIT)]).await;
    assert_eq!(body["scope"], "audit:read", "resource=audit: scope");
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = common::jwt_parts(token);
    assert_eq!(claims["aud"], AUDIT, "resource=audit: aud");
    common::verify_with_jwks(&s, token, AUDIT).await;

    // Both resources (repeatable), in either order.
    for pair in [[ORDERS, AUDIT], [AUDIT, ORDERS]] {
        let body = s
            .token(
                &id,
                &secret,
                &[("resource", pair[0]), ("resource", pair[1])],
            )
            .await;
        assert_eq!(
            body["scope"], "audit:read orders:read orders:write",
            "both resources {pair:?}"
        );
        let (_, claims) = common::jwt_parts(body["access_token"].as_str().unwrap());
        assert_eq!(
            claims["aud"],
            serde_json::json!([AUDIT, ORDERS]),
            "both resources {pair:?}: aud"
        );
    }

    // resource plus a scope on it.
    let body = s
        .token(
            &id,
            &secret,
            &[("resource", ORDERS), ("scope", "orders:write")],
        )
        .await;
    assert_eq!(
        body["scope"], "orders:write",
        "resource=orders scope=orders:write"
    );
    let (_, claims) = common::jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], ORDERS);

    // A scope alone selects the audience.
    let body = s.token(&id, &secret, &[("scope", "audit:read")]).await;
    let (_, claims) = common::jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["aud"], AUDIT,
        "scope=audit:read: aud is the audit API only"
    );

    // The orders-only client: audit is known but not granted to it.
    let cc = ("grant_type", "client_credentials");
    let errors: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "orders-only client, resource=audit",
            vec![cc, ("resource", AUDIT)],
        ),
        (
            "orders-only client, resource=orders and resource=audit",
            vec![cc, ("resource", ORDERS), ("resource", AUDIT)],
        ),
        (
            "orders-only client, unknown resource",
            vec![cc, ("resource", "https://api.example.com/billing")],
        ),
        (
            "orders-only client, relative resource",
            vec![cc, ("resource", "/orders")],
        ),
        (
            "orders-only client, resource with a fragment",
            vec![cc, ("resource", "https://api.example.com/orders#x")],
        ),
    ];
    for (name, form) in &errors {
        let r = token_form(&s, Some((&oid, &osecret)), form).await;
        r.assert_error(name, 400, "invalid_target");
    }
    let r = token_form(
        &s,
        Some((&id, &secret)),
        &[
            cc,
            ("resource", ORDERS),
            ("resource", "https://api.example.com/billing"),
        ],
    )
    .await;
    r.assert_error("a known and an unknown resource", 400, "invalid_target");

    let body = s.token(&oid, &osecret, &[("resource", ORDERS)]).await;
    assert_eq!(
        body["scope"], "orders:read",
        "orders-only client, resource=orders"
    );
    assert_still_serving(&s, &id, &secret).await;
}

#[tokio::test]
async fn body_over_16_kib_is_413() {
    let (_t, s, id, secret) = orders_setup();
    let padding = "a".repeat(17 * 1024);
    let big = format!("grant_type=client_credentials&pad={padding}");

    // With Content-Length.
    let r = post_raw(
        &s,
        Some(FORM),
        Some(&basic_header(&id, &secret)),
        big.clone(),
    )
    .await;
    r.assert_error("17 KiB body with Content-Length", 413, "invalid_request");

    // Chunked, without Content-Length.
    let addr = s.url.strip_prefix("http://").unwrap();
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
         Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        basic_header(&id, &secret)
    );
    let mut chunks: Vec<Vec<u8>> = big
        .as_bytes()
        .chunks(1024)
        .map(|c| [format!("{:x}\r\n", c.len()).as_bytes(), c, b"\r\n"].concat())
        .collect();
    chunks.push(b"0\r\n\r\n".to_vec());
    let parts: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let r = raw_exchange(&s, &head, &parts);
    r.assert_error("17 KiB chunked body", 413, "invalid_request");

    // A much larger chunked body: answered without reading it all.
    let huge_chunk = [
        format!("{:x}\r\n", 64 * 1024).as_bytes(),
        &[b'a'; 64 * 1024],
        b"\r\n",
    ]
    .concat();
    let mut parts: Vec<&[u8]> = vec![b"1d\r\ngrant_type=client_credentials\r\n"];
    parts.extend(std::iter::repeat_n(huge_chunk.as_slice(), 16));
    parts.push(b"0\r\n\r\n");
    let r = raw_exchange(&s, &head, &parts);
    r.assert_error("1 MiB chunked body", 413, "invalid_request");

    // Just under the limit is fine (unknown parameters are ignored).
    let base = "grant_type=client_credentials&pad=";
    let under = format!("{base}{}", "a".repeat(16 * 1024 - base.len()));
    assert_eq!(under.len(), 16 * 1024);
    let r = post_raw(&s, Some(FORM), Some(&basic_header(&id, &secret)), under).await;
    assert_token_ok("a body of exactly 16 KiB", &r);

    assert_still_serving(&s, &id, &secret).await;
}

#[tokio::test]
async fn two_authorization_headers_are_invalid_request() {
    let (_t, s, id, secret) = orders_setup();
    let addr = s.url.strip_prefix("http://").unwrap();
    let body = "grant_type=client_credentials";
    let request = |a: &str, b: &str| {
        format!(
            "POST /oauth2/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {a}\r\n\
             Authorization: {b}\r\nContent-Type: {FORM}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let good = basic_header(&id, &secret);

    let r = raw_exchange(&s, &request(&good, &basic_header(&id, "tsk_wrong")), &[]);
    r.assert_error(
        "a good and a bad Authorization header",
        400,
        "invalid_request",
    );

    let r = raw_exchange(&s, &request(&basic_header(&id, "tsk_wrong"), &good), &[]);
    r.assert_error(
        "a bad and a good Authorization header",
        400,
        "invalid_request",
    );

    let r = raw_exchange(&s, &request(&good, &good), &[]);
    r.assert_error(
        "the same Authorization header twice",
        400,
        "invalid_request",
    );

    // Sanity check of the raw client: one header works.
    let single = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {good}\r\n\
         Content-Type: {FORM}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let r = raw_exchange(&s, &single, &[]);
    assert_token_ok("raw request with one Authorization header", &r);

    assert_still_serving(&s, &id, &secret).await;
}

#[tokio::test]
async fn get_on_token_endpoint_is_405() {
    let (_t, s, id, secret) = orders_setup();
    let resp = common::http()
        .get(s.url("/oauth2/token?grant_type=client_credentials"))
        .basic_auth(&id, Some(&secret))
        .send()
        .await
        .expect("GET");
    let r = Reply::from_reqwest(resp).await;
    assert_eq!(r.status, 405, "GET /oauth2/token (body {})", r.text());
    r.assert_no_store("GET /oauth2/token");
    let allow = r.header("allow").unwrap_or_default();
    assert!(
        allow.contains("POST"),
        "405 must carry Allow: POST, got {allow:?}"
    );
    for path in ["/no-such-path", "/.well-known/jwks.json"] {
        let resp = common::http().get(s.url(path)).send().await.expect("GET");
        Reply::from_reqwest(resp).await.assert_nosniff(path);
    }

    assert_still_serving(&s, &id, &secret).await;
}
