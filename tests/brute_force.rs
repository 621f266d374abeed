//! Brute-force bounds over real HTTP: lockouts per client id and per source address, 429 with
//! Retry-After before any argon2 work, one audit event per lockout, recovery, and clients and
//! sources that did nothing wrong left alone.

mod common;

use std::time::{Duration, Instant};

use common::{Server, Tessera, http};
use serde_json::Value;

const ORDERS: &str = "https://api.example.com/orders";

/// Three failures per client id and five per source, over a 30 s window (one failure back
/// every 10 s, or 6 s: long enough that no step of a test outlives a lockout on a slow
/// machine); requests carry their source in X-Forwarded-For from a trusted 127.0.0.1.
fn installation() -> Tessera {
    let mut t = Tessera::new();
    t.set("TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT", "3")
        .set("TESSERA__LIMITS__FAILED_AUTH_PER_SOURCE", "5")
        .set("TESSERA__LIMITS__FAILED_AUTH_WINDOW_SECONDS", "30")
        .set("TESSERA__SERVER__TRUSTED_PROXIES", "127.0.0.1/32");
    t.create_api("orders", ORDERS, "read");
    t
}

async fn attempt(s: &Server, id: &str, secret: &str, source: &str) -> (u16, Option<u64>, Value) {
    let resp = http()
        .post(s.url("/oauth2/token"))
        .basic_auth(id, Some(secret))
        .header("X-Forwarded-For", source)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry, resp.json().await.unwrap())
}

async fn audit_types(s: &Server, admin: &(String, String)) -> Vec<String> {
    let bearer = s.token(&admin.0, &admin.1, &[]).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let page: Value = http()
        .get(s.url("/admin/v1/audit-events?limit=1000"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_client_id_under_attack_gets_429_but_its_verified_secret_keeps_working() {
    let t = installation();
    let (id, secret) = t.create_client("victim", "orders:read");
    let admin = t.create_client("admin", "admin:read admin:write");
    let (other, other_secret) = t.create_client("bystander", "orders:read");
    let s = t.serve();
    // The real integration has verified its secret once (now cached).
    assert_eq!(attempt(&s, &id, &secret, "10.0.0.1").await.0, 200);
    // An attacker, from several addresses, guesses: three failures, then 429 at once.
    for (i, source) in ["10.0.1.1", "10.0.1.2", "10.0.1.3"].iter().enumerate() {
        let (status, _, body) = attempt(&s, &id, &format!("tsk_guess{i}"), source).await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, _, _) = attempt(&s, &id, "tsk_guess3", "10.0.1.4").await;
    assert_eq!(
        status, 401,
        "the failure that trips the limit is still answered"
    );
    for guess in ["tsk_guess4", "tsk_guess5"] {
        let (status, retry, body) = attempt(&s, &id, guess, "10.0.1.5").await;
        assert_eq!(status, 429, "{body}");
        assert!(retry.is_some_and(|r| (1..=10).contains(&r)), "{retry:?}");
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    // The secret it already verified keeps working, and other clients are unaffected.
    assert_eq!(attempt(&s, &id, &secret, "10.0.0.1").await.0, 200);
    assert_eq!(attempt(&s, &other, &other_secret, "10.0.1.5").await.0, 200);
    // A secret never verified is refused while locked. (Adding it changes the client, which
    // drops its cached verifications too: then the first secret waits like any other.)
    let added = t.cli_json(&["clients", "secrets", "add", &id]);
    let second = added["client_secret"].as_str().unwrap().to_owned();
    let (status, _, _) = attempt(&s, &id, &second, "10.0.0.1").await;
    assert_eq!(status, 429);
    // Once the bucket refills, the second secret works.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, retry, _) = attempt(&s, &id, &second, "10.0.0.1").await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_secs(retry.unwrap_or(1))).await;
    }
    // One audit event for the lockout, not one per refused request.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let types = audit_types(&s, &admin).await;
        let n = types.iter().filter(|t| *t == "client.locked_out").count();
        if n == 1 {
            break;
        }
        assert!(n == 0 && Instant::now() < deadline, "{types:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_source_that_keeps_failing_is_refused_even_a_correct_secret() {
    let t = installation();
    let admin = t.create_client("admin", "admin:read admin:write");
    let (good, good_secret) = t.create_client("good", "orders:read");
    let s = t.serve();
    let attacker = "203.0.113.9";
    // The attacker's own valid credential, verified before it starts guessing.
    assert_eq!(attempt(&s, &good, &good_secret, attacker).await.0, 200);
    // Five failures over five different (unknown) client ids: the per-id limit never trips.
    for i in 0..5 {
        let (status, _, _) = attempt(&s, &format!("nobody{i}"), "tsk_x", attacker).await;
        assert_eq!(status, 401);
    }
    let (status, _, _) = attempt(&s, "nobody5", "tsk_x", attacker).await;
    assert_eq!(status, 401, "the failure that trips the limit");
    // Now everything from that address is 429, even a correct, cached secret.
    let (status, retry, body) = attempt(&s, &good, &good_secret, attacker).await;
    assert_eq!(status, 429, "{body}");
    assert!(retry.is_some());
    // Other addresses are unaffected.
    assert_eq!(
        attempt(&s, &good, &good_secret, "198.51.100.7").await.0,
        200
    );
    let types = audit_types(&s, &admin).await;
    assert!(types.iter().any(|t| t == "source.locked_out"), "{types:?}");
    // After the window the address may authenticate again.
    let deadline = Instant::now() + Duration::from_secs(20);
    while attempt(&s, &good, &good_secret, attacker).await.0 != 200 {
        assert!(Instant::now() < deadline, "source never recovered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
