//! Setting a client's authentication method (SPEC §9) through every surface: the admin API
//! (validation named by field, no secret for secretless clients, 409 from the secret
//! endpoints, secrets deleted when a client leaves secrets), the CLI, the console's forms, and
//! discovery. Over real HTTP against the real binary, on SQLite or PostgreSQL.

mod common;

use common::console::{alerts, signed_in};
use common::{Tessera, http};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";

/// A public P-256 JWK (RFC 7517 appendix A.1's key, public part).
fn public_jwk() -> Value {
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        "kid": "1"
    })
}

async fn admin_token(s: &common::Server, id: &str, secret: &str) -> String {
    s.token(id, secret, &[])
        .await
        .get("access_token")
        .and_then(Value::as_str)
        .expect("token")
        .to_owned()
}

struct Admin {
    base: String,
    token: String,
}

impl Admin {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = http()
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            let content_type = if method == reqwest::Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            req = req.header("content-type", content_type).body(b.to_string());
        }
        let res = req.send().await.expect("admin request");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn admin(t: &Tessera, s: &common::Server) -> Admin {
    let (id, secret) = t.create_client("root", "admin:read admin:write");
    Admin {
        base: s.url("/admin/v1"),
        token: admin_token(s, &id, &secret).await,
    }
}

#[tokio::test]
async fn secretless_clients_get_no_secret_and_the_secret_endpoints_say_why() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read,write");
    let s = t.serve();
    let a = admin(&t, &s).await;
    let (status, created) = a
        .send(
            reqwest::Method::POST,
            "/clients",
            Some(json!({
                "name": "signer",
                "scopes": ["orders:read"],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [public_jwk()]},
                "dpop_bound_access_tokens": true,
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(created.get("client_secret").is_none(), "{created}");
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["jwks"]["keys"][0]["kid"], "1");
    assert_eq!(created["dpop_bound_access_tokens"], true);
    let id = created["client_id"].as_str().unwrap().to_owned();
    let (status, got) = a
        .send(reqwest::Method::GET, &format!("/clients/{id}"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["token_endpoint_auth_method"], "private_key_jwt");
    assert!(
        got.get("jwks_uri").is_none(),
        "unset settings are absent: {got}"
    );
    for path in [
        format!("/clients/{id}/secrets"),
        format!("/clients/{id}/reset-secret"),
    ] {
        let (status, problem) = a.send(reqwest::Method::POST, &path, None).await;
        assert_eq!(status, 409, "{path}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("private_key_jwt")),
            "{problem}"
        );
    }
    let (_, secrets) = a
        .send(
            reqwest::Method::GET,
            &format!("/clients/{id}/secrets"),
            None,
        )
        .await;
    assert_eq!(secrets["items"], json!([]), "nothing was added: {secrets}");
    // A secret is no way in for it, whatever is sent.
    let res = s
        .token_request(
            Some((&id, "tsk_whatever")),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A client_id alone (no certificate) is no way in either.
    let res = s
        .token_request(
            None,
            &[("grant_type", "client_credentials"), ("client_id", &id)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn bad_settings_are_named_by_field_and_change_nothing() {
    let t = Tessera::new();
    let s = t.serve();
    let a = admin(&t, &s).await;
    let mut private = public_jwk();
    private["d"] = json!("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    let cases = [
        (
            json!({"name": "a", "token_endpoint_auth_method": "private_key_jwt"}),
            "jwks",
        ),
        (
            json!({"name": "a", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [private]}}),
            "jwks",
        ),
        (
            json!({"name": "a", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://127.0.0.1:9/jwks"}),
            "jwks_uri",
        ),
        (
            json!({"name": "a", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [public_jwk()]}, "token_endpoint_auth_signing_alg": "RS256"}),
            "jwks",
        ),
        (
            json!({"name": "a", "token_endpoint_auth_method": "tls_client_auth"}),
            "tls_client_auth_subject_dn",
        ),
        (
            json!({"name": "a", "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=a", "tls_client_auth_san_dns": "a.example"}),
            "tls_client_auth_san_dns",
        ),
        (
            json!({"name": "a", "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_ip": "not-an-ip"}),
            "tls_client_auth_san_ip",
        ),
        (
            json!({"name": "a", "token_endpoint_auth_method": "self_signed_tls_client_auth", "jwks": {"keys": [public_jwk()]}}),
            "jwks",
        ),
        (
            json!({"name": "a", "tls_client_auth_subject_dn": "CN=a"}),
            "tls_client_auth_subject_dn",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = a
            .send(reqwest::Method::POST, "/clients", Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body}: {problem}");
        let named = problem.to_string();
        assert!(
            named.contains(field),
            "{body}: {field} not named in {problem}"
        );
    }
    // An unknown method is a bad request naming it.
    let (status, problem) = a
        .send(
            reqwest::Method::POST,
            "/clients",
            Some(json!({"name": "a", "token_endpoint_auth_method": "none"})),
        )
        .await;
    assert!(matches!(status, 400 | 422), "{problem}");
    assert!(
        problem.to_string().contains("token_endpoint_auth_method"),
        "{problem}"
    );
    let (_, list) = a.send(reqwest::Method::GET, "/clients", None).await;
    assert_eq!(list["total"], 1, "only the root client exists: {list}");
}

#[tokio::test]
async fn leaving_secrets_deletes_them_and_coming_back_needs_a_new_one() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let s = t.serve();
    let a = admin(&t, &s).await;
    let (id, secret) = t.create_client("app", "orders:read");
    s.token(&id, &secret, &[]).await;
    let (status, patched) = a
        .send(
            reqwest::Method::PATCH,
            &format!("/clients/{id}"),
            Some(json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_subject_dn": "CN=app"})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["tls_client_auth_subject_dn"], "CN=app");
    let res = s
        .token_request(
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the old secret stopped at once"
    );
    let (_, secrets) = a
        .send(
            reqwest::Method::GET,
            &format!("/clients/{id}/secrets"),
            None,
        )
        .await;
    assert_eq!(secrets["items"], json!([]), "{secrets}");
    let (_, events) = a
        .send(
            reqwest::Method::GET,
            &format!("/audit-events?client_id={id}"),
            None,
        )
        .await;
    let update = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "client.updated")
        .cloned()
        .unwrap_or_else(|| panic!("no client.updated in {events}"));
    assert_eq!(
        update["details"]["token_endpoint_auth_method"],
        "tls_client_auth"
    );
    assert_eq!(update["details"]["secrets_deleted"], 1);
    // Back to secrets: the old one does not come back; a new one works.
    let (status, _) = a
        .send(
            reqwest::Method::PATCH,
            &format!("/clients/{id}"),
            Some(json!({"token_endpoint_auth_method": "client_secret_basic", "tls_client_auth_subject_dn": null})),
        )
        .await;
    assert_eq!(status, 200);
    let res = s
        .token_request(
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (status, added) = a
        .send(
            reqwest::Method::POST,
            &format!("/clients/{id}/secrets"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{added}");
    s.token(&id, added["client_secret"].as_str().unwrap(), &[])
        .await;
}

#[tokio::test]
async fn the_cli_sets_every_method() {
    let t = Tessera::new();
    let jwks = t.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [public_jwk()]}).to_string()).unwrap();
    let v = t.cli_json(&[
        "clients",
        "create",
        "--name",
        "signer",
        "--auth-method",
        "private_key_jwt",
        "--jwks",
        jwks.to_str().unwrap(),
        "--signing-alg",
        "ES256",
        "--dpop-bound",
        "true",
    ]);
    assert!(v.get("client_secret").is_none(), "{v}");
    assert_eq!(v["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(v["token_endpoint_auth_signing_alg"], "ES256");
    assert_eq!(v["dpop_bound_access_tokens"], true);
    let id = v["client_id"].as_str().unwrap();
    let v = t.cli_json(&[
        "clients",
        "update",
        id,
        "--auth-method",
        "tls_client_auth",
        "--tls-san-dns",
        "billing.example",
    ]);
    assert_eq!(v["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(v["tls_client_auth_san_dns"], "billing.example");
    assert!(
        v.get("jwks").is_none(),
        "a new method starts from its own settings: {v}"
    );
    assert_eq!(v["dpop_bound_access_tokens"], true, "kept");
    // Bad values are named, exit 2, and change nothing.
    let out = t.cli(&["clients", "update", id, "--auth-method", "password"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auth-method"));
    let out = t.cli(&["clients", "update", id, "--tls-san-ip", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls_client_auth_san_ip"));
    let v = t.cli_json(&["clients", "get", id]);
    assert_eq!(v["tls_client_auth_san_dns"], "billing.example");
}

#[tokio::test]
async fn discovery_lists_the_methods_and_algorithms() {
    let t = Tessera::new();
    let s = t.serve();
    let doc: Value = http()
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        let methods = doc[key].as_array().unwrap();
        for m in [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ] {
            assert!(methods.contains(&json!(m)), "{key}: {doc}");
        }
        // Without TLS or a trusted proxy's certificate header, no certificate can arrive.
        assert!(!methods.contains(&json!("tls_client_auth")), "{key}: {doc}");
    }
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "ES384", "EdDSA", "PS256", "RS256"])
    );
}

#[tokio::test]
async fn the_console_creates_and_edits_secretless_clients() {
    let t = Tessera::new();
    t.create_api("orders", ORDERS, "read");
    let s = t.serve();
    let (b, admin_id) =
        signed_in(&t, &s, "ada@example.com", "default", "owner", "orders:read").await;
    let csrf = b.csrf("/console/clients/new").await;
    let form = |jwks: &str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("name".to_owned(), "signer".to_owned()),
            ("project".to_owned(), "default".to_owned()),
            ("scope".to_owned(), "orders:read".to_owned()),
            (
                "token_endpoint_auth_method".to_owned(),
                "private_key_jwt".to_owned(),
            ),
            ("jwks".to_owned(), jwks.to_owned()),
            ("jwks_uri".to_owned(), String::new()),
            ("token_endpoint_auth_signing_alg".to_owned(), String::new()),
            (
                "tls_subject_kind".to_owned(),
                "tls_client_auth_subject_dn".to_owned(),
            ),
            ("tls_subject".to_owned(), String::new()),
        ]
    };
    // Not JSON: named beside the field, nothing created.
    let fields = form("{not json");
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = b.post("/console/clients", &pairs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        alerts(&html).contains("Public keys: is not JSON"),
        "{}",
        alerts(&html)
    );
    assert!(html.contains("{not json"), "what was typed is kept");
    // A private key: named too.
    let mut private = public_jwk();
    private["d"] = json!("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    let fields = form(&json!({"keys": [private]}).to_string());
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = b.post("/console/clients", &pairs).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        alerts(&html).contains("private member"),
        "{}",
        alerts(&html)
    );
    assert!(
        t.cli_json(&["clients", "list"])
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "signer"),
        "nothing was created"
    );
    // Right: no secret page; the client's page says how it authenticates.
    let fields = form(&json!({"keys": [public_jwk()]}).to_string());
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = b.post("/console/clients", &pairs).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = common::console::location(&res);
    assert!(
        to.starts_with("/console/clients/") && !to.ends_with("/secret"),
        "{to}"
    );
    let html = b.page(&to).await;
    assert!(
        html.contains("Private key JWT (signed assertion)"),
        "method shown"
    );
    assert!(html.contains("id=\"no-secrets\""), "no secrets section");
    assert!(!html.contains(">Reset secret<"), "nothing to reset");
    // Edit: switch to a CA-issued certificate with a DNS name; DPoP required.
    let id = to.trim_start_matches("/console/clients/").to_owned();
    let csrf = b.csrf(&to).await;
    let res = b
        .post(
            &to,
            &[
                ("csrf", &csrf),
                ("name", "signer"),
                ("scope", "orders:read"),
                ("token_endpoint_auth_method", "tls_client_auth"),
                ("jwks", ""),
                ("jwks_uri", ""),
                ("token_endpoint_auth_signing_alg", ""),
                ("tls_subject_kind", "tls_client_auth_san_dns"),
                ("tls_subject", "billing.example"),
                ("dpop_bound_access_tokens", "true"),
            ],
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let v = t.cli_json(&["clients", "get", &id]);
    assert_eq!(v["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(v["tls_client_auth_san_dns"], "billing.example");
    assert_eq!(v["dpop_bound_access_tokens"], true);
    assert!(v.get("jwks").is_none(), "{v}");
    // A bad IP address is named beside the certificate value.
    let res = b
        .post(
            &to,
            &[
                ("csrf", &csrf),
                ("name", "signer"),
                ("token_endpoint_auth_method", "tls_client_auth"),
                ("tls_subject_kind", "tls_client_auth_san_ip"),
                ("tls_subject", "300.1.1.1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        alerts(&html).contains("Certificate value:"),
        "{}",
        alerts(&html)
    );
    let v = t.cli_json(&["clients", "get", &id]);
    assert_eq!(v["tls_client_auth_san_dns"], "billing.example", "unchanged");
    // New keys are as sensitive as a new secret: past the re-authentication window, changing
    // them leads to the code prompt first and changes nothing; the name alone still saves.
    common::console::age_second_factor(&t, &admin_id, 60).await;
    let change = |dns: &'static str, name: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", name.to_owned()),
            ("scope", "orders:read".to_owned()),
            ("token_endpoint_auth_method", "tls_client_auth".to_owned()),
            ("tls_subject_kind", "tls_client_auth_san_dns".to_owned()),
            ("tls_subject", dns.to_owned()),
            ("dpop_bound_access_tokens", "true".to_owned()),
        ]
    };
    let form = change("attacker.example", "signer");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post(&to, &pairs).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        common::console::location(&res).starts_with("/console/reauth"),
        "{}",
        common::console::location(&res)
    );
    let v = t.cli_json(&["clients", "get", &id]);
    assert_eq!(v["tls_client_auth_san_dns"], "billing.example", "unchanged");
    let form = change("billing.example", "signer renamed");
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post(&to, &pairs).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(common::console::location(&res).ends_with("?notice=saved"));
    assert_eq!(
        t.cli_json(&["clients", "get", &id])["name"],
        "signer renamed"
    );
}
