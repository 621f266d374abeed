//! A flood of wrong secrets saturates argon2id: the bounded queue answers `503` at once, and a
//! client whose secret was already verified keeps getting tokens throughout.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Tessera;
use serde_json::Value;

const ORDERS: &str = "https://api.example.com/orders";
/// How long the flood lasts.
const FLOOD_FOR: Duration = Duration::from_secs(3);

/// What the flood got back.
#[derive(Default)]
struct Tally {
    /// Status → count.
    statuses: BTreeMap<u16, u64>,
    /// Responses that broke a rule (a 503 without `Retry-After`, a 401 without
    /// `invalid_client`, …).
    wrong: Vec<String>,
    /// Requests that got no response.
    errors: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.wrong.extend(other.wrong);
        self.errors.extend(other.errors);
    }

    fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// Wrong secrets, each one new (verifications of the same pair would be shared), for `ids` in
/// turn, until `stop`.
async fn flood(
    http: reqwest::Client,
    url: String,
    ids: Arc<Vec<String>>,
    task: usize,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let id = &ids[(task + i) % ids.len()];
        let secret = format!("wrong-secret-{task}-{i}");
        i += 1;
        let sent = http
            .post(&url)
            .basic_auth(id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                tally.errors.push(e.to_string());
                continue;
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let body: Value = match resp.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(e) => {
                tally.errors.push(format!("body of a {status}: {e}"));
                continue;
            }
        };
        *tally.statuses.entry(status).or_default() += 1;
        let fine = match status {
            401 => body["error"] == "invalid_client",
            503 => retry_after && body["error"] == "temporarily_unavailable",
            _ => false,
        };
        if !fine && tally.wrong.len() < 20 {
            tally
                .wrong
                .push(format!("{status} (Retry-After: {retry_after}): {body}"));
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_wrong_secrets_does_not_stop_verified_clients() {
    let mut t = Tessera::new();
    t.set("TESSERA__LIMITS__FAILED_AUTH_PER_CLIENT", "0")
        .set("TESSERA__LIMITS__FAILED_AUTH_PER_SOURCE", "0");
    t.create_api("orders", ORDERS, "read");
    let (good_id, good_secret) = t.create_client("good", "orders:read");
    // Targets: clients that exist (their real hashes) and ids that do not (the decoy hash).
    let mut targets: Vec<String> = (0..3)
        .map(|i| t.create_client(&format!("victim-{i}"), "orders:read").0)
        .collect();
    targets.extend((0..3).map(|i| format!("no-such-client-{i}")));
    let targets = Arc::new(targets);
    let s = t.serve();
    // One argon2id verification: from now on the good secret is recognised without it.
    s.token(&good_id, &good_secret, &[]).await;

    // The server queues 64 verifications a core; more concurrent wrong secrets than that (and
    // its workers) must overflow it.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let concurrency = (96 * cores).max(300);
    let stop = Arc::new(AtomicBool::new(false));
    let flood_http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let flooders: Vec<_> = (0..concurrency)
        .map(|task| {
            tokio::spawn(flood(
                flood_http.clone(),
                s.url("/oauth2/token"),
                targets.clone(),
                task,
                stop.clone(),
            ))
        })
        .collect();

    // Meanwhile the good client asks for tokens one after another, on its own connection.
    let good = {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let url = s.url("/oauth2/token");
        let stop = stop.clone();
        let (id, secret) = (good_id.clone(), good_secret.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let sent = http
                    .post(&url)
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                match sent {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        latencies.push(started.elapsed());
                        if status != 200 || !body["access_token"].is_string() {
                            failures.push(format!("{status}: {body}"));
                        }
                    }
                    Err(e) => failures.push(format!("no response: {e}")),
                }
            }
            (latencies, failures)
        })
    };

    tokio::time::sleep(FLOOD_FOR).await;
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    for f in flooders {
        tally.merge(f.await.expect("flood task"));
    }
    let (mut latencies, good_failures) = good.await.expect("good client task");

    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    eprintln!(
        "flood of {concurrency} concurrent wrong secrets for {FLOOD_FOR:?}: statuses {:?} \
         (401: {}, 503: {}), {} without a response; good client: {} requests, {} failed, \
         latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        tally.statuses,
        tally.count(401),
        tally.count(503),
        tally.errors.len(),
        latencies.len(),
        good_failures.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );

    // The server's own view (access log `%D`) of the 200s, i.e. the good client's requests:
    // time spent inside the server, as opposed to waiting for a CPU or in socket buffers.
    let log = s.log();
    let mut served: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("\"POST /oauth2/token HTTP/1.1\" 200 "))
        .filter_map(|l| l.split("ms id=").next()?.rsplit(' ').next()?.parse().ok())
        .collect();
    served.sort_by(f64::total_cmp);
    let served_pct = |p: f64| {
        served
            .get(((served.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    eprintln!(
        "good client inside the server: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        served.len(),
        served_pct(0.50),
        served_pct(0.99),
        served_pct(1.0),
    );

    assert!(
        good_failures.is_empty(),
        "the verified client was refused during the flood ({} of {}): {:?}",
        good_failures.len(),
        latencies.len(),
        &good_failures[..good_failures.len().min(10)]
    );
    assert!(
        !latencies.is_empty(),
        "the verified client got no answer during the flood"
    );
    assert!(
        tally.count(503) > 0,
        "{concurrency} concurrent wrong secrets never filled the argon2id queue: {:?}",
        tally.statuses
    );
    assert!(
        tally.wrong.is_empty(),
        "the flood got answers other than 401 invalid_client and 503 temporarily_unavailable \
         with Retry-After: {:?}; log tail:\n{}",
        tally.wrong,
        tail(&log)
    );
    assert!(
        tally.errors.is_empty(),
        "{} flood requests got no response (first: {:?}); log tail:\n{}",
        tally.errors.len(),
        tally.errors.first(),
        tail(&log)
    );

    let health = common::http()
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("GET /healthz after the flood");
    assert_eq!(health.status(), 200, "/healthz after the flood");
    // And the good client still gets tokens.
    s.token(&good_id, &good_secret, &[]).await;
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
