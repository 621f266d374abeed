//! DPoP (RFC 9449, SPEC §9) over real HTTP: proofs at the token endpoint and the tokens they
//! bind (`token_type: "DPoP"`, `cnf.jkt`), every refused proof, replay, DPoP-bound clients,
//! server nonces (also across replicas), the admin API's check of a bound token's proof, and
//! openid-client obtaining DPoP tokens with and without nonces. Keys are generated here and
//! their RFC 7638 thumbprints computed here, independently of the server.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use common::{Server, Tessera, http, jwt_parts, verify_with_jwks};
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, HeaderMap, WWW_AUTHENTICATE};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ORDERS: &str = "https://api.example.com/orders";
/// Fixed and unlike the listen address: `htu` is built from it, not from `Host`.
const ISSUER: &str = "https://auth.example.com";
const TOKEN_URL: &str = "https://auth.example.com/oauth2/token";

/// Signs a JWS signing input with a DPoP key's private part.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A DPoP key made by the test: its public JWK and a way to sign with it.
struct DpopKey {
    alg: &'static str,
    jwk: Value,
    sign: Sign,
}

impl DpopKey {
    fn ec(alg: &'static str) -> DpopKey {
        let (signing, crv, coordinate) = match alg {
            "ES256" => (&signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", 32),
            _ => (&signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", 48),
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
        // Uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC",
            "crv": crv,
            "x": B64URL.encode(&point[1..1 + coordinate]),
            "y": B64URL.encode(&point[1 + coordinate..]),
        });
        DpopKey {
            alg,
            jwk,
            sign: Box::new(move |m| pair.sign(&rng, m).unwrap().as_ref().to_vec()),
        }
    }

    fn ed25519() -> DpopKey {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": B64URL.encode(pair.public_key().as_ref()),
        });
        DpopKey {
            alg: "EdDSA",
            jwk,
            sign: Box::new(move |m| pair.sign(m).as_ref().to_vec()),
        }
    }

    /// RSA (ring cannot generate it): josekit makes the key and signs.
    fn rsa(alg: &'static str) -> DpopKey {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let public = pair.to_jwk_public_key();
        let jwk = json!({
            "kty": "RSA",
            "n": public.parameter("n").unwrap(),
            "e": public.parameter("e").unwrap(),
        });
        let der = pair.to_der_private_key();
        let signer: Box<dyn josekit::jws::JwsSigner> = match alg {
            "PS256" => Box::new(josekit::jws::PS256.signer_from_der(&der).unwrap()),
            _ => Box::new(josekit::jws::RS256.signer_from_der(&der).unwrap()),
        };
        DpopKey {
            alg,
            jwk,
            sign: Box::new(move |m| signer.sign(m).unwrap()),
        }
    }

    fn all() -> Vec<DpopKey> {
        vec![
            DpopKey::ec("ES256"),
            DpopKey::ec("ES384"),
            DpopKey::ed25519(),
            DpopKey::rsa("PS256"),
            DpopKey::rsa("RS256"),
        ]
    }

    /// The RFC 7638 thumbprint, built by hand: the required members in lexicographic order.
    fn thumbprint(&self) -> String {
        let m = |name: &str| self.jwk[name].as_str().unwrap().to_owned();
        let canonical = match self.jwk["kty"].as_str().unwrap() {
            "EC" => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                m("crv"),
                m("x"),
                m("y")
            ),
            "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, m("crv"), m("x")),
            _ => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, m("e"), m("n")),
        };
        B64URL.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk})
    }

    /// A compact JWS of exactly this header and these claims.
    fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        format!("{input}.{}", B64URL.encode((self.sign)(input.as_bytes())))
    }

    /// A good proof for `htm` `htu`, with `extra` claims added or replaced.
    fn proof(&self, htm: &str, htu: &str, extra: Value) -> String {
        let mut claims = claims(htm, htu);
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.sign_raw(&self.header(), &claims)
    }

    fn token_proof(&self) -> String {
        self.proof("POST", TOKEN_URL, json!({}))
    }
}

fn claims(htm: &str, htu: &str) -> Value {
    json!({
        "htm": htm,
        "htu": htu,
        "iat": chrono::Utc::now().timestamp(),
        "jti": format!("{:032x}", rand::random::<u128>()),
    })
}

fn ath(token: &str) -> String {
    B64URL.encode(Sha256::digest(token.as_bytes()))
}

struct Fixture {
    s: Server,
    t: Tessera,
    client: (String, String),
}

fn fixture_with(env: &[(&str, &str)]) -> Fixture {
    let mut t = Tessera::new();
    t.set("TESSERA__ISSUER", ISSUER);
    for (k, v) in env {
        t.set(k, v);
    }
    t.create_api("orders", ORDERS, "read,write");
    let client = t.create_client("worker", "orders:read");
    let s = t.serve();
    Fixture { s, t, client }
}

fn fixture() -> Fixture {
    fixture_with(&[])
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    fn token(&self) -> String {
        assert_eq!(self.status, 200, "{}", self.body);
        self.body["access_token"].as_str().unwrap().to_owned()
    }

    #[track_caller]
    fn assert_error(&self, status: u16, code: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        assert_eq!(self.body["error"], code, "{what}: {}", self.body);
        assert!(
            self.body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{what}: {}",
            self.body
        );
        assert!(self.body.get("access_token").is_none(), "{what}");
        assert_eq!(self.header("cache-control"), Some("no-store"), "{what}");
    }
}

/// `POST /oauth2/token` by Basic with these `DPoP` headers (none, one or several).
async fn token_request(s: &Server, (id, secret): &(String, String), proofs: &[&str]) -> Reply {
    let mut req = http()
        .post(s.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")]);
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    let resp = req.send().await.unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

async fn introspect(s: &Server, (id, secret): &(String, String), token: &str) -> Value {
    let resp = http()
        .post(s.url("/oauth2/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_proof_binds_the_token_to_its_key_for_every_algorithm() {
    // The token is verified against the JWKS that discovery names: the issuer must be reachable.
    let f = fixture_at_listen_address(&[]);
    let token_url = f.s.url("/oauth2/token");
    for key in DpopKey::all() {
        let proof = key.proof("POST", &token_url, json!({}));
        let reply = token_request(&f.s, &f.client, &[&proof]).await;
        let token = reply.token();
        assert_eq!(reply.body["token_type"], "DPoP", "{}", key.alg);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("dpop-nonce"), None, "nonces are off");
        let claims = verify_with_jwks(&f.s, &token, ORDERS).await;
        assert_eq!(
            claims["cnf"],
            json!({"jkt": key.thumbprint()}),
            "{}",
            key.alg
        );
        let info = introspect(&f.s, &f.client, &token).await;
        assert_eq!(info["active"], true);
        assert_eq!(info["token_type"], "DPoP");
        assert_eq!(info["cnf"]["jkt"], key.thumbprint().as_str());
    }
    // Without a proof the same client still gets a bearer token.
    let bearer = token_request(&f.s, &f.client, &[]).await;
    bearer.token();
    assert_eq!(bearer.body["token_type"], "Bearer");
    let (_, claims) = jwt_parts(bearer.body["access_token"].as_str().unwrap());
    assert!(claims.get("cnf").is_none());
}

#[tokio::test]
async fn a_proof_made_by_jsonwebtoken_is_accepted() {
    let f = fixture();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &SystemRandom::new(),
    )
    .unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        pkcs8.as_ref(),
        &SystemRandom::new(),
    )
    .unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": B64URL.encode(&point[1..33]), "y": B64URL.encode(&point[33..]),
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(jwk.clone()).unwrap());
    let proof = jsonwebtoken::encode(
        &header,
        &claims("POST", TOKEN_URL),
        &jsonwebtoken::EncodingKey::from_ec_der(pkcs8.as_ref()),
    )
    .unwrap();
    let reply = token_request(&f.s, &f.client, &[&proof]).await;
    let (_, claims) = jwt_parts(&reply.token());
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap()
    );
    assert_eq!(
        claims["cnf"]["jkt"],
        B64URL.encode(Sha256::digest(canonical))
    );
}

#[tokio::test]
async fn bad_proofs_are_invalid_dpop_proof_and_issue_nothing() {
    let f = fixture();
    let key = DpopKey::ec("ES256");
    let other = DpopKey::ec("ES256");
    let now = chrono::Utc::now().timestamp();
    let header_with = |name: &str, value: Value| {
        let mut h = key.header();
        h[name] = value;
        h
    };
    let mut private_jwk = key.jwk.clone();
    private_jwk["d"] = B64URL.encode([7u8; 32]).into();
    let good = key.token_proof();
    let (signed, _) = good.rsplit_once('.').unwrap();
    let unsigned = |alg: &str| {
        let h = header_with("alg", alg.into());
        format!(
            "{}.{}",
            B64URL.encode(h.to_string()),
            B64URL.encode(claims("POST", TOKEN_URL).to_string())
        )
    };
    let hs256 = {
        use hmac::{Hmac, Mac};
        let input = unsigned("HS256");
        let mut mac = Hmac::<Sha256>::new_from_slice(key.jwk.to_string().as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", B64URL.encode(mac.finalize().into_bytes()))
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "htu of another endpoint",
            vec![key.proof("POST", &format!("{ISSUER}/oauth2/introspect"), json!({}))],
        ),
        (
            "htu of another server",
            vec![key.proof("POST", "https://evil.example/oauth2/token", json!({}))],
        ),
        (
            "htu from the Host the request went to, not the issuer",
            vec![key.proof("POST", &f.s.url("/oauth2/token"), json!({}))],
        ),
        (
            "another method",
            vec![key.proof("GET", TOKEN_URL, json!({}))],
        ),
        (
            "stale iat",
            vec![key.proof("POST", TOKEN_URL, json!({"iat": now - 300}))],
        ),
        (
            "iat in the future",
            vec![key.proof("POST", TOKEN_URL, json!({"iat": now + 300}))],
        ),
        (
            "no jti",
            vec![key.sign_raw(&key.header(), &{
                let mut c = claims("POST", TOKEN_URL);
                c.as_object_mut().unwrap().remove("jti");
                c
            })],
        ),
        (
            "a jwk with a private member",
            vec![key.sign_raw(&header_with("jwk", private_jwk), &claims("POST", TOKEN_URL))],
        ),
        (
            "a jwk that did not sign",
            vec![key.sign_raw(
                &header_with("jwk", other.jwk.clone()),
                &claims("POST", TOKEN_URL),
            )],
        ),
        (
            "no jwk",
            vec![key.sign_raw(
                &json!({"typ": "dpop+jwt", "alg": "ES256"}),
                &claims("POST", TOKEN_URL),
            )],
        ),
        (
            "typ JWT",
            vec![key.sign_raw(
                &header_with("typ", "JWT".into()),
                &claims("POST", TOKEN_URL),
            )],
        ),
        (
            "no typ",
            vec![key.sign_raw(
                &json!({"alg": "ES256", "jwk": key.jwk}),
                &claims("POST", TOKEN_URL),
            )],
        ),
        ("alg none", vec![format!("{}.", unsigned("none"))]),
        ("alg HS256 keyed with the public key", vec![hs256]),
        (
            "alg ES384 on a P-256 key",
            vec![key.sign_raw(
                &header_with("alg", "ES384".into()),
                &claims("POST", TOKEN_URL),
            )],
        ),
        (
            "bad signature",
            vec![format!("{signed}.{}", B64URL.encode([0u8; 64]))],
        ),
        ("not a JWS", vec!["not-a-jws".into()]),
        (
            "two DPoP headers",
            vec![key.token_proof(), key.token_proof()],
        ),
    ];
    for (what, proofs) in &cases {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let reply = token_request(&f.s, &f.client, &proofs).await;
        reply.assert_error(400, "invalid_dpop_proof", what);
    }
    // Refused proofs consumed nothing: the good one still works.
    token_request(&f.s, &f.client, &[&good]).await.token();
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let f = fixture();
    let key = DpopKey::ec("ES256");
    let proof = key.token_proof();
    token_request(&f.s, &f.client, &[&proof]).await.token();
    token_request(&f.s, &f.client, &[&proof])
        .await
        .assert_error(400, "invalid_dpop_proof", "replayed proof");
    // The same jti under another key is another proof.
    let jti = jwt_parts(&proof).1["jti"].clone();
    let other = DpopKey::ec("ES256");
    let reply = token_request(
        &f.s,
        &f.client,
        &[&other.proof("POST", TOKEN_URL, json!({"jti": jti}))],
    )
    .await;
    reply.token();
}

#[tokio::test]
async fn a_dpop_bound_client_must_send_a_proof() {
    let f = fixture();
    let v = f.t.cli_json(&[
        "clients",
        "create",
        "--name",
        "bound",
        "--scopes",
        "orders:read",
        "--dpop-bound",
        "true",
    ]);
    let bound = (
        v["client_id"].as_str().unwrap().to_owned(),
        v["client_secret"].as_str().unwrap().to_owned(),
    );
    token_request(&f.s, &bound, &[]).await.assert_error(
        400,
        "invalid_dpop_proof",
        "bound client without a proof",
    );
    let key = DpopKey::ec("ES256");
    let reply = token_request(&f.s, &bound, &[&key.token_proof()]).await;
    let (_, claims) = jwt_parts(&reply.token());
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint().as_str());
}

#[tokio::test]
async fn the_server_demands_a_nonce_and_the_retry_with_it_succeeds() {
    let f = fixture_with(&[("TESSERA__TOKEN__DPOP_NONCE", "true")]);
    let key = DpopKey::ec("ES256");
    let first = key.token_proof();
    let reply = token_request(&f.s, &f.client, &[&first]).await;
    reply.assert_error(400, "use_dpop_nonce", "proof without a nonce");
    let nonce = reply
        .header("dpop-nonce")
        .expect("DPoP-Nonce on use_dpop_nonce")
        .to_owned();
    // A wrong nonce is refused the same way, with a nonce to use.
    let reply = token_request(
        &f.s,
        &f.client,
        &[&key.proof("POST", TOKEN_URL, json!({"nonce": "made-up"}))],
    )
    .await;
    reply.assert_error(400, "use_dpop_nonce", "made-up nonce");
    assert!(reply.header("dpop-nonce").is_some());
    // The refused proof was not consumed: its jti may come back, now with the nonce.
    let jti = jwt_parts(&first).1["jti"].clone();
    let retry = key.proof("POST", TOKEN_URL, json!({"jti": jti, "nonce": nonce}));
    let reply = token_request(&f.s, &f.client, &[&retry]).await;
    let (_, claims) = jwt_parts(&reply.token());
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint().as_str());
    assert_eq!(reply.body["token_type"], "DPoP");
    let fresh = reply
        .header("dpop-nonce")
        .expect("a fresh DPoP-Nonce on success")
        .to_owned();
    let next = key.proof("POST", TOKEN_URL, json!({"nonce": fresh}));
    token_request(&f.s, &f.client, &[&next]).await.token();
    // An otherwise bad proof is invalid_dpop_proof even without a nonce.
    token_request(
        &f.s,
        &f.client,
        &[&key.proof("GET", TOKEN_URL, json!({"nonce": nonce}))],
    )
    .await
    .assert_error(400, "invalid_dpop_proof", "GET proof with a nonce");
}

#[tokio::test]
async fn a_nonce_from_one_replica_is_good_at_another() {
    let f = fixture_with(&[("TESSERA__TOKEN__DPOP_NONCE", "true")]);
    let replica = f.t.sharing();
    let other = replica.serve();
    let key = DpopKey::ec("ES256");
    let reply = token_request(&f.s, &f.client, &[&key.token_proof()]).await;
    reply.assert_error(400, "use_dpop_nonce", "first replica");
    let nonce = reply.header("dpop-nonce").unwrap().to_owned();
    let proof = key.proof("POST", TOKEN_URL, json!({"nonce": nonce}));
    token_request(&other, &f.client, &[&proof]).await.token();
    // And its jti is spent at both.
    token_request(&f.s, &f.client, &[&proof])
        .await
        .assert_error(400, "invalid_dpop_proof", "replay at the other replica");
}

#[tokio::test]
async fn discovery_lists_the_dpop_algorithms() {
    let f = fixture();
    let meta: Value = http()
        .get(f.s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"])
    );
}

/// `GET /admin/v1/clients` with this `Authorization` and these `DPoP` headers.
async fn admin_get(s: &Server, authorization: &str, proofs: &[&str]) -> (u16, HeaderMap, Value) {
    let mut req = http()
        .get(s.url("/admin/v1/clients"))
        .header(AUTHORIZATION, authorization);
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

#[track_caller]
fn assert_unauthorized(got: &(u16, HeaderMap, Value), error: &str, what: &str) {
    let (status, headers, body) = got;
    assert_eq!(*status, 401, "{what}: {body}");
    assert_eq!(
        headers.get("content-type").unwrap(),
        "application/problem+json",
        "{what}"
    );
    assert_eq!(body["status"], 401, "{what}");
    let challenge = headers.get(WWW_AUTHENTICATE).unwrap().to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains(&format!("error=\"{error}\"")),
        "{what}: {challenge}"
    );
    assert_eq!(headers.get(CACHE_CONTROL).unwrap(), "no-store", "{what}");
}

#[tokio::test]
async fn the_admin_api_wants_the_proof_of_a_dpop_bound_token() {
    let f = fixture();
    let admin = f.t.create_client("admin", "admin:read admin:write");
    let key = DpopKey::ec("ES256");
    let token = token_request(&f.s, &admin, &[&key.token_proof()])
        .await
        .token();
    let url = format!("{ISSUER}/admin/v1/clients");
    let proof_for = |token: &str| key.proof("GET", &url, json!({"ath": ath(token)}));
    let dpop = format!("DPoP {token}");

    let got = admin_get(&f.s, &format!("Bearer {token}"), &[]).await;
    assert_unauthorized(&got, "invalid_token", "bound token as Bearer");
    let got = admin_get(&f.s, &format!("Bearer {token}"), &[&proof_for(&token)]).await;
    assert_unauthorized(&got, "invalid_token", "bound token as Bearer with a proof");
    let got = admin_get(&f.s, &dpop, &[]).await;
    assert_unauthorized(&got, "invalid_token", "DPoP without a proof");

    let other_token = token_request(&f.s, &admin, &[&key.token_proof()])
        .await
        .token();
    let refused = [
        ("a proof for another token", proof_for(&other_token)),
        ("a proof without ath", key.proof("GET", &url, json!({}))),
        (
            "a proof by another key",
            DpopKey::ec("ES256").proof("GET", &url, json!({"ath": ath(&token)})),
        ),
        (
            "a proof for another method",
            key.proof("POST", &url, json!({"ath": ath(&token)})),
        ),
        (
            "a proof for another path",
            key.proof(
                "GET",
                &format!("{ISSUER}/admin/v1/apis"),
                json!({"ath": ath(&token)}),
            ),
        ),
        (
            "a proof for the token endpoint",
            key.proof("POST", TOKEN_URL, json!({"ath": ath(&token)})),
        ),
    ];
    for (what, proof) in &refused {
        let got = admin_get(&f.s, &dpop, &[proof]).await;
        assert_unauthorized(&got, "invalid_dpop_proof", what);
    }

    let proof = proof_for(&token);
    let (status, _, body) = admin_get(&f.s, &dpop, &[&proof]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["items"].is_array());
    let got = admin_get(&f.s, &dpop, &[&proof]).await;
    assert_unauthorized(&got, "invalid_dpop_proof", "the same proof again");
    // A query string is not part of htu.
    let resp = http()
        .get(f.s.url("/admin/v1/clients?limit=1"))
        .header(AUTHORIZATION, &dpop)
        .header("DPoP", proof_for(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);

    // Unbound tokens keep working as Bearer, and only as Bearer.
    let bearer = token_request(&f.s, &admin, &[]).await.token();
    let (status, _, body) = admin_get(&f.s, &format!("Bearer {bearer}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = admin_get(&f.s, &format!("DPoP {bearer}"), &[]).await;
    assert_eq!(status, 401);
}

fn openid_client(f: &Fixture) -> Value {
    common::clients::node(
        "dpop.mjs",
        &[&f.s.url, &f.client.0, &f.client.1, "orders:read"],
    )
}

/// Starts a server with the listen address as issuer (openid-client checks discovery's
/// `issuer` against the URL it fetched).
fn fixture_at_listen_address(env: &[(&str, &str)]) -> Fixture {
    let mut t = Tessera::new();
    for (k, v) in env {
        t.set(k, v);
    }
    t.create_api("orders", ORDERS, "read,write");
    let client = t.create_client("worker", "orders:read");
    let s = t.serve();
    Fixture { s, t, client }
}

#[tokio::test]
async fn openid_client_gets_a_dpop_token() {
    let f = fixture_at_listen_address(&[]);
    let out = openid_client(&f);
    let token = out["access_token"].as_str().unwrap();
    assert!(
        out["token_type"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("DPoP"),
        "{out}"
    );
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["cnf"]["jkt"], out["jkt"], "{out}");
    assert_eq!(out["token_requests"], 2, "no nonce, no retry: {out}");
    let info = introspect(&f.s, &f.client, token).await;
    assert_eq!(info["token_type"], "DPoP");
    assert_eq!(info["cnf"]["jkt"], out["jkt"]);
}

#[tokio::test]
async fn openid_client_retries_with_the_servers_nonce() {
    let f = fixture_at_listen_address(&[("TESSERA__TOKEN__DPOP_NONCE", "true")]);
    let out = openid_client(&f);
    let (_, claims) = jwt_parts(out["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], out["jkt"], "{out}");
    // The first grant is refused for a nonce and retried; the second uses the nonce of the
    // first success.
    assert_eq!(out["statuses"], json!([400, 200, 200]), "{out}");
}
