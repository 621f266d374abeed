//! Operations over the real binary: key-encryption key sources and rotation (`keys rewrap`)
//! under load and across replicas, backup and restore, and crash safety (`kill -9` during key
//! rotation, a full disk under SQLite).
//!
//! Runs on SQLite, and on PostgreSQL when `TESSERA_TEST_POSTGRES_URL` is set; the backup tests
//! are SQLite's (PostgreSQL's recipe, `pg_dump -Fc` / `pg_restore`, has its own round trip).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Server, Tessera, http, jwt_parts, postgres_url};
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";
/// Fixed, so replicas on different ports, and a restored installation, issue and accept the
/// same tokens.
const ISSUER: &str = "https://auth.example.com";
const ADMIN_SCOPES: &str = "admin:read admin:write";

type Credentials = (String, String);

/// An installation with the `orders` API, an admin client and a worker client.
fn installation() -> (Tessera, Credentials, Credentials) {
    let mut t = Tessera::new();
    t.set("TESSERA__ISSUER", ISSUER);
    t.create_api("orders", ORDERS, "read,write");
    let admin = t.create_client("admin", ADMIN_SCOPES);
    let worker = t.create_client("worker", "orders:read");
    (t, admin, worker)
}

async fn access_token(s: &Server, (id, secret): &Credentials) -> String {
    s.token(id, secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn jwks_kids(s: &Server) -> BTreeSet<String> {
    let jwks: Value = http()
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies `token` with the `jsonwebtoken` crate against the JWKS `s` serves (its advertised
/// `jwks_uri` is under [`ISSUER`], which no test resolves), for [`ISSUER`] and `audience`.
async fn verify_with_jwks(s: &Server, token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(s.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).expect("JWT header");
    let kid = header.kid.clone().expect("kid in header");
    let jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS of {}", s.url));
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("usable JWK");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("token verifies against the JWKS")
        .claims
}

fn kid_of(token: &str) -> String {
    jwt_parts(token).0["kid"].as_str().unwrap().to_owned()
}

/// An admin API call with a bearer token and an optional JSON body.
async fn admin(
    s: &Server,
    bearer: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http()
        .request(method, s.url(&format!("/admin/v1{path}")))
        .bearer_auth(bearer);
    if let Some(body) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let resp = req.send().await.expect("admin request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Runs the CLI from inside a multi-threaded test without stalling the load tasks.
fn cli(t: &Tessera, args: &[&str]) -> Output {
    tokio::task::block_in_place(|| t.cli(args))
}

fn cli_json(t: &Tessera, args: &[&str]) -> Value {
    tokio::task::block_in_place(|| t.cli_json(args))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Token requests in a loop on several tasks until stopped; every answer but a token counts
/// as a failure.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<(u64, Vec<String>)>>,
}

impl Load {
    fn start(servers: &[&Server], (id, secret): &Credentials, workers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..workers)
            .map(|i| {
                let url = servers[i % servers.len()].url("/oauth2/token");
                let (id, secret, stop) = (id.clone(), secret.clone(), stop.clone());
                tokio::spawn(async move {
                    let client = http();
                    let (mut ok, mut failures) = (0u64, Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        let resp = client
                            .post(&url)
                            .basic_auth(&id, Some(&secret))
                            .form(&[("grant_type", "client_credentials")])
                            .send()
                            .await;
                        match resp {
                            Ok(r) if r.status() == 200 => match r.json::<Value>().await {
                                Ok(v) if v["access_token"].is_string() => ok += 1,
                                other => failures.push(format!("200 without a token: {other:?}")),
                            },
                            Ok(r) => failures.push(format!(
                                "{}: {}",
                                r.status(),
                                r.text().await.unwrap_or_default()
                            )),
                            Err(e) => failures.push(format!("transport: {e}")),
                        }
                    }
                    (ok, failures)
                })
            })
            .collect();
        Load { stop, tasks }
    }

    /// Stops the load; returns the tokens issued and the failures.
    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let (mut ok, mut failures) = (0, Vec::new());
        for task in self.tasks {
            let (n, f) = task.await.unwrap();
            ok += n;
            failures.extend(f);
        }
        (ok, failures)
    }
}

/// Waits until `check` holds, or panics with `what` after `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Key-encryption keys
// ---------------------------------------------------------------------------------------------

/// The whole rotation procedure of the README with two replicas: rewrap under load, a replica
/// restarted on the new KEK beside one still on the old KEK, a key rotated by the old one
/// loading on the new one, a second rewrap, and the old KEK finally removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kek_rotation_under_load_across_replicas() {
    let (mut a, admin_creds, worker) = installation();
    let ra = a.serve();
    let before = access_token(&ra, &worker).await;
    let old_kids = jwks_kids(&ra).await;
    let load = Load::start(&[&ra], &worker, 4);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1. Rewrap while A serves tokens.
    let new_kek = a.path().join("kek-2.jwk");
    let new_kek_arg = new_kek.display().to_string();
    let first = cli_json(&a, &["keys", "rewrap", "--new-kek", &new_kek_arg]);
    assert_eq!(first["created"], true, "{first}");
    assert_eq!(first["rewrapped"].as_u64(), Some(old_kids.len() as u64));
    #[cfg(unix)]
    assert_eq!(mode(&new_kek), 0o600, "the new KEK file must be owner-only");
    let jwk: Value = serde_json::from_slice(&std::fs::read(&new_kek).unwrap()).unwrap();
    assert_eq!(jwk["kty"], "oct");
    assert_eq!(jwk["kid"], first["kek_id"]);
    let new_id = first["kek_id"].as_str().unwrap().to_owned();
    let old_kek = a.path().join("keys/kek.jwk").display().to_string();

    // 2. Replica B starts on the new KEK (the old one as previous) while A, on the old one,
    // keeps serving.
    let mut b = a.sharing();
    b.set("TESSERA__KEYS__KEK_FILE", &new_kek_arg);
    b.set("TESSERA__KEYS__PREVIOUS_KEK_FILE", &old_kek);
    let rb = b.serve();
    assert_eq!(jwks_kids(&rb).await, old_kids, "B publishes the same keys");
    let from_b = access_token(&rb, &worker).await;
    verify_with_jwks(&ra, &from_b, ORDERS).await;
    verify_with_jwks(&rb, &before, ORDERS).await;

    // 3. A (old KEK) rotates at once: B must load that key too (sealed under the old KEK, its
    // previous one) and sign with it; A rebuilds its ring without decrypting
    // the rewrapped key it holds (it could not: that row is under the new KEK now).
    let admin_token = access_token(&ra, &admin_creds).await;
    let (status, rotated) = admin(
        &ra,
        &admin_token,
        reqwest::Method::POST,
        "/keys/rotate",
        Some(json!({"now": true})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let rotated_kid = rotated["kid"].as_str().unwrap().to_owned();
    for (name, s) in [("A", &ra), ("B", &rb)] {
        eventually(
            Duration::from_secs(10),
            &format!("{name} signs with the key A rotated"),
            || async { kid_of(&access_token(s, &worker).await) == rotated_kid },
        )
        .await;
    }
    let (issued, failures) = load.finish().await;
    assert!(failures.is_empty(), "failed token requests: {failures:?}");
    assert!(issued > 20, "only {issued} tokens under load");

    // 4. A restarts on the new KEK: same keys, earlier tokens verify.
    let published = jwks_kids(&rb).await;
    ra.stop();
    a.set("TESSERA__KEYS__KEK_FILE", &new_kek_arg);
    a.set("TESSERA__KEYS__PREVIOUS_KEK_FILE", &old_kek);
    let ra = a.serve();
    assert_eq!(jwks_kids(&ra).await, published);
    verify_with_jwks(&ra, &before, ORDERS).await;
    verify_with_jwks(&ra, &from_b, ORDERS).await;

    // 5. Every replica runs on the new KEK: rewrap again to reseal what A made meanwhile, then
    // the old KEK can go.
    let second = cli_json(&a, &["keys", "rewrap", "--new-kek", &new_kek_arg]);
    assert_eq!(second["created"], false);
    let before_second: u64 = second["previously_sealed_under"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(id, _)| **id != new_id)
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        before_second, 1,
        "one key was sealed under the old KEK: {second}"
    );
    drop((ra, rb));
    a.env
        .retain(|(k, _)| k != "TESSERA__KEYS__PREVIOUS_KEK_FILE");
    std::fs::rename(a.path().join("keys"), a.path().join("keys.retired")).unwrap();
    let ra = a.serve();
    assert_eq!(jwks_kids(&ra).await, published);
    let token = access_token(&ra, &worker).await;
    assert_eq!(kid_of(&token), rotated_kid);
    verify_with_jwks(&ra, &before, ORDERS).await;
}

/// The reverse direction while replicas disagree: a key made under the new KEK reaches a
/// replica that holds only the old one. It publishes it (verifiers may meet tokens it signs)
/// and keeps signing with the newest key it can open, instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_on_the_old_kek_publishes_what_it_cannot_open_and_keeps_signing() {
    let (a, admin_creds, worker) = installation();
    let ra = a.serve();
    let old_kid = kid_of(&access_token(&ra, &worker).await);
    let new_kek = a.path().join("kek-2.jwk").display().to_string();
    cli_json(&a, &["keys", "rewrap", "--new-kek", &new_kek]);
    let mut b = a.sharing();
    b.set("TESSERA__KEYS__KEK_FILE", &new_kek);
    let rb = b.serve();
    let admin_token = access_token(&rb, &admin_creds).await;
    let (status, rotated) = admin(
        &rb,
        &admin_token,
        reqwest::Method::POST,
        "/keys/rotate",
        Some(json!({"now": true})),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(10), "A publishes B's key", || async {
        jwks_kids(&ra).await.contains(&new_kid)
    })
    .await;
    let from_a = access_token(&ra, &worker).await;
    assert_eq!(kid_of(&from_a), old_kid, "A signs with the key it holds");
    verify_with_jwks(&rb, &from_a, ORDERS).await;
    let from_b = access_token(&rb, &worker).await;
    assert_eq!(kid_of(&from_b), new_kid);
    verify_with_jwks(&ra, &from_b, ORDERS).await;
    assert!(
        ra.log().contains("cannot be used for signing here"),
        "A says why"
    );
}

#[tokio::test]
async fn the_kek_from_the_environment_in_either_alphabet() {
    let (mut t, _, worker) = installation();
    // Bytes whose base64 holds '+' and '/', so the two alphabets differ.
    let key = [0xfb_u8, 0xff, 0xbf].repeat(11)[..32].to_vec();
    let standard = base64::engine::general_purpose::STANDARD.encode(&key);
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key);
    assert_ne!(standard, url_safe);
    t.set("TESSERA_KEK", &standard);
    let s = t.serve();
    let token = access_token(&s, &worker).await;
    let kids = jwks_kids(&s).await;
    s.stop();
    assert!(
        !t.path().join("keys/kek.jwk").exists(),
        "no kek.jwk is made when TESSERA_KEK gives the key"
    );
    t.set("TESSERA_KEK", &url_safe);
    let s = t.serve();
    assert_eq!(jwks_kids(&s).await, kids);
    verify_with_jwks(&s, &token, ORDERS).await;
    assert!(!s.log().contains(&standard) && !s.log().contains(&url_safe));
}

/// `tessera serve` with a bad key-encryption key: one `error:` line naming the source and
/// what is wrong, a non-zero exit, no key material.
#[tokio::test]
async fn a_wrong_or_missing_kek_stops_start_up_with_one_line() {
    let (mut t, _, _) = installation();
    t.serve().stop();
    let other = Tessera::on_sqlite();
    other.serve().stop();
    let other_kek = other.path().join("keys/kek.jwk");
    let other_k =
        serde_json::from_slice::<Value>(&std::fs::read(&other_kek).unwrap()).unwrap()["k"]
            .as_str()
            .unwrap()
            .to_owned();
    let missing = t.path().join("no-such-kek.jwk");
    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
    struct Case<'a> {
        var: &'a str,
        value: String,
        expect: &'a [&'a str],
        code: i32,
    }
    let cases = [
        Case {
            var: "TESSERA__KEYS__KEK_FILE",
            value: missing.display().to_string(),
            expect: &["keys.kek_file", "no-such-kek.jwk", "no such file"],
            code: 2,
        },
        Case {
            var: "TESSERA__KEYS__PREVIOUS_KEK_FILE",
            value: missing.display().to_string(),
            expect: &["keys.previous_kek_file", "no-such-kek.jwk", "no such file"],
            code: 2,
        },
        Case {
            var: "TESSERA_KEK",
            value: "not base64!".into(),
            expect: &["TESSERA_KEK", "not base64"],
            code: 2,
        },
        Case {
            var: "TESSERA_KEK",
            value: short.clone(),
            expect: &["TESSERA_KEK", "16 bytes, expected 32"],
            code: 2,
        },
        // Another installation's key: well-formed, but it opens none of these keys.
        Case {
            var: "TESSERA__KEYS__KEK_FILE",
            value: other_kek.display().to_string(),
            expect: &["cannot be decrypted", "keys.kek_file"],
            code: 1,
        },
        Case {
            var: "TESSERA_KEK",
            value: other_k.clone(),
            expect: &["cannot be decrypted", "TESSERA_KEK"],
            code: 1,
        },
    ];
    for case in cases {
        t.set(case.var, &case.value);
        let out = t.cli(&["serve"]);
        t.env.retain(|(key, _)| key != case.var);
        let err = stderr(&out);
        let what = format!("{}={}", case.var, case.value);
        assert_eq!(out.status.code(), Some(case.code), "{what}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: one line expected:\n{err}");
        assert!(lines[0].starts_with("error: "), "{err}");
        for word in case.expect {
            assert!(
                lines[0].contains(word),
                "{what}: {word:?} missing from {err}"
            );
        }
        for secret in [&other_k, &short] {
            assert!(
                !err.contains(secret.as_str()),
                "key material printed: {err}"
            );
        }
    }
    // The right key still works, and a failed start wrote nothing.
    t.serve().stop();
}

// ---------------------------------------------------------------------------------------------
// Backup and restore
// ---------------------------------------------------------------------------------------------

/// A client created through the admin API, with the times its creation was asked for and
/// answered.
struct Created {
    creds: Credentials,
    sent: Instant,
    at: Instant,
}

/// SQLite: a backup taken while clients are being created restores into a new installation
/// (same KEK file) where every client of the snapshot authenticates and every earlier token
/// verifies; the snapshot is consistent; the backup is private and keeps keys sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_writes_restores_into_a_new_installation() {
    let mut a = Tessera::on_sqlite();
    a.set("TESSERA__ISSUER", ISSUER);
    a.create_api("orders", ORDERS, "read,write");
    let admin_creds = a.create_client("admin", ADMIN_SCOPES);
    let ra = a.serve();
    let bearer = access_token(&ra, &admin_creds).await;

    // Clients created in a loop through the admin API, one token each.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (url, bearer, stop) = (ra.url(""), bearer.clone(), stop.clone());
        tokio::spawn(async move {
            let client = http();
            let mut created = Vec::new();
            let mut tokens = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let sent = Instant::now();
                let resp = client
                    .post(format!("{url}/admin/v1/clients"))
                    .bearer_auth(&bearer)
                    .json(&json!({"name": format!("load-{i}"), "scopes": ["orders:read"]}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
                let v: Value = resp.json().await.unwrap();
                let creds = (
                    v["client_id"].as_str().unwrap().to_owned(),
                    v["client_secret"].as_str().unwrap().to_owned(),
                );
                created.push(Created {
                    creds: creds.clone(),
                    sent,
                    at: Instant::now(),
                });
                if i % 5 == 1 {
                    let token: Value = client
                        .post(format!("{url}/oauth2/token"))
                        .basic_auth(&creds.0, Some(&creds.1))
                        .form(&[("grant_type", "client_credentials")])
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    tokens.push(token["access_token"].as_str().unwrap().to_owned());
                }
            }
            (created, tokens)
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let file = a.path().join("backups/tessera-1.db");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let file_arg = file.display().to_string();
    let started = Instant::now();
    let report = cli_json(&a, &["backup", "--to", &file_arg]);
    let ended = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    let (created, tokens) = writer.await.unwrap();
    assert!(
        created.iter().filter(|c| c.at < started).count() >= 3,
        "too few clients before the backup"
    );
    assert!(
        created.iter().any(|c| c.sent > ended),
        "no write after the backup"
    );

    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600, "the backup must be owner-only");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(report["bytes"].as_u64(), Some(bytes.len() as u64));
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("\"d\":"),
        "a private JWK member in the clear"
    );
    for c in &created {
        assert!(!text.contains(&c.creds.1), "a client secret in the clear");
    }
    let secrets: Vec<String> = common::leaks(&text)
        .into_iter()
        .filter(|l| l.starts_with("secret"))
        .collect();
    assert!(secrets.is_empty(), "{secrets:?}");
    assert!(
        text.contains("A256GCM") || text.contains("eyJ"),
        "sealed keys present"
    );
    // Never overwritten.
    let again = cli(&a, &["backup", "--to", &file_arg]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    assert_eq!(std::fs::read(&file).unwrap(), bytes);

    // Restore refuses while a server uses the database, and changes nothing.
    let refused = cli(&a, &["restore", "--from", &file_arg]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let why = stderr(&refused);
    assert!(why.contains("in use") && why.contains(".lock"), "{why}");
    let (status, page) = admin(&ra, &bearer, reqwest::Method::GET, "/clients?limit=1", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        page["total"].as_u64(),
        Some(created.len() as u64 + 1),
        "a refused restore changes nothing"
    );

    // A new installation, same KEK file, restored from the backup.
    let mut n = Tessera::on_sqlite();
    n.set("TESSERA__ISSUER", ISSUER);
    n.set(
        "TESSERA__KEYS__KEK_FILE",
        &a.path().join("keys/kek.jwk").display().to_string(),
    );
    let restored = n.cli_json(&["restore", "--from", &file_arg]);
    assert_eq!(restored["replaced"], Value::Null);
    assert_eq!(restored["clients"], report["clients"]);
    #[cfg(unix)]
    assert_eq!(mode(&n.path().join("tessera.db")), 0o600);
    let rn = n.serve();
    let listed: BTreeSet<String> = n
        .cli_json(&["clients", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(Some(listed.len() as u64), report["clients"].as_u64());
    // Consistent: everything answered before the backup began, nothing asked for after it
    // ended, and whatever it holds works.
    for c in &created {
        let present = listed.contains(&c.creds.0);
        if c.at < started {
            assert!(present, "client {} (before the backup) missing", c.creds.0);
        }
        if c.sent > ended {
            assert!(!present, "client {} (after the backup) present", c.creds.0);
        }
        if present {
            access_token(&rn, &c.creds).await;
        }
    }
    access_token(&rn, &admin_creds).await;
    for token in &tokens {
        let kid = kid_of(token);
        assert!(jwks_kids(&rn).await.contains(&kid));
        verify_with_jwks(&rn, token, ORDERS).await;
    }

    // Restoring over an installation: allowed once its server is stopped; the old database
    // moves aside with its WAL.
    ra.stop();
    let over = a.cli_json(&["restore", "--from", &file_arg]);
    let replaced = PathBuf::from(over["replaced"].as_str().unwrap());
    assert!(replaced.exists());
    assert!(!a.path().join("tessera.db-wal").exists());
    assert!(!a.path().join("tessera.db-shm").exists());
    let ra = a.serve();
    access_token(&ra, &admin_creds).await;
}

#[tokio::test]
async fn restore_refuses_what_is_not_a_tessera_backup() {
    let t = Tessera::on_sqlite();
    t.cli_json(&["clients", "list"]);
    let junk = t.path().join("junk.db");
    std::fs::write(&junk, b"SQLite format 3\0 but not really").unwrap();
    let out = t.cli(&["restore", "--from", &junk.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a Tessera database"));
    let text = t.path().join("notes.txt");
    std::fs::write(&text, b"hello").unwrap();
    let out = t.cli(&["restore", "--from", &text.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a SQLite database"));
    // The database is untouched.
    t.cli_json(&["clients", "list"]);
}

#[tokio::test]
async fn backup_on_postgresql_points_to_pg_dump() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: TESSERA_TEST_POSTGRES_URL is not set");
        return;
    };
    let t = Tessera::on_postgres(&url);
    t.cli_json(&["clients", "list"]);
    let file = t.path().join("b.db").display().to_string();
    for args in [["backup", "--to", &file], ["restore", "--from", &file]] {
        let out = t.cli(&args);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains("SQLite only") && err.contains("pg_"), "{err}");
    }
}

fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// PostgreSQL: the README's recipe (`pg_dump -Fc`, `pg_restore` into a new database) round-trips.
#[tokio::test]
async fn pg_dump_and_pg_restore_round_trip() {
    let Some(url) = postgres_url() else {
        eprintln!("skipped: TESSERA_TEST_POSTGRES_URL is not set");
        return;
    };
    if !tool("pg_dump") || !tool("pg_restore") {
        eprintln!("skipped: pg_dump or pg_restore not installed");
        return;
    }
    let (t, admin_creds, worker) = {
        let mut t = Tessera::on_postgres(&url);
        t.set("TESSERA__ISSUER", ISSUER);
        t.create_api("orders", ORDERS, "read,write");
        let admin = t.create_client("admin", ADMIN_SCOPES);
        let worker = t.create_client("worker", "orders:read");
        (t, admin, worker)
    };
    let mut clients: Vec<Credentials> = (0..5)
        .map(|i| t.create_client(&format!("c{i}"), "orders:read"))
        .collect();
    clients.extend([admin_creds, worker.clone()]);
    let s = t.serve();
    let before = access_token(&s, &worker).await;
    s.stop();

    let dump = t.path().join("tessera.dump");
    let source = &t.postgres.as_ref().unwrap().url;
    let out = Command::new("pg_dump")
        .args(["-Fc", "-f", &dump.display().to_string(), source])
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_dump: {}", stderr(&out));
    let target = common::PostgresDb::create(&url);
    let out = Command::new("pg_restore")
        .args(["--no-owner", "--exit-on-error", "-d", &target.url])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(out.status.success(), "pg_restore: {}", stderr(&out));

    let mut n = Tessera::on_sqlite();
    n.set("TESSERA__ISSUER", ISSUER);
    n.set("TESSERA__DATABASE__URL", &target.url);
    n.set(
        "TESSERA__KEYS__KEK_FILE",
        &t.path().join("keys/kek.jwk").display().to_string(),
    );
    let rn = n.serve();
    for c in &clients {
        access_token(&rn, c).await;
    }
    verify_with_jwks(&rn, &before, ORDERS).await;
    drop(rn);
    drop(target);
}

// ---------------------------------------------------------------------------------------------
// Crash safety
// ---------------------------------------------------------------------------------------------

/// `kill -9` while key rotations are in flight, several times: each restart finds a key set
/// where every key opens, exactly one key signs, the JWKS publishes every unretired key, and
/// every rotated key has its audit event (a rotation is all or nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_key_rotation_leaves_a_consistent_key_set() {
    let (t, admin_creds, worker) = installation();
    let kek = t.path().join("keys/kek.jwk").display().to_string();
    let mut answered_total = 0;
    for round in 0..5u64 {
        let s = t.serve();
        let bearer = access_token(&s, &admin_creds).await;
        // Rotations back to back on two connections, so the kill lands in the middle of one.
        let rotations: Vec<_> = (0..2)
            .map(|i| {
                let (url, bearer) = (s.url("/admin/v1/keys/rotate"), bearer.clone());
                tokio::spawn(async move {
                    let client = http();
                    let mut answered = 0;
                    loop {
                        let sent = client
                            .post(&url)
                            .bearer_auth(&bearer)
                            .json(&json!({"now": (answered + i) % 2 == 0}))
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status() == 200 => answered += 1,
                            Ok(r) => panic!("rotation answered {}", r.status()),
                            Err(_) => return answered,
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(40 + 37 * round)).await;
        s.stop(); // SIGKILL
        for r in rotations {
            answered_total += r.await.unwrap();
        }

        let s = t
            .try_serve()
            .unwrap_or_else(|log| panic!("round {round}: no restart after kill -9:\n{log}"));
        let keys = cli_json(&t, &["keys", "list"]);
        let keys = keys.as_array().unwrap();
        let state = |k: &Value| k["state"].as_str().unwrap().to_owned();
        assert!(
            keys.iter()
                .all(|k| ["next", "signing", "verifying", "retired"].contains(&state(k).as_str())),
            "{keys:?}"
        );
        assert_eq!(
            keys.iter().filter(|k| state(k) == "signing").count(),
            1,
            "round {round}: {keys:?}"
        );
        let unretired: BTreeSet<String> = keys
            .iter()
            .filter(|k| state(k) != "retired")
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(jwks_kids(&s).await, unretired, "round {round}");
        let signing = keys.iter().find(|k| state(k) == "signing").unwrap();
        let token = access_token(&s, &worker).await;
        assert_eq!(kid_of(&token), signing["kid"].as_str().unwrap());
        verify_with_jwks(&s, &token, ORDERS).await;
        // Every stored key opens: rewrapping under the same KEK touches each one.
        let rewrap = cli_json(&t, &["keys", "rewrap", "--new-kek", &kek]);
        assert_eq!(rewrap["rewrapped"].as_u64(), Some(keys.len() as u64));
        // No key without its audit event, no event without its key.
        let bearer = access_token(&s, &admin_creds).await;
        let (status, events) = admin(
            &s,
            &bearer,
            reqwest::Method::GET,
            "/audit-events?type=key.rotated&limit=1000",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            events["total"].as_u64(),
            Some(keys.len() as u64 - 1),
            "round {round}: every key but the first comes from a rotation"
        );
        s.stop();
    }
    assert!(answered_total > 0, "no rotation finished before a kill");
}

/// A tmpfs of its own, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(path.to_owned()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

/// Fills the file system holding `path` with `path` until a write fails.
fn fill(path: &Path) {
    use std::io::Write;
    // Appends, so it can be called again to take whatever SQLite gave back.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).and_then(|_| f.sync_data()).is_ok() {}
    // Whatever the last partial chunk left: byte by byte.
    while f.write_all(&[0]).and_then(|_| f.sync_data()).is_ok() {}
}

async fn create_client(s: &Server, bearer: &str, name: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, body) = admin(
        s,
        bearer,
        reqwest::Method::POST,
        "/clients",
        Some(json!({"name": name, "scopes": ["orders:read"]})),
    )
    .await;
    (status, body, started.elapsed())
}

/// SQLite on a full disk: admin writes get a `503` problem (not a hang, not a crash, not a lock
/// held for good by a connection SQLite rolled back under sqlx), clients
/// already verified keep getting tokens, and writes work again once space is freed.
#[tokio::test]
async fn sqlite_on_a_full_disk_refuses_writes_and_keeps_issuing_tokens() {
    let holder = tempfile::tempdir().unwrap();
    let mount = match Tmpfs::mount(&holder.path().join("disk"), "16m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs to fill ({why})");
            return;
        }
    };
    let mut t = Tessera::on_sqlite();
    t.set(
        "TESSERA__DATABASE__URL",
        &format!("sqlite://{}/tessera.db?mode=rwc", mount.0.display()),
    );
    t.create_api("orders", ORDERS, "read,write");
    let admin_creds = t.create_client("admin", ADMIN_SCOPES);
    let worker = t.create_client("worker", "orders:read");
    let mut s = t.serve();
    let bearer = access_token(&s, &admin_creds).await;
    access_token(&s, &worker).await;
    assert_eq!(create_client(&s, &bearer, "before").await.0, 201);

    let filler = mount.0.join("filler");
    // A write may still fit in space SQLite already holds (a WAL restarted after a checkpoint
    // overwrites its own frames), so a success is not a failure of the test; what must never
    // happen is a hang, a crash or an answer that is not a problem. Writes go on until the disk
    // has refused a few, refilling before each in case a rollback gave blocks back.
    let mut refused = 0;
    for i in 0..40 {
        fill(&filler);
        let (status, body, took) = create_client(&s, &bearer, &format!("full-{i}")).await;
        assert!(took < Duration::from_secs(15), "took {took:?}");
        match status {
            201 => {}
            503 | 507 => {
                assert!(
                    body["type"].as_str().is_some(),
                    "a problem document: {body}"
                );
                refused += 1;
            }
            _ => panic!("write on a full disk: {status} {body}\n{}", s.log()),
        }
        // Clients already verified keep getting tokens.
        access_token(&s, &worker).await;
        access_token(&s, &admin_creds).await;
        if refused == 3 {
            break;
        }
    }
    assert_eq!(refused, 3, "a full disk refused too few writes");
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "the server exited on a full disk"
    );

    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body, _) = create_client(&s, &bearer, "after").await;
        if status == 201 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes never recovered: {status} {body}\n{}",
            s.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    access_token(&s, &worker).await;
    // Stopped before the file system goes.
    s.stop();
    drop(mount);
}
