//! Two `tessera serve` replicas on one database (the SQLite file, or a PostgreSQL database
//! when the suite runs on PostgreSQL): a change made through one replica reaches the other
//! within the propagation bound, scheduled rotation happens once, and killing a replica loses
//! nothing it committed.

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, Tessera, http, jwt_parts};
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

const ORDERS: &str = "https://api.example.com/orders";
/// Fixed, so both replicas (on different ports) issue and accept the same tokens and agree
/// on the admin audience.
const ISSUER: &str = "https://auth.example.com";
const ADMIN_SCOPES: &str = "admin:read admin:write";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// The contract: a change through one replica is seen by the others within 1 s. Tests allow
/// half a second more for a loaded two-core CI machine.
const BOUND: Duration = Duration::from_millis(1500);
/// How long a propagation is waited for before giving up (so a failure reports the delay).
const GIVE_UP: Duration = Duration::from_secs(10);
/// Poll interval while waiting for a change to show.
const POLL: Duration = Duration::from_millis(25);

type Credentials = (String, String);

/// Two replicas of one installation. Fields drop in order: servers first, then the
/// installation that owns the database.
struct Replicas {
    ra: Server,
    rb: Server,
    /// Replica B's installation (its temp dir), kept for the test's length.
    _b: Tessera,
    a: Tessera,
    admin: Credentials,
    /// Holds `orders:read`.
    worker: Credentials,
    /// Another client, used to introspect.
    gateway: Credentials,
}

/// The installation for replica A (with `env` set), its API and clients, and replica B's
/// installation sharing its database and keys.
fn installations(
    env: &[(&str, &str)],
) -> (Tessera, Tessera, Credentials, Credentials, Credentials) {
    let mut a = Tessera::new();
    a.set("TESSERA__ISSUER", ISSUER);
    for (k, v) in env {
        a.set(k, v);
    }
    a.create_api("orders", ORDERS, "read,write");
    let admin = a.create_client("admin", ADMIN_SCOPES);
    let worker = a.create_client("worker", "orders:read");
    let gateway = a.create_client("gateway", "orders:read");
    let b = a.sharing();
    (a, b, admin, worker, gateway)
}

/// Starts A, then B.
fn replicas(env: &[(&str, &str)]) -> Replicas {
    let (a, b, admin, worker, gateway) = installations(env);
    let ra = a.serve();
    let rb = b.serve();
    Replicas {
        ra,
        rb,
        _b: b,
        a,
        admin,
        worker,
        gateway,
    }
}

async fn access_token(s: &Server, (id, secret): &Credentials) -> String {
    s.token(id, secret, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Status and JSON body of a client-credentials token request.
async fn token_attempt(s: &Server, (id, secret): &Credentials) -> (u16, Value) {
    let resp = s
        .token_request(Some((id, secret)), &[("grant_type", "client_credentials")])
        .await;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// An admin API call with a bearer token; `body` is `(content type, JSON)`.
async fn admin_call(
    s: &Server,
    bearer: &str,
    method: Method,
    path: &str,
    body: Option<(&str, Value)>,
) -> (u16, Value) {
    let mut req = http()
        .request(method, s.url(&format!("/admin/v1{path}")))
        .bearer_auth(bearer);
    if let Some((content_type, body)) = body {
        req = req
            .header(CONTENT_TYPE, content_type)
            .body(body.to_string());
    }
    let resp = req.send().await.expect("admin request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `POST path` with a form body and Basic credentials.
async fn post_form(
    s: &Server,
    path: &str,
    caller: &Credentials,
    form: &[(&str, &str)],
) -> (u16, String) {
    let resp = http()
        .post(s.url(path))
        .basic_auth(&caller.0, Some(&caller.1))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// RFC 7662 introspection of `token` on `s`, authenticated as `caller`.
async fn introspect(s: &Server, caller: &Credentials, token: &str) -> Value {
    let (status, body) = post_form(s, "/oauth2/introspect", caller, &[("token", token)]).await;
    assert_eq!(status, 200, "introspection: {body}");
    serde_json::from_str(&body).expect("introspection JSON")
}

async fn jwks_kids(s: &Server) -> Vec<String> {
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
        .expect("keys array")
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Verifies `token` with the `jsonwebtoken` crate against `s`'s own JWKS (the fixed issuer
/// does not resolve, so discovery's `jwks_uri` cannot be followed).
async fn verify_against(s: &Server, token: &str) {
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
    let jwk = jwks.find(&kid).expect("kid present in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("usable JWK");
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[ORDERS]);
    validation.set_issuer(&[ISSUER]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("token verifies against the JWKS");
}

fn kid_of(token: &str) -> String {
    jwt_parts(token).0["kid"].as_str().expect("kid").to_owned()
}

/// Polls `probe` every [`POLL`] until it holds; asserts that took at most [`BOUND`] (counted
/// from now, i.e. from just after the change was acknowledged) and returns the delay.
async fn propagated<F, Fut>(what: &str, mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if probe().await {
            let delay = start.elapsed();
            eprintln!("replicas: {what}: seen after {} ms", delay.as_millis());
            assert!(
                delay <= BOUND,
                "{what}: seen after {} ms, more than the {} ms bound",
                delay.as_millis(),
                BOUND.as_millis()
            );
            return delay;
        }
        assert!(
            start.elapsed() < GIVE_UP,
            "{what}: not seen after {} s",
            GIVE_UP.as_secs()
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Sleeps until the wall clock has just entered a new second (cutoffs are whole seconds).
async fn next_second() {
    let into = chrono::Utc::now().timestamp_subsec_millis() as u64;
    tokio::time::sleep(Duration::from_millis(1000 - into + 20)).await;
}

#[tokio::test]
async fn disabling_on_one_replica_stops_tokens_on_the_other() {
    let f = replicas(&[]);
    let bearer = access_token(&f.ra, &f.admin).await;
    // B has verified (and cached) the worker's credential.
    for _ in 0..2 {
        assert_eq!(token_attempt(&f.rb, &f.worker).await.0, 200);
    }
    let (status, body) = admin_call(
        &f.ra,
        &bearer,
        Method::PATCH,
        &format!("/clients/{}", f.worker.0),
        Some((MERGE_PATCH, json!({"enabled": false}))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false, "{body}");
    // A itself refuses at once.
    assert_eq!(token_attempt(&f.ra, &f.worker).await.0, 401);
    propagated("disable through A refused on B", || async {
        let (status, body) = token_attempt(&f.rb, &f.worker).await;
        if status == 200 {
            return false;
        }
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client", "{body}");
        true
    })
    .await;
    // And stays refused.
    assert_eq!(token_attempt(&f.rb, &f.worker).await.0, 401);
    // Enabling again through B is seen by A.
    let bearer_b = access_token(&f.rb, &f.admin).await;
    let (status, body) = admin_call(
        &f.rb,
        &bearer_b,
        Method::PATCH,
        &format!("/clients/{}", f.worker.0),
        Some((MERGE_PATCH, json!({"enabled": true}))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    propagated("enable through B accepted on A", || async {
        token_attempt(&f.ra, &f.worker).await.0 == 200
    })
    .await;
}

#[tokio::test]
async fn a_secret_reset_on_one_replica_stops_the_old_secret_on_the_other() {
    let f = replicas(&[]);
    let bearer = access_token(&f.ra, &f.admin).await;
    for _ in 0..2 {
        assert_eq!(token_attempt(&f.rb, &f.worker).await.0, 200);
    }
    let (status, body) = admin_call(
        &f.ra,
        &bearer,
        Method::POST,
        &format!("/clients/{}/reset-secret", f.worker.0),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new_secret = body["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_owned();
    assert_ne!(new_secret, f.worker.1);
    let renewed = (f.worker.0.clone(), new_secret);
    propagated("old secret refused on B after reset through A", || async {
        let (status, body) = token_attempt(&f.rb, &f.worker).await;
        if status == 200 {
            return false;
        }
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"], "invalid_client", "{body}");
        true
    })
    .await;
    assert_eq!(token_attempt(&f.rb, &f.worker).await.0, 401);
    let (status, body) = token_attempt(&f.rb, &renewed).await;
    assert_eq!(status, 200, "new secret on B: {body}");
    assert_eq!(token_attempt(&f.ra, &renewed).await.0, 200);
    assert_eq!(token_attempt(&f.ra, &f.worker).await.0, 401);
}

#[tokio::test]
async fn revocation_on_one_replica_is_seen_by_the_others_introspection() {
    let f = replicas(&[]);
    let token = access_token(&f.ra, &f.worker).await;
    let sibling = access_token(&f.ra, &f.worker).await;
    let answer = introspect(&f.rb, &f.gateway, &token).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], f.worker.0.as_str(), "{answer}");

    // One token, revoked by its own client through A.
    let (status, body) = post_form(&f.ra, "/oauth2/revoke", &f.worker, &[("token", &token)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        introspect(&f.ra, &f.gateway, &token).await,
        json!({"active": false})
    );
    propagated("revoked token inactive on B", || async {
        let answer = introspect(&f.rb, &f.gateway, &token).await;
        if answer["active"] == true {
            return false;
        }
        assert_eq!(answer, json!({"active": false}));
        true
    })
    .await;
    // Only that token.
    assert_eq!(
        introspect(&f.rb, &f.gateway, &sibling).await["active"],
        true
    );

    // Every token of the client, through A's admin API.
    let bearer = access_token(&f.ra, &f.admin).await;
    let before = [
        access_token(&f.ra, &f.worker).await,
        access_token(&f.rb, &f.worker).await,
    ];
    for t in &before {
        assert_eq!(introspect(&f.rb, &f.gateway, t).await["active"], true);
    }
    next_second().await;
    let (status, body) = admin_call(
        &f.ra,
        &bearer,
        Method::POST,
        &format!("/clients/{}/revoke-tokens", f.worker.0),
        None,
    )
    .await;
    let called = Instant::now();
    assert_eq!(status, 200, "{body}");
    let cutoff = chrono::DateTime::parse_from_rfc3339(
        body["revoked_before"].as_str().expect("revoked_before"),
    )
    .expect("RFC 3339 time")
    .timestamp();
    for t in &before {
        assert!(jwt_parts(t).1["iat"].as_i64().unwrap() <= cutoff);
    }
    propagated(
        "client's tokens inactive on B after revoke-tokens on A",
        || async {
            for t in &before {
                if introspect(&f.rb, &f.gateway, t).await["active"] != false {
                    return false;
                }
            }
            true
        },
    )
    .await;
    assert_eq!(
        introspect(&f.rb, &f.gateway, &sibling).await["active"],
        false
    );

    // The client keeps its secrets: a token issued on B after the cutoff second is active.
    let wait = Duration::from_millis(1100).saturating_sub(called.elapsed());
    tokio::time::sleep(wait).await;
    while chrono::Utc::now().timestamp() <= cutoff {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = access_token(&f.rb, &f.worker).await;
    assert!(jwt_parts(&after).1["iat"].as_i64().unwrap() > cutoff);
    let answer = introspect(&f.rb, &f.gateway, &after).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(introspect(&f.ra, &f.gateway, &after).await["active"], true);
}

#[tokio::test]
async fn a_rotation_on_one_replica_is_published_by_the_other_before_it_signs() {
    // One-second JWKS lifetime: the next key signs about six seconds after rotation.
    let f = replicas(&[("TESSERA__KEYS__JWKS_MAX_AGE_SECONDS", "1")]);
    let bearer = access_token(&f.ra, &f.admin).await;
    let first = access_token(&f.rb, &f.worker).await;
    let old_kid = kid_of(&first);
    assert_eq!(jwks_kids(&f.ra).await, vec![old_kid.clone()]);
    assert_eq!(jwks_kids(&f.rb).await, vec![old_kid.clone()]);

    let (status, rotated) = admin_call(&f.ra, &bearer, Method::POST, "/keys/rotate", None).await;
    let rotated_at = Instant::now();
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["state"], "next", "{rotated}");
    let new_kid = rotated["kid"].as_str().expect("kid").to_owned();
    assert_ne!(new_kid, old_kid);

    let deadline = rotated_at + Duration::from_secs(20);
    let mut on_a: Option<Duration> = None;
    let mut on_b: Option<Duration> = None;
    let mut signed_by_new: Vec<(char, String)> = Vec::new();
    let mut tokens = 0;
    while signed_by_new.iter().filter(|(r, _)| *r == 'A').count() == 0
        || signed_by_new.iter().filter(|(r, _)| *r == 'B').count() == 0
    {
        assert!(
            Instant::now() < deadline,
            "the new key did not sign on both replicas within 20 s (A published after {on_a:?}, \
             B after {on_b:?}; new-key tokens so far: {:?})",
            signed_by_new.iter().map(|(r, _)| *r).collect::<Vec<_>>()
        );
        for (name, server, seen) in [('A', &f.ra, &mut on_a), ('B', &f.rb, &mut on_b)] {
            let kids = jwks_kids(server).await;
            if kids.contains(&new_kid) {
                assert!(
                    kids.contains(&old_kid),
                    "{name} dropped the old key: {kids:?}"
                );
                seen.get_or_insert_with(|| rotated_at.elapsed());
            } else {
                assert!(
                    seen.is_none(),
                    "{name} published the new key, then stopped publishing it: {kids:?}"
                );
            }
        }
        for (name, server) in [('A', &f.ra), ('B', &f.rb)] {
            let token = access_token(server, &f.worker).await;
            tokens += 1;
            let kid = kid_of(&token);
            if kid == new_kid {
                assert!(
                    on_a.is_some() && on_b.is_some(),
                    "{name} signed with the new key {:?} after rotation, before both replicas \
                     published it (A after {on_a:?}, B after {on_b:?})",
                    rotated_at.elapsed()
                );
                signed_by_new.push((name, token));
            } else {
                assert_eq!(kid, old_kid, "{name} signed with an unknown key");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let on_a = on_a.unwrap();
    let on_b = on_b.unwrap();
    eprintln!(
        "replicas: rotation through A published by A after {} ms, by B after {} ms; the new \
         key first signed after {} ms ({tokens} tokens checked)",
        on_a.as_millis(),
        on_b.as_millis(),
        rotated_at.elapsed().as_millis()
    );
    assert!(
        on_b <= BOUND,
        "B published the rotated key after {} ms, more than the {} ms bound",
        on_b.as_millis(),
        BOUND.as_millis()
    );
    assert!(on_a <= BOUND, "A published its own rotation after {on_a:?}");
    // Each replica's new-key tokens verify against the other replica's JWKS, and old ones too.
    for (name, token) in &signed_by_new {
        let other = if *name == 'A' { &f.rb } else { &f.ra };
        verify_against(other, token).await;
    }
    verify_against(&f.ra, &first).await;
    verify_against(&f.rb, &first).await;
    // Exactly the one rotation happened.
    let keys = f.a.cli_json(&["keys", "list"]);
    assert_eq!(keys.as_array().unwrap().len(), 2, "{keys}");
}

#[tokio::test]
async fn automatic_rotation_happens_once_with_two_replicas() {
    // Pre-publication is 1 + 5 s, so a rotation is due 2 s after the first key activates; the
    // successor signs 8 s after the first key, and the next rotation is due 2 s after that.
    let (a, b, admin, worker, _) = installations(&[
        ("TESSERA__KEYS__JWKS_MAX_AGE_SECONDS", "1"),
        ("TESSERA__KEYS__ROTATE_AFTER", "8s"),
    ]);
    // Both start at once.
    let (ra, rb) = std::thread::scope(|scope| {
        let ha = scope.spawn(|| a.serve());
        let hb = scope.spawn(|| b.serve());
        (ha.join().unwrap(), hb.join().unwrap())
    });
    let started = Instant::now();
    // Every problem is collected, so one run reports all of them.
    let mut problems: Vec<String> = Vec::new();
    let key_states = || -> Vec<(String, String)> {
        a.cli_json(&["keys", "list"])
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["kid"].as_str().unwrap().to_owned(),
                    k["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let initial = key_states();
    if initial.len() != 1 {
        problems.push(format!(
            "two replicas starting at once on a new database made {} first keys: {initial:?}",
            initial.len()
        ));
    }
    let initial_kids: Vec<String> = initial.into_iter().map(|(kid, _)| kid).collect();

    let deadline = started + Duration::from_secs(20);
    let new_kid = loop {
        let published = jwks_kids(&ra).await;
        if let Some(k) = published.iter().find(|k| !initial_kids.contains(k)) {
            break k.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no automatic rotation within 20 s; problems so far: {problems:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "replicas: automatic rotation published after {} ms",
        started.elapsed().as_millis()
    );
    // Both replicas had time to run their rotation check (every second) after it was due.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let checked_after = started.elapsed().as_millis();

    let states = key_states();
    let rotated: Vec<&(String, String)> = states
        .iter()
        .filter(|(kid, _)| !initial_kids.contains(kid))
        .collect();
    if rotated.len() != 1 {
        problems.push(format!(
            "{} keys made by scheduled rotation, expected exactly one (checked {checked_after} \
             ms after start): {states:?}",
            rotated.len()
        ));
    }
    if !rotated.iter().any(|(kid, _)| *kid == new_kid) {
        problems.push(format!("published key {new_kid} not listed: {states:?}"));
    }
    let count = |state: &str| states.iter().filter(|(_, s)| s == state).count();
    // Before the successor signs: one signing, one next; if the check ran late, the
    // successor signs and the first key verifies. Never two of a kind.
    if count("signing") != 1 || count("next") > 1 {
        problems.push(format!(
            "inconsistent key states (checked {checked_after} ms after start): {states:?}"
        ));
    }
    let published_by_b = jwks_kids(&rb).await;
    if !published_by_b.contains(&new_kid) {
        problems.push(format!("B does not publish {new_kid}: {published_by_b:?}"));
    }
    // Both replicas sign with the same key.
    let kid_a = kid_of(&access_token(&ra, &worker).await);
    let kid_b = kid_of(&access_token(&rb, &worker).await);
    if kid_a != kid_b {
        problems.push(format!("A signs with {kid_a}, B with {kid_b}"));
    }

    let bearer = access_token(&rb, &admin).await;
    let (status, events) = admin_call(
        &rb,
        &bearer,
        Method::GET,
        "/audit-events?type=key.rotated",
        None,
    )
    .await;
    assert_eq!(status, 200, "{events}");
    let items = events["items"].as_array().expect("items");
    assert!(items.iter().all(|e| e["type"] == "key.rotated"), "{events}");
    if items.len() != 1 || items[0]["target"] != new_kid.as_str() {
        problems.push(format!(
            "expected exactly one key.rotated event, for {new_kid}: {events}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn killing_a_replica_mid_writes_loses_nothing_committed() {
    let mut f = replicas(&[]);
    let bearer = access_token(&f.ra, &f.admin).await;
    let created: Arc<Mutex<Vec<Credentials>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    // Two writers in tight loops: a write is nearly always in flight when A dies, and
    // concurrent writes must wait their turn on SQLite rather than fail "database is locked".
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let url = f.ra.url("/admin/v1/clients");
            let bearer = bearer.clone();
            let created = created.clone();
            let failures = failures.clone();
            tokio::spawn(async move {
                let client = http();
                for n in 0.. {
                    let resp = client
                        .post(&url)
                        .bearer_auth(&bearer)
                        .json(&json!({"name": format!("c{w}-{n}"), "scopes": ["orders:read"]}))
                        .send()
                        .await;
                    // A connection error: A is gone.
                    let Ok(resp) = resp else { break };
                    let status = resp.status().as_u16();
                    let Ok(text) = resp.text().await else { break };
                    if status != 201 {
                        failures.lock().unwrap().push(format!("{status}: {text}"));
                        break;
                    }
                    let body: Value = serde_json::from_str(&text).expect("JSON");
                    created.lock().unwrap().push((
                        body["client_id"].as_str().unwrap().to_owned(),
                        body["client_secret"].as_str().unwrap().to_owned(),
                    ));
                }
            })
        })
        .collect();
    let start = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let n = created.lock().unwrap().len();
        if n >= 30 || (n >= 3 && start.elapsed() >= Duration::from_secs(1)) {
            break;
        }
        assert!(
            failures.lock().unwrap().is_empty(),
            "creating clients failed: {:?}\nA's log:\n{}",
            failures.lock().unwrap(),
            f.ra.log()
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "only {n} clients created in 30 s"
        );
    }
    f.ra.child.kill().expect("kill -9 A");
    f.ra.child.wait().expect("reap A");
    for w in writers {
        tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .expect("writer stops once A is gone")
            .expect("writer task");
    }
    assert!(
        failures.lock().unwrap().is_empty(),
        "creating clients failed: {:?}\nA's log:\n{}",
        failures.lock().unwrap(),
        f.ra.log()
    );
    let created = created.lock().unwrap().clone();
    eprintln!(
        "replicas: {} clients acknowledged by A before kill -9",
        created.len()
    );

    // Everything A acknowledged is there, through B.
    let bearer = access_token(&f.rb, &f.admin).await;
    for (id, _) in &created {
        let (status, body) =
            admin_call(&f.rb, &bearer, Method::GET, &format!("/clients/{id}"), None).await;
        assert_eq!(
            status, 200,
            "client {id} acknowledged by A is missing on B: {body}"
        );
        assert_eq!(body["client_id"], id.as_str());
        assert_eq!(body["scopes"], json!(["orders:read"]), "{body}");
    }
    let (status, page) = admin_call(&f.rb, &bearer, Method::GET, "/clients?limit=1000", None).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page["total"].as_u64().unwrap() >= created.len() as u64 + 3,
        "{}",
        page["total"]
    );
    // B keeps serving tokens, for old clients and for those created through A.
    for _ in 0..3 {
        let (status, body) = token_attempt(&f.rb, &f.worker).await;
        assert_eq!(status, 200, "worker on B: {body}");
    }
    for creds in [created.first().unwrap(), created.last().unwrap()] {
        let (status, body) = token_attempt(&f.rb, creds).await;
        assert_eq!(status, 200, "created client {} on B: {body}", creds.0);
        assert_eq!(body["scope"], "orders:read", "{body}");
    }
    // The database A was writing to is still usable by a restarted A.
    let ra = f.a.serve();
    let (status, body) = token_attempt(&ra, created.last().unwrap()).await;
    assert_eq!(status, 200, "restarted A: {body}");
    drop(ra);
}
